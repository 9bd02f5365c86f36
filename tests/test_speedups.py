"""The C converter (tap_twilio/_speedups.c): built where a compiler is, current, and the same as the Python one."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tap_twilio import convert
from tap_twilio.dates import to_iso
from tap_twilio.tap import TapTwilio

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {"account_sid": "AC" + "0" * 32, "auth_token": "x"}
FIXED = "Fri, 18 Oct 2019 17:00:00 +0000"


def compiler() -> str | None:
    """The C compiler this Python names (what hatch_build.py compiles with), where it is installed."""
    cc = sysconfig.get_config_var("CC")
    return shutil.which(shlex.split(cc)[0]) if cc else None


def test_the_c_converter_is_built_wherever_a_compiler_is_and_from_the_current_source() -> None:
    if os.environ.get("TAP_TWILIO_SPEEDUPS") == "0":
        assert convert.speedups is None
        return
    if compiler() is None:
        return  # nothing to build it with: the Python converter runs
    assert convert.speedups is not None, "tap_twilio._speedups was not compiled: run scripts/setup.sh"
    current = hashlib.sha256((ROOT / "tap_twilio" / "_speedups.c").read_bytes()).hexdigest()
    assert convert.speedups.SOURCE_HASH == current, "tap_twilio/_speedups.c changed since it was built: run setup.sh"


def test_tap_twilio_speedups_0_turns_the_c_converter_off() -> None:
    code = "import tap_twilio.convert as c; print(c.speedups is None)"
    env = {**os.environ, "TAP_TWILIO_SPEEDUPS": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


needs_c = pytest.mark.skipif(convert.speedups is None, reason="tap_twilio._speedups is not compiled")


def every_day(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def twilio_form(day: dt.date, clock: str = "17:00:00", zone: str = "+0000") -> str:
    return f"{day.strftime('%a')}, {day.day:02d} {day.strftime('%b')} {day.year:04d} {clock} {zone}"


def mutations(value: str) -> list[str]:
    """`value` with each character replaced by others, one character dropped or added, and case changed."""
    out = [value[:i] + c + value[i + 1 :] for i in range(len(value)) for c in "0 9:,+-xA\u00e9\u0663"]
    out += [value[:i] + value[i + 1 :] for i in range(len(value))] + [value + "0", " " + value, value.lower()]
    return out


@needs_c
def test_the_c_date_reading_is_to_isos_on_every_value_it_accepts_and_accepts_every_real_day() -> None:
    assert convert.speedups is not None
    fixed_date = convert.speedups.fixed_date
    days = [*every_day(dt.date(1999, 12, 25), dt.date(2025, 3, 5)), dt.date(1, 1, 1), dt.date(9999, 12, 31)]
    for year in (1900, 2100):  # not leap years
        days += every_day(dt.date(year, 2, 27), dt.date(year, 3, 1))
    for day, clock in zip(days, itertools.cycle(["00:00:00", "23:59:59", "12:34:56", "99:99:99"]), strict=False):
        value = twilio_form(day, clock)
        assert fixed_date(value) == to_iso(value) == f"{day.isoformat()}T{clock}+00:00", value
    # not the fixed form: None (the converter hands it to to_iso), or exactly what to_iso makes of it
    odd = [s for v in (FIXED, twilio_form(dt.date(2024, 2, 29))) for s in mutations(v)]
    odd += [f"Sat, {d} 2023 17:00:00 +0000" for d in ("29 Feb", "31 Apr", "31 Jun", "31 Sep", "31 Nov", "00 Jan")]
    odd += ["Thu, 29 Feb 1900 17:00:00 +0000", "Mon, 29 Feb 2100 17:00:00 +0000"]
    odd += ["Sat, 32 Jan 2023 17:00:00 +0000", "Sat, 01 Jan 0000 17:00:00 +0000", "Sat, 18 oct 2019 17:00:00 +0000"]
    odd += ["2019-10-18T17:00:00Z", "", FIXED.replace("+0000", "-0000"), FIXED.replace("+0000", "GMT  ")]
    for value in odd:
        iso = fixed_date(value)
        assert iso is None or iso == to_iso(value), value
    # a change of any character but the weekday's letters and the digits leaves the fixed form
    for at in (3, 4, 7, 8, 9, 10, 11, 16, 19, 22, 25, 26, 27, 28, 29, 30):
        for char in "0 9:,+-xA\u00e9":
            if char != FIXED[at]:
                assert fixed_date(FIXED[:at] + char + FIXED[at + 1 :]) is None, (at, char)
    for value in (None, 20191018, b"Fri, 18 Oct 2019 17:00:00 +0000", msgspec.UNSET):
        assert fixed_date(value) is None


def converters(stream_name: str) -> tuple[Any, Callable[[list[Any]], None], Callable[[list[Any]], None]]:
    """A stream's record type and its typed-page converters: C, then Python."""
    stream: Any = TapTwilio(config=CONFIG, parse_env_config=False).streams[stream_name]
    record_type = stream._record_decoder.record_type
    fields = (stream._date_fields, stream._number_fields, stream._drop_fields)
    common: dict[str, Any] = {"parsed": {}, "parse_number": stream._parse_number, "attributes": record_type.fields}
    compiled = convert.converter(stream_name, *fields, page=True, **common)
    python = convert.converter(stream_name, *fields, page=True, compiled=False, **common)
    return record_type, compiled, python


def outcome(convert_page: Callable[[list[Any]], None], record_type: Any, fields: dict[str, Any]) -> Any:
    """The record a converter makes of `fields` (a dict, UNSET where absent), or the type of the error it raises."""
    records = [msgspec.json.decode(msgspec.json.encode(fields), type=record_type)]
    try:
        convert_page(records)
    except Exception as exc:  # the error is the outcome compared
        return type(exc)
    return {name: getattr(records[0], attr) for name, attr in record_type.fields.items()}


DATES = [FIXED, "Fri, 8 Oct 2019 17:00:00 +0200", "Fri, 18 Oct 2019 17.00.00 +0000", "2015-07-30T20:00:00Z", ""]
DATES += [None, "Sat, 31 Feb 2024 00:00:00 +0000", "Sat, 29 Feb 2024 00:00:00 +0000", 20191018, "not a date"]
NUMBERS = ["-0.00790", "0", "12", "n/a", "", None, 30003, "1e3", " 7", "-3", "\u0663", 1.5]


@needs_c
def test_the_c_and_python_converters_make_the_same_records_and_raise_the_same_errors() -> None:
    for stream_name in ("messages", "calls", "accounts", "usage_records", "conference_participants", "alerts"):
        record_type, compiled, python = converters(stream_name)
        stream: Any = TapTwilio(config=CONFIG, parse_env_config=False).streams[stream_name]
        dates = [n for n in record_type.fields if n in stream._date_fields]
        numbers = [n for n in record_type.fields if n in stream._number_fields]
        assert dates or numbers, stream_name
        cases = [{n: d for n in dates} for d in DATES] + [{n: v for n in numbers} for v in NUMBERS]
        cases += [{n: DATES[(i + j) % len(DATES)] for j, n in enumerate(dates)}
                  | {n: NUMBERS[(i + j) % len(NUMBERS)] for j, n in enumerate(numbers)} for i in range(30)]  # fmt: skip
        cases.append({})
        for fields in cases:
            expected = outcome(python, record_type, fields)
            assert outcome(compiled, record_type, fields) == expected, (stream_name, fields)
    record_type, _, _ = converters("messages")
    for compiled in (True, False):  # a secret field (the accounts' auth_token, which the typed schema lacks) is unset
        drop = convert.converter("messages", (), (), ("body",), parsed={}, parse_number=lambda n, v: v,
                                 attributes=record_type.fields, page=True, compiled=compiled)  # fmt: skip
        assert outcome(drop, record_type, {"body": "secret", "sid": "SM1"})["body"] is msgspec.UNSET


@needs_c
def test_the_c_converter_reads_the_number_cache_and_parses_each_new_number_once() -> None:
    record_type, _, _ = converters("messages")
    calls: list[tuple[str, str]] = []

    def parse(name: str, value: str) -> Decimal:
        calls.append((name, value))
        cache[value] = Decimal(value)
        return cache[value]

    cache: dict[str, Any] = {"7": 7}
    page = convert.converter("messages", (), ("price", "num_media"), (), parsed=cache, parse_number=parse,
                             attributes=record_type.fields, page=True)  # fmt: skip
    records = [msgspec.json.decode(b'{"price": "-0.5", "num_media": "7"}', type=record_type) for _ in range(3)]
    page(records)
    assert calls == [("price", "-0.5")]
    assert [(r.price, r.num_media) for r in records] == [(Decimal("-0.5"), 7)] * 3
    assert isinstance(page, functools.partial) and page.func is convert.speedups.convert_page  # type: ignore[union-attr]


class GcRecord(msgspec.Struct):  # a Struct with GC (typed records have none): the C converter uses setattr
    date_created: Any = msgspec.UNSET
    price: Any = msgspec.UNSET
    body: Any = msgspec.UNSET


class PlainRecord:
    def __init__(self, **fields: Any) -> None:
        self.date_created, self.price, self.body = fields["date_created"], fields["price"], fields["body"]


@needs_c
def test_the_c_converter_types_records_of_any_kind_and_mixed_lists_as_the_python_one() -> None:
    record_type, _, _ = converters("messages")
    fields = {"date_created": "date_created", "price": "price", "body": "body"}

    def page_of_every_kind() -> list[Any]:
        values = {"date_created": FIXED, "price": "-0.5", "body": "secret"}
        typed = msgspec.json.decode(msgspec.json.encode(values), type=record_type)
        return [typed, GcRecord(**values), PlainRecord(**values), typed.__copy__(), GcRecord(**values)]

    pages = []
    for compiled in (True, False):
        convert_page = convert.converter("messages", ("date_created",), ("price",), ("body",), parsed={},
                                         parse_number=lambda _name, value: Decimal(value), attributes=fields,
                                         page=True, compiled=compiled)  # fmt: skip
        page = page_of_every_kind()
        convert_page(page)
        pages.append([(r.date_created, r.price, r.body) for r in page])
    assert pages[0] == pages[1] == [("2019-10-18T17:00:00+00:00", Decimal("-0.5"), msgspec.UNSET)] * 5


class Borrowed(msgspec.Struct, gc=False):  # a Struct without GC holding another class's member as `price`
    date_created: Any = msgspec.UNSET
    body: Any = msgspec.UNSET


Borrowed.price = GcRecord.__dict__["price"]  # type: ignore[attr-defined]  # its offset is Borrowed's `body`


@needs_c
def test_a_member_borrowed_from_another_class_is_not_read_at_its_offset() -> None:
    record = Borrowed(FIXED, "secret")
    convert_page = convert.converter("messages", ("date_created",), ("price",), (), parsed={},
                                     parse_number=lambda _name, value: value,
                                     attributes={"date_created": "date_created", "price": "price"},
                                     page=True)  # fmt: skip
    with pytest.raises(TypeError):  # getattr's error: the member belongs to GcRecord
        convert_page([record])
    assert record.body == "secret"
