"""Window planning: date windows, the finished ranges of a partition and its low watermark, and dense-window splits."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from tap_twilio.dates import format_iso, parse_iso

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable

DAY = dt.timedelta(days=1)
SPLIT_TARGET_PAGES = 3  # a split gives each sub-window about this many pages of the first page's density ...
SPLIT_FROM_PAGES = 2 * SPLIT_TARGET_PAGES  # ... when the rest of the window looks like more pages than this


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range [start, end) read as one unit, then checkpointed."""

    start: dt.datetime
    end: dt.datetime

    @property
    def start_iso(self) -> str:
        """Start in the emitted format (string order is time order)."""
        return format_iso(self.start)

    @property
    def end_iso(self) -> str:
        """End in the emitted format."""
        return format_iso(self.end)


@dataclass(frozen=True, slots=True)
class Unit:
    """Lists read together before a checkpoint: one window of one partition (one list per param set)."""

    context: dict[str, Any]
    window: Window | None
    lists: tuple[tuple[Hashable, dict[str, Any]], ...]  # (pipeline key, first-page params)
    last: bool  # the partition's final unit
    bookmark: str | None = None  # a client-filtered list keeps records from here on (fixed when planned)
    strict: bool = False  # ... and only those newer than it (a child's bookmark: equal was emitted already)
    written: int = 0  # leading records an interrupted run wrote with every child list of theirs

    def narrowed(self, window: Window) -> Unit:
        """The same lists, now responsible for a smaller window (the rest was split off)."""
        return replace(self, window=window)


@dataclass(frozen=True, slots=True)
class Split:
    """A worker's finding on a window's first page: keep [cut, end) in this list, read `windows` as new lists."""

    cut: dt.datetime
    windows: tuple[Window, ...]


def midnight(value: dt.datetime) -> dt.datetime:
    """The start of a timestamp's UTC day."""
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def plan(start: dt.datetime, end: dt.datetime, days: int, finished: Iterable[tuple[str, str]] = ()) -> list[Window]:
    """Half-open windows covering [start, end) less the ranges already finished, split at UTC midnights."""
    gaps: list[tuple[dt.datetime, dt.datetime]] = []
    position = start
    for first, last in sorted(finished):
        a, b = parse_iso(first), parse_iso(last)
        if b <= position:
            continue
        if a > position:
            gaps.append((position, min(a, end)))
        position = max(position, b)
        if position >= end:
            break
    if position < end:
        gaps.append((position, end))
    size = dt.timedelta(days=days)
    result: list[Window] = []
    for gap_start, gap_end in gaps:
        cursor, boundary = gap_start, midnight(gap_start)
        while cursor < gap_end:
            boundary += size
            stop = min(boundary, gap_end)
            result.append(Window(cursor, stop))
            cursor = stop
    return result


def watermark(base: str, finished: Iterable[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """How far the finished ranges reach from `base` without a gap, and the finished ranges beyond that."""
    position = base
    beyond: list[tuple[str, str]] = []
    for first, last in sorted(finished):
        if first <= position:
            position = max(position, last)
        else:
            beyond.append((first, last))
    return position, [(a, b) for a, b in beyond if b > position]


def split(window: Window, oldest: dt.datetime, records: int, page_size: int) -> Split | None:
    """Divide a window whose first page (`records` records, newest first, back to `oldest`) has more pages.

    The first page holds every record from its oldest record's day on, but not all of that day: the list keeps
    [cut, end) with cut the next midnight (or, when the page holds one day only, that day's midnight, read on by
    this list), and the older part is cut at midnights into sub-windows of about SPLIT_TARGET_PAGES pages at the
    first page's density. Nothing is split when the rest looks like few pages or less than a day.
    """
    cut = midnight(oldest) + DAY
    if cut >= window.end:
        cut = midnight(oldest)
    if cut <= window.start:
        return None
    span = max((window.end - oldest).total_seconds(), 1.0)
    per_day = records / span * 86_400
    rest_pages = per_day * (cut - window.start).total_seconds() / 86_400 / page_size
    if rest_pages <= SPLIT_FROM_PAGES:
        return None
    days = max(1, int(SPLIT_TARGET_PAGES * page_size / per_day))
    windows = plan(window.start, cut, days)
    return Split(cut, tuple(windows)) if windows else None


def parse_when(value: str | None) -> dt.datetime | None:
    """A record's converted timestamp, or None."""
    return parse_iso(value) if value else None


class Planner(Protocol):
    """What a reading needs of its stream: the lists of a window and a worker's source for each."""

    def window_lists(self, context: dict[str, Any], window: Window) -> tuple[tuple[Hashable, dict[str, Any]], ...]:
        """The (key, params) of the lists that read one window."""

    def _source(self, unit: Unit, params: dict[str, Any]) -> Callable[[], Iterable[Any]]:
        """A worker's iterator of one list's pages."""


class Reading:
    """One partition being read: which unit each list belongs to, which lists are still open, what was seen."""

    def __init__(self, stream: Planner, context: dict[str, Any], units: list[Unit]) -> None:
        """Every planned list of the partition is open."""
        self._stream = stream
        self._context = context
        self._token: dict[Hashable, int] = {}
        self._unit: dict[int, Unit] = {}
        self._open: dict[int, set[Hashable]] = {}
        self._high: dict[int, str] = {}
        self._lists: list[tuple[Hashable, Callable[[], Iterable[Any]]]] = []
        self._seen: dict[Hashable, int] = {}  # records handed over, per list
        self._origin: dict[Hashable, str] = {}
        self.counted = 0
        self.started = time.monotonic()
        for unit in units:
            self._add(unit)

    def _add(self, unit: Unit) -> list[tuple[Hashable, Callable[[], Iterable[Any]]]]:
        token = len(self._unit)
        self._unit[token] = unit
        self._open[token] = set()
        lists = []
        for key, params in unit.lists:
            self._token[key] = token
            if unit.window is not None:
                self._origin[key] = f"{unit.window.start_iso}/{unit.window.end_iso}"
            self._open[token].add(key)
            lists.append((key, self._stream._source(unit, params)))
        self._lists += lists
        return lists

    def lists(self) -> list[tuple[Hashable, Callable[[], Iterable[Any]]]]:
        """Every list planned so far, with its worker's source."""
        return list(self._lists)

    def unit(self, key: Hashable) -> Unit:
        """The unit a list reads now (narrowed after a split)."""
        return self._unit[self._token[key]]

    def advance(self, key: Hashable, records: int) -> int:
        """A page of `records` records of a list is handed over: how many records of the list came before it."""
        first = self._seen.get(key, 0)
        self._seen[key] = first + records
        return first

    def origin(self, key: Hashable) -> str:
        """The window a list was planned for, as "start/end" (it stays its name after a split)."""
        return self._origin.get(key, "")

    def note(self, key: Hashable, newest: str) -> None:
        """The newest replication value a client-filtered list kept (its unit's high-water mark)."""
        token = self._token[key]
        if newest > self._high.get(token, ""):
            self._high[token] = newest

    def ended(self, key: Hashable) -> list[tuple[Unit, str | None]]:
        """A list was read to the end: its unit, when that was its last open list (last=True: the partition's)."""
        token = self._token[key]
        self._open[token].discard(key)
        if self._open[token]:
            return []
        del self._open[token]
        unit = replace(self._unit[token], last=not self._open)
        return [(unit, self._high.pop(token, None))]

    def split(self, key: Hashable, found: Split) -> list[tuple[Hashable, Callable[[], Iterable[Any]]]]:
        """A worker split its window: the list keeps [cut, end); each older sub-window is a new unit and list."""
        token = self._token[key]
        unit = self._unit[token]
        assert unit.window is not None
        self._unit[token] = unit.narrowed(Window(found.cut, unit.window.end))
        lists = []
        for window in found.windows:
            sub = Unit(self._context, window, self._stream.window_lists(self._context, window), last=False)
            lists += self._add(sub)
        return lists

    def pending(self) -> list[Hashable]:
        """Lists not read to the end yet."""
        return [key for keys in self._open.values() for key in keys]
