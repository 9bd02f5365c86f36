"""Fast, exact conversion of Twilio's timestamps to ISO-8601 UTC strings."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime

UTC = dt.timezone.utc
_MONTHS = {
    m: f"{i:02d}"
    for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
DAY_CACHE: dict[str, str] = {}
DAY_CACHE_MAX = 50_000
_RFC2822_LEN = len("Fri, 18 Oct 2019 17:00:00 +0000")


def format_iso(value: dt.datetime) -> str:
    """The one ISO format the tap emits and stores in bookmarks, so string order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def parse_iso(value: str) -> dt.datetime:
    """Parse an ISO-8601 date or date-time; naive values are UTC."""
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso_day(day: str) -> str:
    """'18 Oct 2019' -> '2019-10-18', validated, cached: a page holds few distinct days."""
    iso = DAY_CACHE.get(day)
    if iso is None:
        iso = f"{day[7:11]}-{_MONTHS[day[3:6]]}-{day[0:2]}"
        dt.date.fromisoformat(iso)  # rejects 31 Feb and other impossible days
        if len(DAY_CACHE) >= DAY_CACHE_MAX:
            DAY_CACHE.clear()
        DAY_CACHE[day] = iso
    return iso


def to_iso(value: str | None) -> str | None:
    """Twilio RFC-2822 ('Fri, 18 Oct 2019 17:00:00 +0000') or ISO ('2019-10-18T17:00:00Z') -> ISO UTC.

    The fast path slices the fixed-width UTC form Twilio sends; anything else goes through
    `email.utils` / `datetime.fromisoformat`, so other offsets and odd spacing are still exact.
    """
    if not value:
        return None
    if (
        len(value) == _RFC2822_LEN
        and value[3] == ","
        and value[19] == ":"
        and value[22] == ":"
        and value.endswith(" +0000")
    ):
        try:
            return f"{_iso_day(value[5:16])}T{value[17:25]}+00:00"
        except (KeyError, ValueError):
            pass
    if len(value) > 3 and value[3] == ",":
        try:
            return format_iso(parsedate_to_datetime(value))
        except (TypeError, ValueError) as exc:
            msg = f"not an RFC-2822 date: {value!r}"
            raise ValueError(msg) from exc
    return format_iso(parse_iso(value))
