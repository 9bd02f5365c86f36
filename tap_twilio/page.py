"""One response page of a Twilio list: its next link read at once, its records decoded where they are used."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from tap_twilio.typed import RecordDecoder


class _Links(msgspec.Struct):
    """What a worker reads of a page to ask for the next one; msgspec checks the whole page is a JSON object but
    builds nothing of its records."""

    next_page_uri: Any = None  # v2010 (relative)
    meta: Any = None  # product APIs: meta.next_page_url (absolute)

    def next(self) -> str | None:
        return _link(self.meta.get("next_page_url") if isinstance(self.meta, dict) else self.next_page_uri)


def _link(value: Any) -> str | None:
    """A next link as the envelope gave it: none where it is null or empty."""
    return str(value) if value else None


LINKS = msgspec.json.Decoder(_Links)
_ENVELOPE_KEYS = (b'"next_page_uri"', b'"meta"')  # where a page's next link is (v2010, product APIs)


class _Head(msgspec.Struct):
    """The v2010 envelope's members before the list, where the next link is one of them."""

    next_page_uri: Any  # required: a head without it says nothing about the link


HEAD = msgspec.json.Decoder(_Head)


def next_link(content: bytes) -> str | None:
    """A page's next link, read from the envelope without skimming the list where the envelope allows.

    Twilio's OpenAPI schemas put a v2010 page's envelope ("next_page_uri" among its scalars) before the list and a
    product page's "meta" after it; the sandbox sorts its keys, which puts both after the list. Both are read from the
    envelope alone, and any other page is skimmed whole as before:
    - before the list: the members up to the page's first "[" and its last comma there, closed with "}", decode as
      an object with "next_page_uri" only if they are the page's own first members (no "{" before that "[", no cut
      inside a string);
    - after the list: the last `"next_page_uri"` (or `"meta"`) is the envelope's key exactly when what follows it,
      as the rest of one JSON object, decodes (inside a record it is followed by closing brackets, inside a string its
      quotes are escaped).
    A body that is not a JSON object is skimmed and rejected (msgspec.DecodeError) as before: a cut body has lost its
    end, and an error page does not start with "{". Reading the envelope costs microseconds, the skim 0.37 ms for
    1,000 messages.
    """
    if content[:1] == b"{":
        opening = content.find(b"[")
        cut = content.rfind(b",", 0, opening) if opening > 0 else -1
        if cut > 0 and content.find(_ENVELOPE_KEYS[0], 0, cut) > 0 and content.find(b"{", 1, opening) < 0:
            try:
                head = HEAD.decode(content[:cut] + b"}")
            except msgspec.DecodeError:
                pass
            else:
                return _link(head.next_page_uri)
        for key in _ENVELOPE_KEYS:
            at = content.rfind(key)
            if at > 0:
                try:
                    return LINKS.decode(b"{" + content[at:]).next()
                except msgspec.DecodeError:
                    break
    return LINKS.decode(content).next()


@functools.cache
def _field_decoder(list_key: str, names: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """Reads a page's next link and these fields of its records, and nothing else."""
    record = msgspec.defstruct("Record", [(name, Any, None) for name in names])
    fields = msgspec.defstruct("Fields", [(list_key, list[record], [])], bases=(_Links,))  # type: ignore[valid-type]
    return msgspec.json.Decoder(fields)


def _outline(content: bytes, list_key: str, name: str) -> tuple[Any, dict[tuple[str, str], list[Any]]]:
    """A page's next link (in the outline) and one field and the sids of its records, in one pass."""
    names = tuple(dict.fromkeys((name, "sid")))
    outline = _field_decoder(list_key, names).decode(content)
    records = getattr(outline, list_key)
    return outline, {(list_key, n): [getattr(r, n) for r in records] for n in names}


def read_page(url: str, content: bytes, fields: tuple[str, str] | None = None) -> Page:
    """A page from its content (msgspec.DecodeError if it is not a JSON object): its next link and, with `fields`
    (a list key, a field name), that field and the sids of its records, read in the same pass: a worker that will
    ask for them (a dense window's split, the end of a split list) skims the page once, not twice."""
    if fields is not None:
        try:
            outline, found = _outline(content, *fields)
        except msgspec.ValidationError:  # a list of something else: values() reads it as dicts
            pass
        else:
            page = Page(url, content=content, next_link=outline.next())
            page._fields.update(found)
            return page
    return Page(url, content=content, next_link=next_link(content))


decode = msgspec.json.Decoder().decode


class Page:
    """One response page: its next link at once, its records decoded where they are first used.

    The worker that fetches a page needs only its next link (next_link reads it from the envelope, or msgspec skims
    the page without building the records). The records are built by the thread that types and writes them, unless
    the worker needs them first (to start child lists), and a page waiting in the pipeline holds its bytes, not its
    objects: peak RSS of benchmark scenario 1 went from 89 to 67 MB.
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
            return [r.get(name) for r in self._body.get(list_key) or [] if isinstance(r, dict)]
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
