"""Typed records: a page whose records hold only the schema's fields decodes into one msgspec Struct per record.

A Struct of a stream's fields costs less than a dict of them at every step a record goes through: decoding,
typing, the window filter, encoding, and above all freeing it and the memory traffic of a page's records (no hash
table per record). `benchmarks/records.py` times both on a page of 1,000 messages. The engine's code off the hot path
reads a typed record like a dict (`get`, `[]`, `in`, `keys`); the hot path reads its fields by attribute.

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


class TypedRecord(msgspec.Struct, gc=False):
    """The base of a stream's record Struct: a record's fields by their JSON names, as a dict reads them.

    A field Twilio did not send is UNSET: absent from the RECORD message, as a missing key would be."""

    fields: ClassVar[dict[str, str]] = {}  # JSON name -> attribute

    def get(self, key: str, default: Any = None) -> Any:
        attr = self.fields.get(key)
        value = UNSET if attr is None else getattr(self, attr)
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
        return [key for key in self.fields if key in self]

    def items(self) -> list[tuple[str, Any]]:
        return [(key, self[key]) for key in self.keys()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    @classmethod
    def getter(cls, key: str) -> Callable[[Any], Any]:
        """A C-level reader of one field (KeyError if the schema has no such field); UNSET where it is absent."""
        return operator.attrgetter(cls.fields[key])


_TAKEN = frozenset(dir(TypedRecord))


def attribute(name: str, index: int) -> str:
    """The attribute of a JSON field: its own name where Python allows it, else a made-up one ("from" is a
    keyword, "keys" a method)."""
    usable = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") and name not in _TAKEN
    return name if usable else f"f_{index}"


class RecordDecoder:
    """A stream's page decoder into typed records: its list key holds Structs of exactly the schema's fields."""

    def __init__(self, stream: str, list_key: str, names: list[str]) -> None:
        fields = {name: attribute(name, i) for i, name in enumerate(names)}
        if len(set(fields.values())) != len(fields):
            msg = f"{stream}: two fields share an attribute"
            raise ValueError(msg)
        self.record_type: type[TypedRecord] = msgspec.defstruct(  # type: ignore[assignment]  # bases=(TypedRecord,)
            f"{stream}_record",
            [(attr, Any, UNSET) for attr in fields.values()],
            bases=(TypedRecord,),
            rename={attr: name for name, attr in fields.items()},
            forbid_unknown_fields=True,
            gc=False,
            namespace={"fields": fields},
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


def typed_getter(records: list[Any], key: str) -> Callable[[Any], Any] | None:
    """A reader of field `key` when `records` are typed and the schema has it; else None (dicts: index them)."""
    first = records[0] if records else None
    if isinstance(first, TypedRecord) and key in first.fields:
        return first.getter(key)
    return None
