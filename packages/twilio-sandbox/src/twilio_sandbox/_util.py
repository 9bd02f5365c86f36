"""Small, dependency-free helpers: JSON, time formatting, deterministic hashing, SID bijection."""

from __future__ import annotations

import calendar
import datetime as _dt
import email.utils
import hashlib
import re
import time
from typing import Any

try:  # pragma: no cover - depends on the environment (orjson renders pages faster; the tests install it)
    import orjson as _orjson

    def dumps(obj: Any) -> bytes:
        encoded: bytes = _orjson.dumps(obj)  # typed here: without orjson installed, mypy sees Any
        return encoded

    def loads(data: bytes | str) -> Any:
        return _orjson.loads(data)

except ImportError:  # pragma: no cover
    import json as _json

    def dumps(obj: Any) -> bytes:
        return _json.dumps(obj, separators=(",", ":")).encode()

    def loads(data: bytes | str) -> Any:
        return _json.loads(data)


UTC = _dt.timezone.utc
DAY = 86400
MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1

# ---------------------------------------------------------------- time


_WD = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MON = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# built at import: filling these lazily raced between server threads
_TOD: list[str] = [f" {s // 3600:02d}:{(s // 60) % 60:02d}:{s % 60:02d} +0000" for s in range(86400)]
_DAY_PREFIX: dict[int, str] = {}


def rfc2822(ts: int | None) -> str | None:
    """Epoch seconds -> 'Fri, 18 Oct 2019 17:00:00 +0000'."""
    if ts is None:
        return None
    d, sec = divmod(int(ts), 86400)
    p = _DAY_PREFIX.get(d)
    if p is None:
        t = time.gmtime(d * 86400)
        p = f"{_WD[t.tm_wday]}, {t.tm_mday:02d} {_MON[t.tm_mon]} {t.tm_year:04d}"
        if len(_DAY_PREFIX) > 100000:
            _DAY_PREFIX.clear()
        _DAY_PREFIX[d] = p
    return p + _TOD[sec]


def iso_z(ts: int | None) -> str | None:
    """Epoch seconds -> '2015-07-30T20:00:00Z' (Monitor v1 style)."""
    if ts is None:
        return None
    t = time.gmtime(ts)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"


def iso_offset(ts: int) -> str:
    """Epoch seconds -> '2019-06-24T22:32:49+00:00' (usage as_of style)."""
    t = time.gmtime(ts)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}+00:00"


def day_str(day: int) -> str:
    """Day number (epoch seconds // 86400) -> 'YYYY-MM-DD'."""
    t = time.gmtime(day * DAY)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def to_epoch(dt: _dt.datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return calendar.timegm(dt.astimezone(UTC).timetuple())


def from_epoch(ts: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(ts, UTC)


_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$"
)


def parse_day(value: str) -> int | None:
    """'YYYY-MM-DD' or a full ISO timestamp -> day number of its date part; None if invalid."""
    value = value.strip()
    m = _DATE_RE.match(value)
    if not m:
        return None
    if len(value) > 10 and value[10] not in "T ":
        return None
    try:
        d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return (d - _dt.date(1970, 1, 1)).days


def parse_iso_ts(value: str) -> tuple[int, bool] | None:
    """ISO date or datetime -> (epoch seconds, has_time); None if invalid."""
    value = value.strip()
    m = _ISO_RE.match(value)
    if not m:
        return None
    try:
        y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if m.group(4) is None:
            return calendar.timegm(_dt.date(y, mo, d).timetuple()), False
        dt = _dt.datetime(y, mo, d, int(m.group(4)), int(m.group(5)), int(m.group(6) or 0))
    except ValueError:
        return None
    off = 0
    tz = m.group(7)
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        tz = tz[1:].replace(":", "")
        off = sign * (int(tz[:2]) * 3600 + int(tz[2:]) * 60)
    return calendar.timegm(dt.timetuple()) - off, True


def parse_any_ts(value: Any) -> int | None:  # noqa: PLR0911 - one return per accepted type
    """RFC-2822 string, ISO string, 'YYYY-MM-DD', datetime, date or epoch -> epoch seconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("bad timestamp")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, _dt.datetime):
        return to_epoch(value)
    if isinstance(value, _dt.date):
        return calendar.timegm(value.timetuple())
    if isinstance(value, str):
        if not value:
            return None
        r = parse_iso_ts(value)
        if r is not None:
            return r[0]
        try:
            return to_epoch(email.utils.parsedate_to_datetime(value))
        except (TypeError, ValueError):
            return None
    raise TypeError(f"unsupported timestamp {value!r}")


# ---------------------------------------------------------------- hashing


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def h64(*parts: Any) -> int:
    """Stable 64-bit hash of arbitrary printable parts (slow-ish; for set-up, not per record)."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def hexn(*parts: Any, n: int = 32) -> str:
    data = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(data, digest_size=(n + 1) // 2).hexdigest()[:n]


# ---------------------------------------------------------------- SID bijection
# A base record's 128-bit SID body is an invertible scramble of (salt << 64 | index), so a SID seen in a
# PageToken decodes back to its index without any per-record memory.

_M1 = 0x9E3779B97F4A7C15F39CC0605CEDC835 | 1
_M2 = 0xC2B2AE3D27D4EB4F165667B19E3779F9 | 1
_M1_INV = pow(_M1, -1, 1 << 128)
_M2_INV = pow(_M2, -1, 1 << 128)


def _xs(y: int) -> int:
    return y ^ (y >> 64)


def sid_body(salt: int, index: int) -> str:
    x = ((salt & MASK64) << 64) | (index & MASK64)
    y = _xs((x * _M1) & MASK128)
    y = _xs((y * _M2) & MASK128)
    return f"{y:032x}"


def sid_decode(salt: int, body: str) -> int | None:
    """Inverse of sid_body; None if the body was not made with this salt."""
    if len(body) != 32:
        return None
    try:
        y = int(body, 16)
    except ValueError:
        return None
    y = (_xs(y) * _M2_INV) & MASK128
    x = (_xs(y) * _M1_INV) & MASK128
    if (x >> 64) != (salt & MASK64):
        return None
    return x & MASK64
