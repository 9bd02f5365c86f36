"""Typed records: a page whose records hold only the schema's fields decodes into one msgspec Struct per record.

A Struct of a stream's fields costs less than a dict of them at every step a record goes through: decoding,
typing, the window filter, encoding, and above all freeing it and the memory traffic of a page's records (no hash
table per record). `benchmarks/records.py` times both on a page of 1,000 messages. The engine's code off the hot path
reads a typed record like a dict (`get`, `[]`, `in`, `keys`); the hot path reads its fields by attribute.

A field the tap does not read on the hot path (neither converted nor filtered on) stays `msgspec.Raw`: the JSON text
Twilio sent, never built into Python objects, copied into the RECORD message as it is. Read through the dict interface,
it is decoded then (and kept decoded). On a page of 1,000 messages, decoding, encoding and freeing took 2.50 ms with
every field built and 1.84 ms so (measured by hand with the steps of benchmarks/records.py).

A page with a field the schema does not name (Twilio added one) fails the decode and is read as dicts, so new fields
still pass through; so is a page whose list is not where the stream expects it (pagination.records_in says why).
"""

from __future__ import annotations

import keyword
import operator
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import msgspec

UNSET = msgspec.UNSET
Raw = msgspec.Raw
_decode_raw = msgspec.json.Decoder().decode


class TypedRecord(msgspec.Struct, gc=False):
    """The base of a stream's record Struct: a record's fields by their JSON names, as a dict reads them.

    A field Twilio did not send is UNSET: absent from the RECORD message, as a missing key would be."""

    fields: ClassVar[dict[str, str]] = {}  # JSON name -> attribute
    raw: ClassVar[frozenset[str]] = frozenset()  # JSON names kept as msgspec.Raw

    def get(self, key: str, default: Any = None) -> Any:
        attr = self.fields.get(key)
        if attr is None:
            return default
        value = getattr(self, attr)
        if value.__class__ is Raw:  # a field kept as Twilio's JSON text: decoded when first read this way
            value = _decode_raw(value)
            setattr(self, attr, value)
        return default if value is UNSET else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, UNSET)
        if value is UNSET:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, UNSET) is not UNSET

    def __setitem__(self, key: str, value: Any) -> None:
        attr = self.fields.get(key)
        if attr is None:  # the engine sets schema properties only (records_of types no other stream)
            msg = f"{key!r} is not a field of {type(self).__name__}"
            raise KeyError(msg)
        setattr(self, attr, value)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def keys(self) -> list[str]:
        return [key for key, attr in self.fields.items() if getattr(self, attr) is not UNSET]

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self[key]) for key in self.keys()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    @classmethod
    def getter(cls, key: str, *, raw: bool = False) -> Callable[[Any], Any]:
        """A reader of one field (KeyError if the schema has no such field); UNSET where it is absent. C-level for a
        field decoded with the page; a field kept raw is decoded as it is read, unless `raw` (its msgspec.Raw is
        enough to tell a present field from an absent one)."""
        if key in cls.raw and not raw:
            return lambda record: record.get(key, UNSET)
        return operator.attrgetter(cls.fields[key])


_TAKEN = frozenset(dir(TypedRecord))


def attribute(name: str, index: int) -> str:
    """The attribute of a JSON field: its own name where Python allows it, else a made-up one ("from" is a
    keyword, "keys" a method)."""
    usable = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") and name not in _TAKEN
    return name if usable else f"f_{index}"


class RecordDecoder:
    """A stream's page decoder into typed records: its list key holds Structs of exactly the schema's fields; those
    in `decoded` are built into Python values, the others kept as Raw JSON text."""

    def __init__(self, stream: str, list_key: str, names: list[str], decoded: frozenset[str] | None = None) -> None:
        fields = {name: attribute(name, i) for i, name in enumerate(names)}
        if len(set(fields.values())) != len(fields):
            msg = f"{stream}: two fields share an attribute"
            raise ValueError(msg)
        raw = frozenset(fields) - (frozenset(fields) if decoded is None else decoded)
        self.record_type: type[TypedRecord] = msgspec.defstruct(  # type: ignore[assignment]  # bases=(TypedRecord,)
            f"{stream}_record",
            [(attr, Raw if name in raw else Any, UNSET) for name, attr in fields.items()],
            bases=(TypedRecord,),
            rename={attr: name for name, attr in fields.items()},
            forbid_unknown_fields=True,
            gc=False,
            namespace={"fields": fields, "raw": raw},
        )
        page = msgspec.defstruct(f"{stream}_page", [(list_key, list[self.record_type])])  # type: ignore[name-defined]
        self._decoder = msgspec.json.Decoder(page)
        self.list_key = list_key

    def decode(self, content: bytes) -> list[Any] | None:
        """The page's records, or None when they are not exactly the schema's fields (read them as dicts)."""
        try:
            page = self._decoder.decode(content)
        except msgspec.ValidationError:
            return None
        records: list[Any] = getattr(page, self.list_key)
        return records


def typed_getter(records: list[Any], key: str, *, raw: bool = False) -> Callable[[Any], Any] | None:
    """A reader of field `key` when `records` are typed and the schema has it; else None (dicts: index them)."""
    first = records[0] if records else None
    if isinstance(first, TypedRecord) and key in first.fields:
        return first.getter(key, raw=raw)
    return None
