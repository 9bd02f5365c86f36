"""Record conversion: one generated function per stream types a record in place (dates, exact numbers, no secrets).

A page of typed records (typed.py) is converted by `_speedups.convert_page`, the same conversion in C, where the
module was compiled (hatch_build.py, at install): the generated Python spends most of a page's conversion in the
interpreter, slicing and joining strings (benchmarks/records.py times both). Without the module, or with
TAP_TWILIO_SPEEDUPS=0, the generated Python does it; tests/test_speedups.py holds the two to the same records.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any

import msgspec

from tap_twilio.dates import DAY_CACHE, to_iso

_MISSING = object()


def _compiled() -> ModuleType | None:
    """The C converter, unless it was not compiled or TAP_TWILIO_SPEEDUPS=0 turns it off."""
    if os.environ.get("TAP_TWILIO_SPEEDUPS") == "0":
        return None
    try:
        from tap_twilio import _speedups  # noqa: PLC0415  # optional: compiled where a C compiler was found
    except ImportError:
        return None
    return _speedups


speedups = _compiled()


def converter(
    stream: str,
    dates: tuple[str, ...],
    numbers: tuple[str, ...],
    secrets: tuple[str, ...],
    *,
    parsed: dict[str, int | Decimal | None],
    parse_number: Callable[[str, str], int | Decimal | None],
    attributes: dict[str, str] | None = None,
    page: bool = False,
    compiled: bool = True,
) -> Callable[[Any], Any]:
    """A stream's record conversion as one function with its fields written out: no loops over field names per
    record (about a fifth less time than the loops, measured on pages of 1,000 messages). With `page`, the function
    converts a list of records in one loop (no call per record) and returns None.

    Dates in Twilio's fixed form "Fri, 18 Oct 2019 17:00:00 +0000" are sliced, with a per-day cache; any other
    form goes through to_iso. A number's text is parsed once (`parse_number` keeps it in `parsed`).
    `attributes` (a typed record's fields, see typed.py): the same conversion by attribute, a field absent UNSET.
    A page of typed records goes to the C converter where there is one, unless `compiled` is False.
    """

    def read(name: str) -> str:
        if attributes is None:
            return f"record.get({name!r})"
        return f"record.{attributes[name]}"

    def write(name: str) -> str:
        return f"record[{name!r}]" if attributes is None else f"record.{attributes[name]}"

    if attributes is not None:  # a typed record holds the schema's fields only (others fail its decode)
        dates, numbers, secrets = (tuple(n for n in names if n in attributes) for names in (dates, numbers, secrets))
        if page and compiled and speedups is not None:
            at = {name: sys.intern(attr) for name, attr in attributes.items()}  # an interned name skips a lookup
            convert_page: Callable[[Any], Any] = functools.partial(
                speedups.convert_page,
                tuple(at[n] for n in dates),
                tuple((at[n], n) for n in numbers),
                tuple(at[n] for n in secrets),
                parsed,
                parse_number,
                to_iso,
                msgspec.UNSET,
            )
            return convert_page
    lines = ["def convert(record):"]
    for name in dates:
        lines += [
            f"    value = {read(name)}",
            "    if value:",
            "        day = days.get(value[5:16]) if value[25:] == ' +0000' else None",  # so len(value) == 31
            f"        {write(name)} = (",
            "            f'{day}T{value[17:25]}+00:00' if day and value[19] == value[22] == ':' else to_iso(value)",
            "        )",
        ]
    for name in numbers:
        lines += [
            f"    value = {read(name)}",
            "    if value.__class__ is str:",
            "        number = cache.get(value, missing)",
            f"        {write(name)} = parse({name!r}, value) if number is missing else number",
        ]
    for name in secrets:
        lines.append(f"    record.pop({name!r}, None)" if attributes is None else f"    {write(name)} = unset")
    if page:  # the same body, once per record of the list
        body = lines[1:] or ["    pass"]
        lines = ["def convert(records):", "    for record in records:", *("    " + line for line in body)]
    else:
        lines.append("    return record")
    namespace: dict[str, Any] = {
        "days": DAY_CACHE,
        "to_iso": to_iso,
        "cache": parsed,
        "parse": parse_number,
        "missing": _MISSING,
        "unset": msgspec.UNSET,
    }
    kind = ("converter" if attributes is None else "typed converter") + (" of pages" if page else "")
    exec(compile("\n".join(lines), f"<{stream} {kind}>", "exec"), namespace)  # noqa: S102  # our own text
    convert: Callable[[Any], Any] = namespace["convert"]
    return convert
