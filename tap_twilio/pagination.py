"""Following Twilio's next-page links (v2010 `next_page_uri`, relative; product APIs' `meta.next_page_url`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tap_twilio.http import TwilioError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tap_twilio.http import Page, TwilioClient


def records_in(page: Page, key: str, what: str) -> list[dict[str, Any]]:
    """The records of a page under `key` (or the key `meta.key` names); a page without them is an error, not an
    empty list (a wrong key would silently read nothing)."""
    body = page.body
    records = body.get(key)
    if isinstance(records, list):
        return records
    meta = body.get("meta")
    listed = body.get(str(meta.get("key"))) if isinstance(meta, dict) else None
    if isinstance(listed, list):
        return listed
    msg = f"{what}: a page from {page.url.split('?')[0]} has no '{key}' list"
    raise TwilioError(msg)


def follow_pages(
    client: TwilioClient,
    url: str,
    params: dict[str, Any] | None,
    *,
    root: str,
    headers: dict[str, str] | None = None,
    label: str = "",
) -> Iterator[Page]:
    """Every page of one list: the first from `url` + `params`, then each next link verbatim.

    The link carries every filter and the page token, so no page URL of our own is ever built. A relative link
    (v2010) is relative to the product's `root`, which may carry a path prefix. A link seen before is an error,
    not an endless loop.
    """
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    while True:
        page = client.get(url, params, headers, label)
        yield page
        link = page.next_link
        if link is None:
            return
        seen.add(_identity(page.url))
        url, params = (root + link if link.startswith("/") else link), None
        if _identity(url) in seen:
            msg = f"Twilio repeated a next-page link ({link.split('?')[0]}); stopping instead of looping"
            raise TwilioError(msg)


def _identity(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A page's identity: path and decoded query, whatever the encoding ("Page" is only client state)."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted(kv for kv in parse_qsl(parts.query) if kv[0] != "Page"))
