"""Twilio's next-page links: v2010 `next_page_uri` (relative) and Monitor v1 `meta.next_page_url` (absolute)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import ParseResult

from singer_sdk.pagination import BaseHATEOASPaginator

if TYPE_CHECKING:
    from tap_twilio.http import Page


class TwilioPaginator(BaseHATEOASPaginator):
    """Follows the link Twilio gives, never a page URL of our own; stops on a link seen before."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Remember every link, so a cycle of any length is an error, not an endless loop."""
        super().__init__(*args, **kwargs)
        self._seen: set[str] = set()

    def get_next_url(self, response: Page) -> str | None:  # type: ignore[override]
        """The next link of a decoded page, or None on the last page."""
        body = response.body
        meta = body.get("meta")
        url = meta.get("next_page_url") if isinstance(meta, dict) else body.get("next_page_uri")
        if url and url in self._seen:
            msg = f"Twilio repeated a next-page link ({url.split('?')[0]}); stopping instead of looping"
            raise RuntimeError(msg)
        if url:
            self._seen.add(url)
        return url or None

    def get_next(self, response: Page) -> ParseResult | None:  # type: ignore[override]
        """Parsed next link."""
        return super().get_next(response)  # type: ignore[arg-type]
