"""One response page of a Twilio list: its next link read at once, its records decoded where they are used."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import msgspec

from tap_twilio.links import LINKS, Links
from tap_twilio.typed import TypedRecord

if TYPE_CHECKING:
    from tap_twilio.typed import RecordDecoder


# a page of typed records against its bytes, in memory (its raw fields keep the bytes alive): 2.26 for 1,000
# messages, measured with tracemalloc
TYPED_WEIGHT = 2.25


@functools.cache
def _field_decoder(list_key: str, names: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """Reads a page's next link and these fields of its records, and nothing else."""
    record = msgspec.defstruct("Record", [(name, Any, None) for name in names])
    fields = msgspec.defstruct("Fields", [(list_key, list[record], [])], bases=(Links,))  # type: ignore[valid-type]
    return msgspec.json.Decoder(fields)


def _outline(content: bytes, list_key: str, name: str) -> tuple[Any, dict[tuple[str, str], list[Any]]]:
    """A page's next link (in the outline) and one field and the sids of its records, in one pass."""
    names = tuple(dict.fromkeys((name, "sid")))
    outline = _field_decoder(list_key, names).decode(content)
    records = getattr(outline, list_key)
    return outline, {(list_key, n): [getattr(r, n) for r in records] for n in names}


def read_page(
    url: str, content: bytes, fields: tuple[str, str] | None = None, decoder: RecordDecoder | None = None
) -> Page:
    """A page from its content (msgspec.DecodeError if it is not a JSON object): its next link and, with `fields`
    (a list key, a field name), that field and the sids of its records, read in the same pass: a worker that will
    ask for them (a dense window's split, the end of a split list) skims the page once, not twice.

    With `decoder`, a page whose records hold exactly the schema's fields is decoded into typed records (typed.py)
    at once, with its link, by the worker that fetched it: one pass over the page instead of a skim for the link
    and a decode by the writer (a fifth of the decode's cost saved). Such a page weighs more while it waits for the
    writer (TYPED_WEIGHT)."""
    if decoder is not None:
        typed = decoder.decode_page(content)
        if typed is not None:
            records, link = typed
            page = Page(url, {decoder.list_key: records}, next_link=link)
            page.nbytes = int(len(content) * TYPED_WEIGHT)
            return page
    if fields is not None:
        try:
            outline, found = _outline(content, *fields)
        except msgspec.ValidationError:  # a list of something else: values() reads it as dicts
            pass
        else:
            page = Page(url, content=content, next_link=outline.next())
            page._fields.update(found)
            return page
    return Page(url, content=content, next_link=LINKS.decode(content).next())


decode = msgspec.json.Decoder().decode


class Page:
    """One response page: its next link at once, its records decoded where they are first used.

    The worker that fetches a page needs only its next link (msgspec reads it without building the records: 0.5 ms
    for 1,000 messages). The records are built by the thread that types and writes them, unless the worker needs
    them first (to start child lists), and a page waiting in the pipeline holds its bytes, not its objects: peak
    RSS of benchmark scenario 1 went from 89 to 67 MB.
    """

    __slots__ = ("_body", "_content", "_fields", "converted", "nbytes", "next_link", "url")

    def __init__(
        self, url: str, body: dict[str, Any] | None = None, *, content: bytes = b"", next_link: str | None = None
    ) -> None:
        """A page from its decoded body, or from content whose outline (a JSON object; its next link) was read."""
        self.url, self.next_link, self._body, self._content = url, next_link, body, content
        self.converted = False  # its records were typed in place already (by the worker that fetched it)
        self._fields: dict[tuple[str, str], list[Any]] = {}  # values() read from the content
        self.nbytes = len(content)  # what the page weighs while it waits for the writer (its bytes)

    def values(self, list_key: str, name: str) -> list[Any]:
        """One field of every record, read from the content without building the records; the sids are read in
        the same pass (a window's first page is asked for its dates, then its sids: one scan of it, not two)."""
        if self._body is not None:
            return [r.get(name) for r in self._body.get(list_key) or [] if isinstance(r, (dict, TypedRecord))]
        if (list_key, name) not in self._fields:
            self._fields.update(_outline(self._content, list_key, name)[1])
        return self._fields[list_key, name]

    def typed(self, decoder: RecordDecoder) -> list[Any] | None:
        """The records as typed Structs (typed.py), if the page is undecoded and they hold the schema's fields only."""
        if self._body is not None or not self._content:
            return None
        records = decoder.decode(self._content)
        if records is not None:
            self._body, self._content = {decoder.list_key: records}, b""
        return records

    def release(self) -> None:
        """The writer is done with the page: drop its records. The worker that fetched it holds the page until its
        next response arrives, so a backfill's 16 lists in flight kept 16 decoded pages alive (85 of a 150 MB peak)."""
        self._body, self._content, self._fields = None, b"", {}

    @property
    def body(self) -> dict[str, Any]:
        """The decoded page (decoded on first use)."""
        if self._body is None:  # the worker's outline read checked that the content is one JSON object
            self._body, self._content = decode(self._content), b""
        return self._body
