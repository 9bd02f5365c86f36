"""TwilioStream: one base for every Twilio list. SDK hooks, conversion, windows and checkpoints."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from singer_sdk import RESTStream, SchemaDirectory, Stream, StreamSchema
from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from singer_sdk.streams.rest import PageContext
from typing_extensions import override

from tap_twilio.dates import DAY_CACHE, format_iso, parse_iso, to_iso
from tap_twilio.http import ACCESS_STATUSES, Page, TwilioAPIError, TwilioError
from tap_twilio.pagination import follow_pages, records_in

if TYPE_CHECKING:
    from collections.abc import Generator, Hashable, Iterable, Iterator
    from concurrent.futures import Future

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from tap_twilio.http import TwilioClient
    from tap_twilio.run import SyncRun
    from tap_twilio.writer import BufferedMsgSpecWriter


def _schema_dir() -> Any:
    """Schemas ship inside the wheel; an editable install reads the repo's top-level schemas/."""
    packaged = resources.files("tap_twilio") / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


SCHEMAS = SchemaDirectory(_schema_dir())
ALERT_RETENTION = dt.timedelta(days=30)  # Monitor keeps 30 days
MESSAGE_RETENTION = dt.timedelta(days=400)  # messages/recordings older than 400 days answer 20004
NUMBER_CACHE_MAX = 20_000
WHOLE_STREAM = "*"  # the "account" of a stream that is not read per account
_MISSING = object()
_BYPASSED = (
    "TwilioStream does not use the SDK's request path: requests go through SyncRun.client_for "
    "(credentials per account, retries, limits) and pagination.follow_pages"
)


def _bypassed(*_: Any, **__: Any) -> NoReturn:
    raise NotImplementedError(_BYPASSED)


def _not_a_dry_run_stop(record: logging.LogRecord) -> bool:
    """Drop the SDK's "unhandled error" line when the error is `--test` stopping a stream after one record."""
    return not isinstance(sys.exc_info()[1], (AbortedSyncFailedException, AbortedSyncPausedException))


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


class TwilioStream(RESTStream[Any]):
    """A Twilio list; subclasses and ENDPOINTS rows declare only what differs.

    The SDK's request path (requests_session, authenticator, validate_response, backoff_*, request_records,
    parse_response, paginator) is bypassed on purpose: a sync reads many accounts, each product API with that
    account's own credentials, with lists of several streams in flight at once. Requests go through the run
    (`self.run.client_for`), pages through `follow_pages`, and those SDK hooks raise instead of being ignored.
    """

    schema: ClassVar[StreamSchema] = StreamSchema(SCHEMAS)
    primary_keys: ClassVar[tuple[str, ...]] = ("sid",)
    replication_key: ClassVar[str | None] = None
    state_partitioning_keys: ClassVar[list[str] | None] = ["account_sid"]  # one bookmark per account
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # records are typed exactly in _convert

    product: ClassVar[str] = "api"  # Twilio product (host): api (2010 API), monitor, conversations, …
    list_key: ClassVar[str | None] = None  # key of the records in a page; defaults to name
    page_size_max: ClassVar[int] = 1000  # Twilio rejects a larger PageSize on some lists
    date_filter: ClassVar[str | None] = None  # server-side filter, sent as X>=day and X<=day
    end_filter: ClassVar[str | None] = None  # with filter_granularity "timestamp": the window's end parameter
    filter_field: ClassVar[str | None] = None  # record field that date_filter filters on
    filter_granularity: ClassVar[str] = "day"  # "day" (v2010), "timestamp" (Monitor, product APIs), "date" (usage)
    param_sets: ClassVar[tuple[dict[str, str], ...]] = ({},)  # one list per set (e.g. per Status)
    extra_params: ClassVar[dict[str, str]] = {}
    single_object: ClassVar[bool] = False  # the response is one record, not a page
    per_account: ClassVar[bool] = True  # partitioned by the synced accounts
    retention: ClassVar[dt.timedelta | None] = None  # Twilio answers errors for older filters
    missing_is_empty: ClassVar[bool] = False  # 404 means "nothing here", not an access problem
    child_key: ClassVar[str | None] = None  # a parent's record reaches its child lists as {child_key: record[sid]}
    child_key_field: ClassVar[str] = "sid"
    detail_path: ClassVar[str | None] = None  # each listed item's detail (placeholders: item fields) is the record
    children_of_unchanged: ClassVar[bool] = False  # child lists change without the parent's replication value moving
    page_loop: ClassVar[bool] = True  # _sync_records takes a page at a time (False: the SDK's per-record loop)

    # the SDK request path this class does not use (see the class docstring)
    authenticator = property(_bypassed)
    requests_session = property(_bypassed)
    validate_response = _bypassed
    request_records = _bypassed
    parse_response = _bypassed
    get_new_paginator = _bypassed
    backoff_wait_generator = _bypassed
    backoff_max_tries = _bypassed
    backoff_handler = _bypassed
    backoff_runtime = _bypassed
    request_decorator = _bypassed

    def __init__(self, tap: Tap, run: SyncRun) -> None:
        """Precompute the per-record conversions from the schema; register with the run."""
        super().__init__(tap)
        self.run = run
        run.streams.append(self)
        props = self.schema["properties"]
        self._date_fields = tuple(k for k, v in props.items() if v.get("format") == "date-time")
        self._number_fields = tuple(
            k for k, v in props.items() if "number" in v.get("type", ()) and "string" not in v.get("type", ())
        )
        self._drop_fields = ("auth_token",) if self.name == "accounts" else ()
        self._properties = frozenset(props)
        self.logger.addFilter(_not_a_dry_run_stop)
        if self.parent_stream_type is not None and self.logger.getEffectiveLevel() == logging.INFO:
            # the SDK logs "Beginning sync" once per parent record (per message with media): keep INFO readable
            self.logger.setLevel(logging.WARNING)
        self._units: dict[Hashable, list[Unit]] = {}
        self._prefetched: dict[tuple[tuple[str, Any], ...], Future[list[Page]]] = {}
        self._prefetch_lock = threading.Lock()
        self._schema_written = False
        self._bad_numbers: set[str] = set()
        self._numbers: dict[str, int | Decimal | None] = {}
        self._skipped: set[str] = set()
        self._read: set[str] = set()  # partitions whose lists this run read to the end (ACTIVATE_VERSION)
        # a child stream's per-account progress, saved when its top-level ancestor checkpoints the account
        self._child_windows: dict[Any, Window] = {}
        self._child_high: dict[Any, str] = {}
        self._child_read: set[Any] = set()
        self._child_failed: set[Any] = set()

    # --- SDK hooks -----------------------------------------------------------------------

    @property
    @override
    def url_base(self) -> str:
        base = self.run.settings.base_url(self.product)
        return f"{base}/2010-04-01" if self.product == "api" else base

    @override
    def get_url_params(self, context: Context | None, next_page_token: Any) -> dict[str, Any]:
        if self.single_object:
            return {}
        return {"PageSize": min(self.run.settings.page_size, self.page_size_max), **self.extra_params}

    @property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        if self.parent_stream_type or not self.per_account:
            return None
        return [{"account_sid": sid} for sid in self.run.accounts.synced]

    @override
    def _write_schema_message(self) -> None:
        # private SDK method: it writes SCHEMA on every child sync (per parent record); once per stream suffices
        if not self._schema_written:
            self._schema_written = True
            if self._versioned:  # one version per stream and run, on every record (see _activate_version)
                self._stream_version = self._initialized_at
            super()._write_schema_message()

    @override
    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        # private SDK method: bookmarks advance per completed window in _checkpoint, never per record, because
        # Twilio lists are newest first and a mid-window bookmark would skip the window's older records
        return

    @override
    def _write_record_message(self, record: Record) -> None:
        # private SDK method: with no stream map, flattening or column deselection, the SDK's per-record
        # message objects and no-op transforms cost more than the rest of the record path (PERFORMANCE-NOTES)
        writer = self.run.writer
        if writer is not None and self._lean:
            writer.write_record(self.name, record, self._stream_version)  # bookmarks move in _checkpoint only
            return
        super()._write_record_message(record)

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        # private SDK method: its loop spends more per record (limit check, post_process, partition keys, child
        # contexts, the message, state increment, counter) than reading, typing and encoding one. On the lean path
        # this loop takes a page at a time and writes the same messages in the same order; anything else (a dry
        # run's record limit, a post_process, an unselected parent of selected children) takes the SDK's loop.
        writer = self.run.writer
        if (
            writer is None
            or not (self.page_loop and write_messages and self.selected and self._lean)
            or self.ABORT_AT_RECORD_COUNT is not None
            or type(self).post_process is not Stream.post_process
        ):
            yield from super()._sync_records(context, write_messages=write_messages)
            return
        self._sync_pages(context, writer)  # the SDK's sync() only drains this generator: no record is yielded

    def _sync_pages(self, context: Context | None, writer: BufferedMsgSpecWriter) -> None:
        """The SDK's record loop (partitions, counters, starting values, child syncs, STATE every
        STATE_MSG_FREQUENCY records, finalized state), a page at a time."""
        counter, timer = self.get_record_counter(), self.get_sync_timer()
        frequency, written = self.STATE_MSG_FREQUENCY, 0
        children = self._children_wanted
        with counter, timer:
            for element in ([context] if context is not None else self.partitions) or [{}]:
                counter.with_context(element)
                timer.with_context(element)
                current = element or None
                state_context = self._get_state_partition_context(current)
                self._write_starting_replication_value(current)
                child_context = None if current is None else dict(current)
                # the SDK adds the state partition's keys to each record; _keep already set those in the schema
                extra = [(k, v) for k, v in (state_context or {}).items() if k not in self._properties]
                for batch in self.record_batches(dict(current or {})):
                    for key, value in extra:
                        for record in batch:
                            record.setdefault(key, value)
                    if children:  # as the SDK does: a record's child lists are synced before the record is written
                        for record in batch:
                            for child in self.generate_child_contexts(record, child_context):
                                self._sync_children(copy.copy(child))
                            writer.write_record(self.name, record, self._stream_version)
                    else:
                        writer.write_records(self.name, batch, self._stream_version)
                    counter.increment(len(batch))
                    if (written + len(batch)) // frequency > written // frequency:
                        self._write_state_message()
                    written += len(batch)
                if current == state_context:  # per-partition state is finalized when 1:1 with the context
                    self._finalize_state(self.get_context_state(current))
        if not context:
            self._finalize_state(self.stream_state)
        self._write_state_message()

    @cached_property
    def _lean(self) -> bool:
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform or self.config.get("flattening_enabled"):
            return False
        return self.run.writer is not None and all(
            self.mask.get(("properties", name), True) for name in self._properties
        )

    @override
    def generate_child_contexts(self, record: Record, context: Context | None) -> Iterable[Context | None]:
        if self._children_wanted:  # the SDK asks for every record, even with no child selected
            child = self.get_child_context(record, context)
            if child is not None:
                yield child

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        # a parent names the key its children read this record's sid under; a hook decides which records have any
        if self.child_key is None:
            return None
        return {"account_sid": record["account_sid"], self.child_key: record[self.child_key_field]}

    # --- fetching ------------------------------------------------------------------------

    def iter_pages(self, context: dict[str, Any], params: dict[str, Any]) -> Iterator[Page]:
        """Every page of one list (called from worker threads)."""
        account = context.get("account_sid")
        client = self.run.client_for(account, self.product)
        request = self.get_http_request(page=PageContext(context, None))
        request.params.update(params)
        root = self.run.settings.base_url(self.product)
        pages = follow_pages(
            client, request.url, request.params or None, root=root, headers=request.headers, label=self.name
        )
        if self.single_object:
            yield next(pages)
            return
        if self.detail_path:
            for page in pages:
                yield self._with_details(client, page)
            return
        yield from pages

    def _with_details(self, client: TwilioClient, page: Page) -> Page:
        """The page with each listed item replaced by its detail record (fetched in parallel)."""
        root = self.run.settings.base_url(self.product)
        urls = [root + str(self.detail_path).format(**item) for item in self.records_of(page)]
        with ThreadPoolExecutor(max(1, min(len(urls), self.run.settings.max_concurrency))) as pool:
            details = [p.body for p in pool.map(lambda url: client.get(url, None, None, self.name), urls)]
        return Page(page.url, {self.list_key or self.name: details})

    def records_of(self, page: Page) -> list[dict[str, Any]]:
        """The records of a page; a page without its list key is an error, not an empty list."""
        if self.single_object:
            return [page.body]
        return records_in(page, self.list_key or self.name, self.name)

    @cached_property
    def _convert(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """Types a record in place: ISO-8601 UTC dates, exact numbers, no secrets (see converter())."""
        fields = (self._date_fields, self._number_fields, self._drop_fields)
        return converter(self.name, *fields, parsed=self._numbers, parse_number=self._parse_number)

    def _parse_number(self, name: str, value: str) -> int | Decimal | None:
        """A number's text parsed once: prices and counts repeat."""
        number = self._number(name, value)
        if len(self._numbers) < NUMBER_CACHE_MAX:
            self._numbers[value] = number
        return number

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

    def bookmark(self, context: dict[str, Any] | None) -> tuple[str | None, bool]:
        """(bookmark, resuming): the partition's saved value, and whether a run stopped mid-way.

        A stream-level value (Stitch/singer-io state, migrated) applies to every account without one. A catalog
        that forces FULL_TABLE (e.g. on incoming_phone_numbers, to see released numbers) reads without one.
        """
        if self.replication_method == REPLICATION_FULL_TABLE:
            return None, False
        state = self._peek_state(context)
        if state.get("replication_key") == self.replication_key and state.get("replication_key_value"):
            return state["replication_key_value"], bool(state.get("resume"))
        return self.stream_state.get("replication_key_value"), False

    def _peek_state(self, context: dict[str, Any] | None) -> dict[str, Any]:
        """A partition's saved state, without creating an empty one (as the SDK's get_context_state would)."""
        keys = self.state_partitioning_keys
        if not context or not keys:
            return self.get_context_state(context)
        wanted = {key: context[key] for key in keys if key in context}
        for partition in self.stream_state.get("partitions", []):
            if partition.get("context") == wanted:
                return dict(partition)
        return {}

    def changed(self, record: Record, context: Context | None) -> bool:
        """Whether a record changed since the bookmark this run started from (so may its child lists).

        A window's bookmark is the end it read up to (a change in that second may follow the read); a
        client-filtered bookmark is the newest value seen, at most a second before the sync that saved it.
        """
        value = record.get(self.replication_key or "")
        bookmark = self.bookmark(dict(context or {}))[0] if self.replication_key else None
        if value is None or bookmark is None:
            return True
        return bool(value >= bookmark if self.date_filter else value > bookmark)

    def start_time(self, context: dict[str, Any]) -> dt.datetime:
        """Where this run reads from: bookmark minus lookback, never before start_date, the account or retention.

        (Nothing predates an account, and usage lists answer 404 for days before it existed.)
        """
        run = self.run
        start = max(run.start_date, run.accounts.created(context.get("account_sid")))
        value, resuming = self.bookmark(context)
        if value:
            start = max(start, parse_iso(value) - (dt.timedelta(0) if resuming else run.settings.lookback))
        if self.retention is not None:
            floor = run.started_at - self.retention + dt.timedelta(hours=1)
            if start < floor:
                run.warn_once(
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
        start, end = self.start_time(context), self.run.started_at
        size = dt.timedelta(days=self.run.settings.date_window_days)
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
        if self.filter_granularity == "timestamp":  # ISO timestamps: [start, end) exactly
            stamp = "%Y-%m-%dT%H:%M:%SZ"
            return {str(name): window.start.strftime(stamp), str(self.end_filter): window.end.strftime(stamp)}
        first, last = window.start.date().isoformat(), (window.end - dt.timedelta(microseconds=1)).date().isoformat()
        if self.filter_granularity == "date":
            return {"StartDate": first, "EndDate": last}
        return {f"{name}>": first, f"{name}<": last}

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
                windows = self.windows(context)
                units = [
                    Unit(
                        context,
                        w,
                        self._lists(ctx_key, w, [{**self.window_params(w), **p} for p in self.param_sets]),
                        last=i == len(windows) - 1,
                    )
                    for i, w in enumerate(windows)
                ]
            self._units[ctx_key] = units
            self._prepare_child_windows(context)
        return units

    def _prepare_child_windows(self, context: dict[str, Any]) -> None:
        """Fix the windows of windowed descendants for this account now, on the writer's thread: the workers
        that start child lists early must not read state (the writer may be encoding it)."""
        for child in self.child_streams:
            if isinstance(child, TwilioStream) and (child.selected or child.has_selected_descendents):
                child._child_window({"account_sid": context.get("account_sid")})
                child._prepare_child_windows(context)

    def _client_filter(self, context: dict[str, Any]) -> tuple[str | None, bool]:
        """(bound, strict) of a list Twilio cannot filter by date: the records kept are those from the bound on."""
        if not self.replication_key or self.replication_method == REPLICATION_FULL_TABLE:
            return None, False
        bookmark = self.bookmark(context)[0]
        if bookmark is None or bookmark < self.run.start_date_iso:
            return self.run.start_date_iso, False
        # a child's bookmark is a second before the sync that saved it: equal means already emitted
        return bookmark, self.parent_stream_type is not None

    def _lists(
        self, ctx_key: Hashable, window: Window | None, params: list[dict[str, Any]]
    ) -> tuple[tuple[Hashable, dict[str, Any]], ...]:
        start = window.start_iso if window else None
        return tuple(((self.name, ctx_key, start, tuple(sorted(p.items()))), p) for p in params)

    def planned_lanes(self) -> Iterator[tuple[Hashable, Callable[[], Iterable[Page]]]]:
        """Every list this stream will read, in the order get_records takes them (for reading ahead)."""
        if self.parent_stream_type is not None or not (self.selected or self.has_selected_descendents):
            return
        for context in self.partitions or [{}]:
            for unit in self.units(context):
                for key, params in unit.lists:
                    yield key, self._source(unit, params)

    def _source(self, unit: Unit, params: dict[str, Any]) -> Callable[[], Iterable[Page]]:
        return lambda: self._read_ahead(unit, params)

    def _read_ahead(self, unit: Unit, params: dict[str, Any]) -> Iterator[Page]:
        """Worker side of one list: each page's records are typed, and their child lists started, as soon as the
        page arrives, not when the writer gets to it (a parent's children then cost no round trip of their own)."""
        for page in self.iter_pages(unit.context, params):
            if self._children_wanted:  # else the writer types the records: two threads typing only fight the GIL
                records = self.records_of(page)
                for record in records:
                    self._convert(record)
                page.converted = True
                unchanged: list[dict[str, Any]] | None = [] if self._unchanged_have_children else None
                # the base filter only: a subclass's _keep may keep per-run notes, which the writer's call makes
                kept = TwilioStream._keep(self, records, unit, unit.context, set(), unchanged, converted=True)
                self._prefetch_children(kept + unchanged if unchanged else kept, unit.context)
            yield page

    def _checkpoint(self, unit: Unit, high_water: str | None) -> None:
        """A unit is fully read: move its partition's bookmark forward and emit STATE."""
        if self.replication_key:
            state = self.get_context_state(unit.context)
            old = state.get("replication_key_value") if state.get("replication_key") == self.replication_key else None
            new: str | None
            if unit.window is not None:
                new = unit.window.end_iso
            else:  # client-filtered list: the newest value seen, capped before the sync's start second
                new = min(high_water, self._client_cap) if high_water else old
            if new and (old is None or new > old):
                state["replication_key"] = self.replication_key
                state["replication_key_value"] = new
            if unit.last:
                state.pop("resume", None)
            elif unit.window is not None and new and (old is None or new > old):
                state["resume"] = True  # the lookback of this run is done: resume without it
        if unit.last:
            self.run.mark_done(self.tap_state, self.name, unit.context.get("account_sid", WHOLE_STREAM))
            self._read.add(unit.context.get("account_sid", WHOLE_STREAM))
            self._advance_descendants(unit.context.get("account_sid"))
        self.state_manager.is_flushed = False
        if self.run.state_due():
            # a STATE holds every stream and account: with hundreds of accounts writing it dominates, so it waits
            # while it would exceed a small share of the run (the stream's end writes it anyway)
            self._emit_state()

    def _emit_state(self) -> None:
        """Write STATE now. The SDK's writer compares and deep-copies the whole state first to skip repeats; ours
        encodes it at once, so the copy buys nothing (and costs more than the encoding)."""
        writer = self.run.writer
        if writer is None:
            self._write_state_message()
            return
        self.run.state_written(writer.write_state(self.tap_state))
        self.state_manager.is_flushed = True

    @cached_property
    def _client_cap(self) -> str:
        """A second before the sync's start: a change in that second after the read stays newer than the bookmark."""
        return format_iso(self.run.started_at - dt.timedelta(seconds=1))

    def _advance_descendants(self, account: str | None) -> None:
        """An ancestor read the account completely: each incremental child saves how far it read it."""
        for child in self.child_streams:
            if isinstance(child, TwilioStream) and (child.selected or child.has_selected_descendents):
                child._advance_child(account)
                child._advance_descendants(account)

    def _advance_child(self, account: str | None) -> None:
        """Move this child stream's bookmark for one account (its lists were all read without error)."""
        read = account in self._child_read and account not in self._child_failed
        self._child_read.discard(account)
        self._child_failed.discard(account)
        high = self._child_high.pop(account, None)
        if not self.replication_key or not read:
            return
        new = self.run.started_iso if self.date_filter else (min(high, self._client_cap) if high else None)
        state = self.get_context_state({"account_sid": account})
        old = state.get("replication_key_value") if state.get("replication_key") == self.replication_key else None
        if new and (old is None or new > old):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = new

    # --- the record loop -----------------------------------------------------------------

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:
        for batch in self.record_batches(dict(context or {})):
            yield from batch

    def record_batches(self, ctx: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The records of one partition (or of one parent record's child list), a page at a time."""
        if self.parent_stream_type is not None:
            yield from self._child_batches(ctx)
            return
        if self.per_account and "account_sid" not in ctx:
            return  # no account to read (all filtered out by account_sids, or the main one for alerts)
        self.run.plan_ahead()
        pipeline = self.run.pipeline
        account = ctx.get("account_sid", "")
        seen_null: set[Any] = set()
        counted = 0
        started = time.monotonic()
        units = self.units(ctx)
        for index, unit in enumerate(units):
            high: str | None = None
            try:
                for key, params in unit.lists:
                    for page in pipeline.take(key, self._source(unit, params)):
                        unchanged: list[dict[str, Any]] | None = [] if self._unchanged_have_children else None
                        kept = self._keep(
                            self.records_of(page), unit, ctx, seen_null, unchanged, converted=page.converted
                        )
                        if kept and self.replication_key and unit.window is None:
                            newest = max((r.get(self.replication_key) or "") for r in kept)
                            if newest > (high or ""):
                                high = newest
                        if not page.converted:  # else the worker that fetched the page started them
                            self._prefetch_children(kept + unchanged if unchanged else kept, ctx)
                        for record in unchanged or ():  # not emitted, but their child lists may have changed
                            for child_context in self.generate_child_contexts(record, ctx):
                                self._sync_children(child_context)
                        counted += len(kept)
                        if kept:
                            yield kept
            except TwilioError as exc:
                for later in units[index:]:
                    for key, _ in later.lists:
                        pipeline.skip(key)
                if not self._tolerable(exc, account):
                    raise self._fatal(exc, account) from exc
                return
            self._checkpoint(unit, high)
            if unit.window is not None:
                self._log_progress(account, unit, counted, started)
        for child in self.child_streams:
            if isinstance(child, TwilioStream):
                child.forget_prefetched(account)  # downloads the SDK did not ask for (a stream map dropped the parent)
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
        self,
        records: list[dict[str, Any]],
        unit: Unit,
        context: dict[str, Any],
        seen_null: set[Any],
        unchanged: list[dict[str, Any]] | None = None,
        *,
        converted: bool = False,
    ) -> list[dict[str, Any]]:
        """Convert a page's records (unless a worker did) and keep those that belong to this unit, each once
        (`unchanged` collects the records a client-side bookmark filtered out). No state is read: workers call it.
        A page is handled a filter at a time, in comprehensions: the per-record cost matters (benchmarks/)."""
        if not converted:
            convert = self._convert
            for record in records:
                convert(record)
        for key, value in context.items():  # the partition's keys, where the schema has them and Twilio did not say
            if key in self._properties:
                for record in records:
                    if key not in record:
                        record[key] = value
        window = unit.window
        if window is not None:
            return self._in_window(records, window, seen_null)
        if unit.bookmark is None:
            return records
        key, bookmark = self.replication_key or "", unit.bookmark
        if unit.strict:
            kept = [r for r in records if (v := r.get(key)) is None or v > bookmark]
        else:
            kept = [r for r in records if (v := r.get(key)) is None or v >= bookmark]
        if unchanged is not None and len(kept) < len(records):
            ids = {id(r) for r in kept}
            unchanged += [r for r in records if id(r) not in ids]
        return kept

    def _in_window(self, records: list[dict[str, Any]], window: Window, seen_null: set[Any]) -> list[dict[str, Any]]:
        """The records whose filter field falls in the window; those without one, once per primary key."""
        name, start, end = self.filter_field or "", window.start_iso, window.end_iso
        if self.filter_granularity == "date":  # a day belongs to the window its midnight falls in
            first = start[:10]
            kept = [r for r in records if (v := r.get(name)) is None or (first <= v and f"{v}T00:00:00+00:00" < end)]
        else:
            kept = [r for r in records if (v := r.get(name)) is None or start <= v < end]
        if not any(r.get(name) is None for r in kept):
            return kept
        once = []
        for record in kept:
            if record.get(name) is None:
                pk = tuple(record.get(k) for k in self.primary_keys)
                if pk in seen_null:
                    continue
                seen_null.add(pk)
            once.append(record)
        return once

    # --- child lists ---------------------------------------------------------------------

    @cached_property
    def _children_wanted(self) -> bool:
        return any(child.selected or child.has_selected_descendents for child in self.child_streams)

    @cached_property
    def _unchanged_have_children(self) -> bool:
        return self.children_of_unchanged and bool(self.replication_key) and self._children_wanted

    def _prefetch_children(self, records: list[dict[str, Any]], context: dict[str, Any]) -> None:
        """Start the child lists of a page's records now, so they download in parallel."""
        if not self._children_wanted:
            return
        children = [c for c in self.child_streams if c.selected or c.has_selected_descendents]
        for record in records:
            for child_context in self.generate_child_contexts(record, context):
                if child_context is None:
                    continue
                for child in children:
                    assert isinstance(child, TwilioStream)
                    child.prefetch(dict(child_context))

    def wants(self, context: dict[str, Any]) -> bool:
        """Whether this child list exists for a parent (e.g. a country offers the number type)."""
        return True

    def prefetch(self, context: dict[str, Any]) -> None:
        """Queue every page of this child list for download (from the writer or a parent's worker thread)."""
        if not self.wants(context):
            return
        key = tuple(sorted(context.items()))
        with self._prefetch_lock:
            if key not in self._prefetched:
                params = self._child_params(context)
                self._prefetched[key] = self.run.children.submit(self._fetch_all, context, params)

    def forget_prefetched(self, account: str) -> None:
        """Drop an account's downloads the SDK did not ask for (e.g. a stream map filtered the parent)."""
        with self._prefetch_lock:
            for key in [k for k in self._prefetched if ("account_sid", account) in k]:
                self._prefetched.pop(key).cancel()

    def _fetch_all(self, context: dict[str, Any], params: dict[str, Any] | None) -> list[Page]:
        if params is None:  # an empty window: nothing to ask for
            return []
        return list(self.iter_pages(context, params))

    def _child_window(self, context: dict[str, Any]) -> Window | None:
        """A windowed child list is read in one window per parent: from the account's bookmark (less the
        lookback) to the sync's start; the bookmark moves when the ancestor has read the whole account."""
        if not self.date_filter:
            return None
        account = context.get("account_sid")
        window = self._child_windows.get(account)
        if window is None:
            window = self._child_windows[account] = Window(self.start_time(context), self.run.started_at)
        return window

    def _child_params(self, context: dict[str, Any]) -> dict[str, Any] | None:
        window = self._child_window(context)
        if window is None:
            return {}
        return self.window_params(window) if window.start < window.end else None

    def _child_batches(self, context: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        if not self.wants(context):
            return
        with self._prefetch_lock:
            future = self._prefetched.pop(tuple(sorted(context.items())), None)
        account = context.get("account_sid", "")
        try:
            pages = future.result() if future is not None else self._fetch_all(context, self._child_params(context))
        except TwilioError as exc:
            self._child_failed.add(context.get("account_sid"))
            if self._tolerable(exc, account):
                return
            raise self._fatal(exc, account) from exc
        self._child_read.add(context.get("account_sid"))
        window = self._child_window(context)
        unit = Unit(context, window, (), True, *(self._client_filter(context) if window is None else (None, False)))
        seen_null: set[Any] = set()
        key = self.replication_key
        for page in pages:
            kept = self._keep(self.records_of(page), unit, context, seen_null)
            if kept and key and unit.window is None:
                newest = max((r.get(key) or "") for r in kept)
                if newest > self._child_high.get(context.get("account_sid"), ""):
                    self._child_high[context.get("account_sid")] = newest
            self._prefetch_children(kept, context)
            if kept:
                yield kept

    # --- deletes: ACTIVATE_VERSION of full-table streams ------------------------------------

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # the SDK would activate a new version when each partition *starts*, deleting the rows of accounts not
        # read yet (or skipped, or done by an interrupted run): versions are activated at the end instead
        return False

    @cached_property
    def _versioned(self) -> bool:
        """A selected full-table stream whose rows a complete read replaces; a child only under a full-table parent
        (a child read only for the parents a run emits must keep its other rows)."""
        if not (self.run.settings.emit_activate_version_messages and self.selected):
            return False
        if self.replication_method != REPLICATION_FULL_TABLE:
            return False
        parent = next((s for s in self.run.streams if type(s) is self.parent_stream_type), None)
        return parent is None or parent.replication_method == REPLICATION_FULL_TABLE

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        super().finalize_state_progress_markers(state)
        if state is None and self.parent_stream_type is None:  # the SDK calls this once a stream's sync ends
            self._activate_version(parent_complete=True)

    def _read_completely(self, *, parent_complete: bool) -> bool:
        """Every list of every account (or of every parent) was read in this run; nothing skipped or resumed."""
        if self.replication_method != REPLICATION_FULL_TABLE:
            return False
        if self.parent_stream_type is not None:
            return parent_complete and not self._skipped
        expected = {p["account_sid"] for p in self.partitions} if self.partitions is not None else {WHOLE_STREAM}
        return bool(expected) and expected <= self._read and self._covers_every_account()

    def _covers_every_account(self) -> bool:
        """Whether this run read every account whose rows a target may hold (no shard, none suspended)."""
        accounts = self.run.accounts
        reason = None
        if self.run.settings.account_sids:
            reason = "account_sids limits the run to some accounts"
        elif self.run.settings.shard and not self.run.settings.shard.whole:
            reason = f"shard {self.run.settings.shard} reads only its accounts; tables full_table reads every one"
        elif not accounts.records:
            reason = "the credentials cannot list the accounts"
        elif len(accounts.synced) < len(accounts.records):
            reason = "an account is not active"
        if reason:
            self.logger.info("%s: rows deleted in Twilio are not reported to the target (%s)", self.name, reason)
        return reason is None

    def _activate_version(self, *, parent_complete: bool) -> None:
        """Tell the target that this run's rows are the whole table, when they are; children after their parent."""
        complete = self._read_completely(parent_complete=parent_complete)
        if complete and self._versioned:
            self._write_schema_message()  # the target needs the stream even when no row was read
            self._write_activate_version_message(self._initialized_at)
        for child in self.child_streams:
            if isinstance(child, TwilioStream) and (child.selected or child.has_selected_descendents):
                child._activate_version(parent_complete=complete)

    # --- reporting -----------------------------------------------------------------------

    def _fatal(self, exc: Exception, account: str) -> TwilioError:
        return TwilioError(f"stream '{self.name}', account {account or '-'}: {exc}")

    def _skip(self, account: str, exc: TwilioAPIError) -> None:
        """An account this stream cannot read is skipped with one warning; the others go on."""
        self.run.skip(self.name, account, exc.status)
        if account not in self._skipped:
            self._skipped.add(account)
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
