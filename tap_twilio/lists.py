"""List reading: a partition's units and lists, read ahead by workers, split when dense, written as pages arrive."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_twilio.children import ChildListsStream
from tap_twilio.dates import format_iso, parse_iso, to_iso
from tap_twilio.http import TwilioError
from tap_twilio.pipeline import End
from tap_twilio.stream_base import WHOLE_STREAM, StreamBase
from tap_twilio.versions import VersionedStream
from tap_twilio.windows import DAY, Reading, Split, Unit, Window, split

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator

    from singer_sdk.helpers.types import Context

    from tap_twilio.page import Page


PART_RECORDS = 100  # records written with their children between two notes of how far a window got


def parts(
    records: list[dict[str, Any]], first: int, written: int, tracked: bool
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """A page's records in the parts the writer takes, each with its position in the list (`first`: the page's).

    Untracked, the page is one part. Tracked (a window whose children are wanted), parts hold at most PART_RECORDS
    records, and the `written` records an interrupted run wrote with their children are parts of their own."""
    if not tracked or not records:
        yield first, records
        return
    start = 0
    while start < len(records):
        end = min(len(records), start + PART_RECORDS)
        if first + start < written < first + end:
            end = written - first
        yield first + start, records[start:end]
        start = end


class ListsStream(VersionedStream):
    """How a partition's lists are planned, read ahead, split and handed to the writer."""

    def units(self, context: dict[str, Any]) -> list[Unit]:
        """The lists to read for one partition, computed once per run (the pipeline plans with the same keys)."""
        ctx_key = tuple(sorted(context.items()))
        units = self._units.get(ctx_key)
        if units is None:
            if self.run.done(self.tap_state, self.name, context.get("account_sid", WHOLE_STREAM)):
                units = []  # the interrupted run this one resumes completed it
            elif not self.date_filter:
                lists = self._lists(ctx_key, None, [dict(p) for p in self.param_sets])
                units = [Unit(context, None, lists, True, *self._client_filter(context))]
            else:
                account = context.get("account_sid", WHOLE_STREAM)
                self._base[account] = format_iso(self.start_time(context))
                self._finished[account] = self.run.finished_windows(self.tap_state, self.name, account)
                windows = self.windows(context)
                written = self.run.written_records(self.tap_state, self.name, account)
                units = [
                    Unit(
                        context,
                        w,
                        self.window_lists(context, w),
                        last=i == len(windows) - 1,
                        written=written.get(f"{w.start_iso}/{w.end_iso}", 0),
                    )
                    for i, w in enumerate(windows)
                ]
            self._units[ctx_key] = units
            self._prepare_child_windows(context)
        return units

    def planned_lanes(self) -> Iterator[tuple[Hashable, Callable[[], Iterable[Page | Split]]]]:
        """Every list this stream will read, in the order get_records takes them (for reading ahead)."""
        if self.parent_stream_type is not None or not (self.selected or self.has_selected_descendents):
            return
        for context in self.partitions or [{}]:
            for unit in self.units(context):
                for key, params in unit.lists:
                    yield key, self._source(unit, params)

    def _source(self, unit: Unit, params: dict[str, Any]) -> Callable[[], Iterable[Page | Split]]:
        return lambda: self._read_ahead(unit, params)

    def _read_ahead(self, unit: Unit, params: dict[str, Any]) -> Iterator[Page | Split]:
        """Worker side of one list: each page's records are typed, and their child lists started, as soon as the
        page arrives, not when the writer gets to it (a parent's children then cost no round trip of their own)."""
        cut: str | None = None
        first = 0  # records of the list before this page
        key = self._lists(tuple(sorted(unit.context.items())), unit.window, [params])[0][0]
        index = -1
        # no enumerate(), and no name for a page once handed on: the writer decodes it, and a reference here (this
        # frame waits at `yield` until its lane has room) kept dozens of decoded pages alive in a big partition
        splits = self._splits(unit)

        # a page's dates are read with its next link where they will be asked for: to split at the first page, and
        # after a split to see whether the list passed the cut (49 of the 139 pages of 100,000 messages)
        def dated() -> bool:
            return index < 0 or cut is not None

        for page in self.iter_pages(unit.context, params, dated=dated if splits else None):
            index += 1
            if index == 0 and page.next_link and splits:
                found = self._split(unit, page)
                if found is not None:
                    yield found  # the writer starts the older sub-windows' lists at once
                    assert unit.window is not None
                    unit = unit.narrowed(Window(found.cut, unit.window.end))
                    cut = format_iso(found.cut)
            if self._children_wanted:
                # the page's child lists are queued as it arrives, in its place in the writer's order (a list read
                # ahead comes after those the writer takes now): run.prefetch starts them as room allows, so a kill
                # loses few; records an interrupted run wrote with their children need none again
                records = self.records_of(page)
                self.convert_records(records)
                page.converted = True
                fresh = records[max(0, unit.written - first) :]
                first += len(records)
                unchanged: list[dict[str, Any]] | None = [] if self._unchanged_have_children else None
                # the base filter only: a subclass's _keep may keep per-run notes, which the writer's call makes
                kept = StreamBase._keep(self, fresh, unit, unit.context, set(), unchanged, converted=True)
                order = (self.run.pipeline.order(key), index)
                self._prefetch_children(kept + unchanged if unchanged else kept, unit.context, order)
                del records, fresh, kept, unchanged  # the page's records: kept alive by the page only
            passed = cut is not None and self._passed(page, cut)  # read before the writer has the page (and drops it)
            handed = [page]
            del page
            yield handed.pop()
            if passed:
                return  # newest first: every record of [cut, end) was on the pages read so far

    def _splits(self, unit: Unit) -> bool:
        """Whether a window of this stream may be split: day filters over a list sorted newest first."""
        window = unit.window
        return (
            self.newest_first
            and window is not None
            and len(unit.lists) == 1
            and self.filter_granularity == "day"
            and window.end - window.start > DAY
        )

    def _oldest(self, page: Page) -> dt.datetime | None:
        """The filter date of a page's last record (its oldest: the list is sorted newest first), read without
        building the page's records (a page waiting for the writer keeps its bytes, not its objects)."""
        for value in reversed(page.values(self.list_key or self.name, self.filter_field or "")):
            if value:
                iso = value if page.converted else to_iso(value)
                return parse_iso(iso) if iso else None
        return None

    def _split(self, unit: Unit, page: Page) -> Split | None:
        """A dense window's first page decides how to split the rest (see windows.split)."""
        oldest = self._oldest(page)
        if oldest is None or unit.window is None:
            return None
        size = min(self.run.settings.page_size, self.page_size_max)
        return split(unit.window, oldest, len(page.values(self.list_key or self.name, "sid")), size)

    def _passed(self, page: Page, cut: str) -> bool:
        """Whether a page reached records older than the cut (so the list has read all of [cut, end))."""
        oldest = self._oldest(page)
        return oldest is None or format_iso(oldest) < cut

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for batch in self.record_batches(dict(context or {})):
            yield from batch

    def record_batches(self, ctx: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The records of one partition (or of one parent record's child list), a page at a time, in the order the
        pages arrive: the partition's lists run at once and each window is checkpointed when its lists end."""
        if self.parent_stream_type is not None:
            yield from self._child_batches(ctx)
            return
        if self.per_account and "account_sid" not in ctx:
            return  # no account to read (all filtered out by account_sids, or the main one for alerts)
        self.run.plan_ahead()
        account = ctx.get("account_sid", "")
        units = self.units(ctx)
        reading = Reading(self, ctx, units)
        seen_null: set[Any] = set()
        group = self.run.pipeline.group(reading.lists())
        try:
            for key, item in group:
                if isinstance(item, End):
                    for unit, high in reading.ended(key):
                        self.run.note_written(self.tap_state, self.name, account, reading.origin(key), None)
                        self._checkpoint(unit, high)
                        if unit.window is not None:
                            self._log_progress(account, unit, reading.counted, reading.started)
                    continue
                if isinstance(item, Split):
                    group.add(reading.split(key, item))
                    continue
                unit = reading.unit(key)
                page = item
                records = self.records_of(page)
                tracked = self._children_wanted and unit.window is not None and len(unit.lists) == 1
                for first, part in parts(records, reading.advance(key, len(records)), unit.written, tracked):
                    self._children_written = first + len(part) <= unit.written  # an interrupted run wrote them
                    unchanged: list[dict[str, Any]] | None = (
                        [] if self._unchanged_have_children and not self._children_written else None
                    )
                    kept = self._keep(part, unit, ctx, seen_null, unchanged, converted=page.converted)
                    if kept and self.replication_key and unit.window is None:
                        reading.note(key, max((r.get(self.replication_key) or "") for r in kept))
                    if not page.converted and not self._children_written:  # else the worker started them (or none)
                        self._prefetch_children(kept + unchanged if unchanged else kept, ctx)
                    for record in unchanged or ():  # not emitted, but their child lists may have changed
                        for child_context in self.generate_child_contexts(record, ctx):
                            self._sync_children(child_context)
                    reading.counted += len(kept)
                    if kept:
                        yield kept
                    if tracked:
                        # these records and their children are written: a resumed run reads their children no more
                        self.run.note_written(
                            self.tap_state, self.name, account, reading.origin(key), first + len(part)
                        )
                        if self.run.state_due():  # a kill then costs the records after these, not the window's
                            self._emit_state()
                page.release()
        except TwilioError as exc:
            group.close()
            for key in reading.pending():
                self.run.pipeline.skip(key)
            if not self._tolerable(exc, account):
                raise self._fatal(exc, account) from exc
            return
        finally:
            group.close()
        for child in self.child_streams:
            if isinstance(child, ChildListsStream):
                child.forget_prefetched(account)  # downloads the SDK did not ask for (a stream map dropped the parent)
        self.logger.info("%s %s: %d records", self.name, account, reading.counted)  # one line per stream and account
