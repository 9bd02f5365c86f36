"""Twilio's next-page links: v2010 `next_page_uri` (relative) and Monitor v1 `meta.next_page_url` (absolute)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import ParseResult, parse_qsl, urljoin, urlsplit

from singer_sdk.pagination import BaseHATEOASPaginator

from tap_twilio.http import TwilioError

if TYPE_CHECKING:
    from tap_twilio.http import Page


class TwilioPaginator(BaseHATEOASPaginator):
    """Follows the link Twilio gives, never a page URL of our own; stops on a link seen before."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Remember every link, so a cycle of any length is an error, not an endless loop."""
        super().__init__(*args, **kwargs)
        self._seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def get_next_url(self, response: Page) -> str | None:  # type: ignore[override]
        """The next link of a decoded page, or None on the last page."""
        body = response.body
        meta = body.get("meta")
        url = meta.get("next_page_url") if isinstance(meta, dict) else body.get("next_page_uri")
        if not url:
            return None
        self._seen.add(_normalized(response.url))
        if _normalized(urljoin(response.url, url)) in self._seen:
            msg = f"Twilio repeated a next-page link ({url.split('?')[0]}); stopping instead of looping"
            raise TwilioError(msg)
        return str(url)

    def get_next(self, response: Page) -> ParseResult | None:  # type: ignore[override]
        """Parsed next link."""
        return super().get_next(response)  # type: ignore[arg-type]


def _normalized(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A page's identity: path and decoded query, whatever the encoding ("Page" is only client state)."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted(kv for kv in parse_qsl(parts.query) if kv[0] != "Page"))
