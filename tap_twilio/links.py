"""A list page's next link, as msgspec reads it: alone (a worker's skim of the page) or with the records."""

from __future__ import annotations

from typing import Any

import msgspec


class Links(msgspec.Struct):
    """What a worker reads of a page to ask for the next one; msgspec checks the whole page is a JSON object but
    builds nothing of its records."""

    next_page_uri: Any = None  # v2010 (relative)
    meta: Any = None  # product APIs: meta.next_page_url (absolute)

    def next(self) -> str | None:
        """The next page's link, or None on the last page."""
        link = self.meta.get("next_page_url") if isinstance(self.meta, dict) else self.next_page_uri
        return str(link) if link else None


LINKS = msgspec.json.Decoder(Links)
