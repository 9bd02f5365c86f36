"""Following Twilio's next-page links (v2010 `next_page_uri`, relative; product APIs' `meta.next_page_url`), and
asking for smaller pages where Twilio keeps failing on big ones."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tap_twilio.http import SERVER_ERRORS, RetriesExhaustedError, TwilioError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tap_twilio.http import TwilioClient
    from tap_twilio.page import Page

PAGE_SIZE_FLOOR = 50  # the smallest page asked for after repeated 5xx (Twilio's own default page size)
SERVER_ERRORS_BEFORE_SMALLER_PAGES = 3  # 5xx in a row for one page before it is asked for in a smaller size


class PageSizes:
    """The page size each stream asks for once Twilio failed on bigger pages (Usage Records answer 500/20500 at
    PageSize=1000 where smaller pages of the same query succeed); each stream says so once."""

    def __init__(self, logger: logging.Logger) -> None:
        """No stream has shrunk yet."""
        self._logger = logger
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def current(self, label: str, asked: int) -> int:
        """The size to ask for: the configured one, or less after failures."""
        with self._lock:
            return min(asked, self._sizes.get(label, asked))

    def shrink(self, label: str, size: int, error: RetriesExhaustedError) -> int:
        """A page of `size` kept failing: half of it (not below the floor) from now on for this stream."""
        smaller = max(PAGE_SIZE_FLOOR, size // 2)
        with self._lock:
            first = label not in self._sizes
            self._sizes[label] = min(smaller, self._sizes.get(label, smaller))
        self._logger.log(
            logging.WARNING if first else logging.DEBUG,
            "%s: Twilio kept failing on pages of %d records (HTTP %s); asking for %d per page from now on",
            label or "a list",
            size,
            error.reason,
            smaller,
        )
        return smaller


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


def follow_pages(  # the request's parts, then how to read it
    client: TwilioClient,
    url: str,
    params: dict[str, Any] | None,
    *,
    root: str,
    headers: dict[str, str] | None = None,
    label: str = "",
    sizes: PageSizes | None = None,
    fields: tuple[str, str] | None = None,
    fields_wanted: Callable[[], bool] | None = None,
) -> Iterator[Page]:
    """Every page of one list: the first from `url` + `params`, then each next link verbatim.

    The link carries every filter and the page token, so no page URL of our own is ever built. A relative link
    (v2010) is relative to the product's `root`, which may carry a path prefix. A link seen before is an error,
    not an endless loop. With `sizes`, a page that keeps answering 5xx is asked for again in half the size (its
    token keeps the position, so every record still comes once), and the stream's later lists start smaller.
    `fields`: read with each page's next link (TwilioClient.get), or with those pages only for which
    `fields_wanted()` says so when the next one is asked for.
    """
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    asked = _page_size(url, params)
    if sizes is not None and asked is not None:
        url, params = _resized(url, params, sizes.current(label, asked))
    while True:
        size = _page_size(url, params)
        shrinkable = sizes is not None and size is not None and size > PAGE_SIZE_FLOOR
        try:
            page = client.get(
                url,
                params,
                headers,
                label,
                server_errors=SERVER_ERRORS_BEFORE_SMALLER_PAGES if shrinkable else None,
                fields=fields if fields_wanted is None or fields_wanted() else None,
            )
        except RetriesExhaustedError as exc:
            if not (shrinkable and sizes is not None and size is not None and exc.reason in SERVER_ERRORS):
                raise
            smaller = sizes.shrink(label, size, exc)
            url, params = _resized(url, params, smaller)
            continue
        link, identity = page.next_link, _identity(page.url)
        # handed on without a reference kept here: the reader decodes it, and its records must not live on in
        # this frame while the next page is fetched (with a worker per list, that kept dozens of pages alive)
        handed = [page]
        del page
        yield handed.pop()
        if link is None:
            return
        seen.add(identity)
        url, params = (root + link if link.startswith("/") else link), None
        if _identity(url) in seen:
            msg = f"Twilio repeated a next-page link ({link.split('?')[0]}); stopping instead of looping"
            raise TwilioError(msg)


def _page_size(url: str, params: dict[str, Any] | None) -> int | None:
    """The PageSize a request asks for, if it names one."""
    value = (
        (params or {}).get("PageSize") if params is not None else dict(parse_qsl(urlsplit(url).query)).get("PageSize")
    )
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _resized(url: str, params: dict[str, Any] | None, size: int) -> tuple[str, dict[str, Any] | None]:
    """The same request for a page of `size` records at the same position (the page token keeps it; a page number
    is scaled so that page * size, the offset, stays the same)."""
    old = _page_size(url, params)
    if old is None or size == old:
        return url, params
    if params is not None:
        return url, {**params, "PageSize": size}
    parts = urlsplit(url)
    query = [
        (
            key,
            str(size)
            if key == "PageSize"
            else str(int(value) * old // size)
            if key == "Page" and value.isdigit()
            else value,
        )
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query))), None


def _identity(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A page's identity: path and decoded query, whatever the encoding ("Page" is only client state)."""
    parts = urlsplit(url)
    return parts.path, tuple(sorted(kv for kv in parse_qsl(parts.query) if kv[0] != "Page"))
