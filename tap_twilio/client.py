"""TwilioStream: auth, paging, dates, windows, concurrency and state for every Twilio list."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin

from singer_sdk import RESTStream, SchemaDirectory, StreamSchema
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams.rest import HTTPRequest, PageContext
from typing_extensions import override

from tap_twilio.dates import DAY_CACHE, format_iso, parse_iso, to_iso
from tap_twilio.http import ACCESS_STATUSES, Page, TwilioAPIError, TwilioError
from tap_twilio.pagination import TwilioPaginator

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context, Record

    from tap_twilio.tap import TapTwilio


def _schema_dir() -> Any:
    """Schemas ship inside the wheel; an editable install reads the repo's top-level schemas/."""
    packaged = resources.files("tap_twilio") / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


SCHEMAS = SchemaDirectory(_schema_dir())
PAGES_AHEAD = 2  # pages a list may buffer ahead of the writer: memory stays flat
DAY = dt.timedelta(days=1)
ALERT_RETENTION = dt.timedelta(days=30)  # Monitor keeps 30 days
MESSAGE_RETENTION = dt.timedelta(days=400)  # messages/recordings older than 400 days answer 20004
_DONE = object()
_MISSING = object()
NUMBER_CACHE_MAX = 20_000


@dataclass(slots=True)
class Window:
    """A half-open time range [start, end) read as one unit, then checkpointed."""

    start: dt.datetime
    end: dt.datetime
    start_iso: str = ""
    end_iso: str = ""

    def __post_init__(self) -> None:
        """ISO strings compare like the emitted values."""
        self.start_iso, self.end_iso = format_iso(self.start), format_iso(self.end)


@dataclass(slots=True)
class Unit:
    """Lists read together before a checkpoint: one window of one account (one list per param set)."""

    context: dict[str, Any]
    window: Window | None
    params: list[dict[str, Any]]
    last: bool  # the partition's final unit


@dataclass(slots=True)
class Chain:
    """One paged list, fetched by a worker into a small queue the writer drains in order."""

    stream: TwilioStream
    unit: Unit
    params: dict[str, Any]
    cancel: threading.Event  # the whole run's
    stop: threading.Event = field(default_factory=threading.Event)  # this list's
    pages: queue.Queue[Any] = field(default_factory=lambda: queue.Queue(PAGES_AHEAD))

    def run(self) -> None:
        """Worker side: fetch every page, blocking while the writer is behind."""
        try:
            for page in self.stream.iter_pages(self.unit.context, self.params):
                if not self._put(page):
                    return
            self._put(_DONE)
        except BaseException as exc:  # handed to the writer thread
            self._put(exc)

    def _put(self, item: object) -> bool:
        while not (self.stop.is_set() or self.cancel.is_set()):
            try:
                self.pages.put(item, timeout=0.2)
            except queue.Full:
                continue
            return True
        return False

    def take(self) -> Iterator[Page]:
        """Writer side: the pages in order."""
        while True:
            try:
                item = self.pages.get(timeout=0.2)
            except queue.Empty:
                if self.cancel.is_set():
                    msg = "sync cancelled"
                    raise TwilioError(msg) from None
                continue
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class Pipeline:
    """Runs the lists of a stream's partitions a few at a time, yielding pages in plan order."""

    def __init__(self, stream: TwilioStream, units: Iterator[Unit]) -> None:
        """Nothing is fetched until pages are asked for."""
        self.tap = stream.tap
        self._chains = (Chain(stream, unit, params, self.tap.cancel) for unit in units for params in unit.params)
        self._pending: deque[Chain] = deque()
        self._exhausted = False

    def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self.tap.max_concurrency:
            chain = next(self._chains, None)
            if chain is None:
                self._exhausted = True
                return
            self.tap.list_executor.submit(chain.run)
            self._pending.append(chain)

    def next_context(self) -> dict[str, Any] | None:
        """Context of the next list to be read, or None when all are read."""
        self._fill()
        return self._pending[0].unit.context if self._pending else None

    def units_of(self, context: dict[str, Any]) -> Iterator[tuple[Unit, Iterator[Page] | None]]:
        """(unit, pages) for each list of this context; (unit, None) once a unit is complete."""
        while self.next_context() == context:
            chain = self._pending.popleft()
            self._fill()
            yield chain.unit, chain.take()
            nxt = self._pending[0] if self._pending else None
            if nxt is None or nxt.unit is not chain.unit:
                yield chain.unit, None

    def discard(self, context: dict[str, Any]) -> None:
        """Stop the remaining lists of a partition that is being skipped."""
        while self.next_context() == context:
            self._pending.popleft().stop.set()

    def close(self) -> None:
        """Stop every list still running."""
        for chain in self._pending:
            chain.stop.set()
        self._pending.clear()
        self._exhausted = True


class TwilioStream(RESTStream[Any]):
    """A Twilio list; subclasses and ENDPOINTS rows declare only what differs."""

    schema: ClassVar[StreamSchema] = StreamSchema(SCHEMAS)
    primary_keys: ClassVar[tuple[str, ...]] = ("sid",)
    replication_key: ClassVar[str | None] = None
    state_partitioning_keys: ClassVar[list[str] | None] = ["account_sid"]  # one bookmark per account
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # records are typed exactly in _convert

    host: ClassVar[str] = "api"  # "api" (v2010) or "monitor" (Monitor v1)
    list_key: ClassVar[str | None] = None  # key of the records in a page; defaults to name
    date_filter: ClassVar[str | None] = None  # server-side filter, sent as X>=day and X<=day
    filter_field: ClassVar[str | None] = None  # record field that date_filter filters on
    filter_granularity: ClassVar[str] = "day"  # "day" (v2010), "timestamp" (Monitor), "date" (usage)
    param_sets: ClassVar[tuple[dict[str, str], ...]] = ({},)  # one list per set (e.g. per Status)
    extra_params: ClassVar[dict[str, str]] = {}
    single_object: ClassVar[bool] = False  # the response is one record, not a page
    per_account: ClassVar[bool] = True  # partitioned by the synced accounts
    retention: ClassVar[dt.timedelta | None] = None  # Twilio answers errors for older filters
    missing_is_empty: ClassVar[bool] = False  # 404 means "nothing here", not an access problem

    def __init__(self, tap: TapTwilio, *args: Any, **kwargs: Any) -> None:
        """Precompute the per-record conversions from the schema."""
        super().__init__(tap, *args, **kwargs)
        self.tap: TapTwilio = tap
        props = self.schema["properties"]
        self._date_fields = tuple(k for k, v in props.items() if v.get("format") == "date-time")
        self._number_fields = tuple(
            k for k, v in props.items() if "number" in v.get("type", ()) and "string" not in v.get("type", ())
        )
        self._drop_fields = ("auth_token",) if self.name == "accounts" else ()
        self._properties = frozenset(props)
        if self.parent_stream_type is not None and self.logger.getEffectiveLevel() == logging.INFO:
            # the SDK logs "Beginning sync" once per parent record (per message with media): keep INFO readable
            self.logger.setLevel(logging.WARNING)
        self._pipeline: Pipeline | None = None
        self._prefetched: dict[tuple[Any, ...], Future[list[Page]]] = {}
        self._schema_written = False
        self._bad_numbers: set[str] = set()
        self._numbers: dict[str, int | Decimal | None] = {}
        self._skipped: dict[str, str] = {}

    # --- SDK hooks -----------------------------------------------------------------------

    @property
    @override
    def url_base(self) -> str:
        return self.tap.monitor_url if self.host == "monitor" else f"{self.tap.api_url}/2010-04-01"

    @override
    def get_new_paginator(self) -> TwilioPaginator:
        return TwilioPaginator()

    @override
    def get_http_request(self, *, page: PageContext[Any]) -> HTTPRequest:
        request = super().get_http_request(page=page)
        if token := page.next_page_token:
            # next_page_uri carries every filter and the page token: follow it verbatim
            root = self.tap.monitor_url if self.host == "monitor" else self.tap.api_url
            request.url = urljoin(root + "/", token.geturl())
            request.params = {}
        return request

    @override
    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        if self.single_object:
            return {}
        return {"PageSize": self.tap.page_size, **self.extra_params}

    @property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        if self.parent_stream_type or not self.per_account:
            return None
        return [{"account_sid": sid} for sid in self.tap.synced_account_sids]

    @override
    def _write_schema_message(self) -> None:
        # the SDK writes SCHEMA on every child sync; once per stream is enough for targets
        if not self._schema_written:
            self._schema_written = True
            super()._write_schema_message()

    @override
    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        # bookmarks advance per completed window in _checkpoint, never per record
        return

    @override
    def _write_record_message(self, record: Record) -> None:
        if self._lean:
            # no stream map, flattening or column deselection: skip the SDK's per-record no-ops
            self.tap.message_writer.write_record(self.name, record, self._stream_version)  # type: ignore[attr-defined]
            self.state_manager.is_flushed = False
            return
        super()._write_record_message(record)

    @cached_property
    def _lean(self) -> bool:
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform or self.config.get("flattening_enabled"):
            return False
        return all(self.mask.get(("properties", name), True) for name in self._properties)

    # --- fetching ------------------------------------------------------------------------

    def iter_pages(self, context: dict[str, Any], params: dict[str, Any]) -> Iterator[Page]:
        """Every page of one list (called from worker threads)."""
        paginator = self.get_new_paginator()
        first = True
        while not paginator.finished:
            request = self.get_http_request(page=PageContext(context, paginator.current_value))
            if first:
                request.params.update(params)
                first = False
            page = self.tap.client.get(request.url, request.params or None)
            yield page
            if self.single_object:
                return
            paginator.advance(page)  # type: ignore[arg-type]

    def records_of(self, page: Page) -> list[dict[str, Any]]:
        """The records of a page; a page without its list key is an error, not an empty list."""
        body = page.body
        if self.single_object:
            return [body]
        key = self.list_key or self.name
        records = body.get(key)
        if not isinstance(records, list):
            meta = body.get("meta")
            listed = body.get(str(meta.get("key"))) if isinstance(meta, dict) else None
            if isinstance(listed, list):
                return listed
            msg = f"{self.name}: a page from {page.url.split('?')[0]} has no '{key}' list"
            raise TwilioError(msg)
        return records

    def _convert(self, record: dict[str, Any]) -> dict[str, Any]:
        """ISO-8601 UTC dates, exact numbers, no secrets."""
        days = DAY_CACHE
        for name in self._date_fields:
            value = record.get(name)
            if value:
                # Twilio's fixed form "Fri, 18 Oct 2019 17:00:00 +0000": slice, with a per-day cache
                day = days.get(value[5:16]) if len(value) == 31 and value[25:] == " +0000" else None
                record[name] = f"{day}T{value[17:25]}+00:00" if day and value[19] == value[22] == ":" else to_iso(value)
        numbers = self._numbers
        for name in self._number_fields:
            value = record.get(name)
            if value.__class__ is str:
                number = numbers.get(value, _MISSING)  # prices and counts repeat: parse each text once
                if number is _MISSING:
                    number = self._number(name, value)
                    if len(numbers) < NUMBER_CACHE_MAX:
                        numbers[value] = number
                record[name] = number
        for name in self._drop_fields:
            record.pop(name, None)
        return record

    def _number(self, name: str, value: str) -> int | Decimal | None:
        """Exact value of a decimal string: int for whole numbers, Decimal otherwise, None if not a number."""
        if not value:
            return None
        try:
            return int(value) if value.isdigit() else Decimal(value)
        except InvalidOperation:
            if name not in self._bad_numbers:
                self._bad_numbers.add(name)
                self.logger.warning("%s.%s: %r is not a number; emitted as null", self.name, name, value)
            return None

    # --- windows and state ---------------------------------------------------------------

    def lookback(self) -> dt.timedelta:
        """How far before the bookmark each run re-reads, for late status/price changes."""
        return dt.timedelta(days=float(self.config.get("lookback_days", 3)))

    def bookmark(self, context: dict[str, Any] | None) -> tuple[str | None, bool]:
        """(bookmark, resuming): the partition's saved value, and whether a run stopped mid-way.

        A stream-level value (Stitch/singer-io state, migrated) applies to every account without one.
        """
        state = self.get_context_state(context)
        if state.get("replication_key") == self.replication_key and state.get("replication_key_value"):
            return state["replication_key_value"], bool(state.get("resume"))
        return self.stream_state.get("replication_key_value"), False

    def start_time(self, context: dict[str, Any]) -> dt.datetime:
        """Where this run reads from: bookmark minus lookback, never before start_date, the account or retention.

        (Nothing predates an account, and usage lists answer 404 for days before it existed.)
        """
        start = max(self.tap.start_date, self.tap.account_created(context.get("account_sid")))
        value, resuming = self.bookmark(context)
        if value:
            start = max(start, parse_iso(value) - (dt.timedelta(0) if resuming else self.lookback()))
        if self.retention is not None:
            floor = self.tap.sync_started_at - self.retention + dt.timedelta(hours=1)
            if start < floor:
                self.tap.warn_once(
                    f"retention:{self.name}",
                    f"{self.name}: Twilio keeps {self.retention.days} days; reading from "
                    f"{format_iso(floor)} instead of {format_iso(start)}",
                )
                start = floor
        if self.filter_granularity == "date":
            start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return start

    def windows(self, context: dict[str, Any]) -> list[Window]:
        """Half-open windows from start to the sync's start, split at UTC midnights."""
        start, end = self.start_time(context), self.tap.sync_started_at
        size = dt.timedelta(days=self.tap.date_window_days)
        result: list[Window] = []
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while start < end:
            midnight += size
            stop = min(midnight, end)
            result.append(Window(start, stop))
            start = stop
        return result

    def window_params(self, window: Window) -> dict[str, str]:
        """Server filter for a window; day filters are inclusive, so whole days are asked for."""
        name = self.date_filter
        if self.filter_granularity == "timestamp":
            stamp = "%Y-%m-%dT%H:%M:%SZ"
            return {"StartDate": window.start.strftime(stamp), "EndDate": window.end.strftime(stamp)}
        first, last = window.start.date().isoformat(), (window.end - dt.timedelta(microseconds=1)).date().isoformat()
        if self.filter_granularity == "date":
            return {"StartDate": first, "EndDate": last}
        return {f"{name}>": first, f"{name}<": last}

    def plan(self, context: dict[str, Any]) -> list[Unit]:
        """The lists to read for one partition."""
        if not self.date_filter:
            return [Unit(context, None, [dict(p) for p in self.param_sets], last=True)]
        windows = self.windows(context)
        return [
            Unit(context, w, [{**self.window_params(w), **p} for p in self.param_sets], last=i == len(windows) - 1)
            for i, w in enumerate(windows)
        ]

    def _checkpoint(self, unit: Unit, high_water: str | None) -> None:
        """A unit is fully read: move its partition's bookmark forward and emit STATE."""
        if not self.replication_key:
            return
        state = self.get_context_state(unit.context)
        old = state.get("replication_key_value") if state.get("replication_key") == self.replication_key else None
        new: str | None
        if unit.window is not None:
            new = unit.window.end_iso
        else:  # client-filtered list: the newest value seen, capped at the sync's start
            new = min(high_water, self.tap.sync_started_iso) if high_water else old
        if new and (old is None or new > old):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = new
        if unit.last:
            state.pop("resume", None)
        elif unit.window is not None and new and (old is None or new > old):
            state["resume"] = True  # the lookback of this run is done: resume without it
        self.state_manager.is_flushed = False
        self._write_state_message()

    # --- the record loop -----------------------------------------------------------------

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        ctx = dict(context or {})
        if self.parent_stream_type is not None:
            yield from self._child_records(ctx)
            return
        if self.per_account and "account_sid" not in ctx:
            return  # no account to read (all filtered out by account_sids, or the main one for alerts)
        pipeline = self._pipeline
        if pipeline is None or pipeline.next_context() != ctx:
            if pipeline is not None:
                pipeline.close()
            parts = self.partitions or [ctx]
            parts = parts[parts.index(ctx) :] if ctx in parts else [ctx]
            pipeline = self._pipeline = Pipeline(self, (u for c in parts for u in self.plan(c)))
        account = ctx.get("account_sid", "")
        seen_null: set[Any] = set()
        counted = 0
        started = time.monotonic()
        high: dict[int, str] = {}
        try:
            for unit, pages in pipeline.units_of(ctx):
                if pages is None:
                    self._checkpoint(unit, high.pop(id(unit), None))
                    if unit.window is not None:
                        self._log_progress(account, unit, counted, started)
                    continue
                for page in pages:
                    kept = self._keep(self.records_of(page), unit, ctx, seen_null)
                    if kept and self.replication_key and unit.window is None:
                        newest = max((r.get(self.replication_key) or "") for r in kept)
                        if newest > high.get(id(unit), ""):
                            high[id(unit)] = newest
                    self._prefetch_children(kept, ctx)
                    counted += len(kept)
                    yield from kept
        except TwilioError as exc:
            pipeline.discard(ctx)
            if not self._tolerable(exc, account):
                pipeline.close()
                self._pipeline = None
                raise self._fatal(exc, account) from exc
        except BaseException:
            pipeline.close()
            self._pipeline = None
            raise
        if self.date_filter is None:
            self.logger.info("%s %s: %d records", self.name, account, counted)

    def _tolerable(self, exc: TwilioError, account: str) -> bool:
        """True when a list error means "skip this account" (with one warning) or "empty"."""
        if not isinstance(exc, TwilioAPIError):
            return False
        if exc.status == 404 and self.missing_is_empty:
            return True
        if exc.status in ACCESS_STATUSES:
            self._skip(account, exc)
            return True
        return False

    def _keep(
        self, records: list[dict[str, Any]], unit: Unit, context: dict[str, Any], seen_null: set[Any]
    ) -> list[dict[str, Any]]:
        """Convert a page's records and keep those that belong to this unit, each once."""
        convert = self._convert
        kept = []
        window = unit.window
        bookmark = None
        if window is None and self.replication_key:
            bookmark = self.bookmark(context)[0]
            if bookmark is None or bookmark < self.tap.start_date_iso:
                bookmark = self.tap.start_date_iso
        field_name = self.filter_field
        properties = self._properties
        for raw in records:
            record = convert(raw)
            for key, value in context.items():
                if key in properties:
                    record.setdefault(key, value)
            if window is not None:
                value = record.get(field_name)  # type: ignore[arg-type]
                if value is None:
                    pk = tuple(record.get(k) for k in self.primary_keys)
                    if pk in seen_null:
                        continue
                    seen_null.add(pk)
                elif self.filter_granularity == "date":
                    # a day belongs to the window its midnight falls in
                    if not (window.start_iso[:10] <= value and f"{value}T00:00:00+00:00" < window.end_iso):
                        continue
                elif not window.start_iso <= value < window.end_iso:
                    continue
            elif bookmark is not None:
                value = record.get(self.replication_key)  # type: ignore[arg-type]
                if value is not None and value < bookmark:
                    continue
            kept.append(record)
        return kept

    def _prefetch_children(self, records: list[dict[str, Any]], context: dict[str, Any]) -> None:
        """Start the child lists of a page's records now, so they download in parallel."""
        children = [c for c in self.child_streams if c.selected or c.has_selected_descendents]
        if not children:
            return
        for child in children:
            assert isinstance(child, TwilioStream)
            child.forget_prefetched()
        for record in records:
            for child_context in self.generate_child_contexts(record, context):
                if child_context is None:
                    continue
                for child in children:
                    child.prefetch(child_context)  # type: ignore[attr-defined]

    @override
    def generate_child_contexts(self, record: Record, context: Context | None) -> Iterable[Context | None]:
        if self._children_wanted:  # the SDK asks for every record, even with no child selected
            context = self.child_context(record)
            if context is not None:
                yield context

    def child_context(self, record: Record) -> dict[str, Any] | None:
        """The context of this record's child lists, or None when it has none worth requesting."""
        return None

    @cached_property
    def _children_wanted(self) -> bool:
        return any(child.selected or child.has_selected_descendents for child in self.child_streams)

    def wants(self, context: dict[str, Any]) -> bool:
        """Whether this child list exists for a parent (e.g. a country offers the number type)."""
        return True

    def prefetch(self, context: dict[str, Any]) -> None:
        """Queue every page of this child list for download."""
        if not self.wants(context):
            return
        key = tuple(sorted(context.items()))
        if key not in self._prefetched:
            self._prefetched[key] = self.tap.child_executor.submit(self._fetch_all, context)

    def forget_prefetched(self) -> None:
        """Drop downloads the SDK did not ask for (e.g. a stream map filtered the parent)."""
        for future in self._prefetched.values():
            future.cancel()
        self._prefetched.clear()

    def _fetch_all(self, context: dict[str, Any]) -> list[Page]:
        return list(self.iter_pages(context, {}))

    def _child_records(self, context: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if not self.wants(context):
            return
        future = self._prefetched.pop(tuple(sorted(context.items())), None)
        account = context.get("account_sid", "")
        try:
            pages = future.result() if future is not None else self._fetch_all(context)
        except TwilioError as exc:
            if self._tolerable(exc, account):
                return
            raise self._fatal(exc, account) from exc
        unit = Unit(context, None, [], last=True)
        for page in pages:
            yield from self._keep(self.records_of(page), unit, context, set())

    # --- reporting -----------------------------------------------------------------------

    def _fatal(self, exc: Exception, account: str) -> TwilioError:
        return TwilioError(f"stream '{self.name}', account {account or '-'}: {exc}")

    def _skip(self, account: str, exc: TwilioAPIError) -> None:
        """An account this stream cannot read is skipped with one warning; the others go on."""
        self.tap.skipped.append((self.name, account, exc.status))
        if account not in self._skipped:
            self._skipped[account] = str(exc)
            self.logger.warning(
                "Skipping %s for account %s: %s (no access; other accounts continue)", self.name, account, exc
            )

    def _log_progress(self, account: str, unit: Unit, counted: int, started: float) -> None:
        window = unit.window
        assert window is not None
        elapsed = max(time.monotonic() - started, 1e-6)
        self.logger.info(
            "%s %s: read %s..%s, %d records so far (%.0f/s)",
            self.name,
            account,
            window.start_iso,
            window.end_iso,
            counted,
            counted / elapsed,
        )
