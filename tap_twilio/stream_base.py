"""StreamBase: what every Twilio list declares (its table row), its requests and pages, record typing and filters."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from singer_sdk import RESTStream
from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams.rest import PageContext
from typing_extensions import override

from tap_twilio.convert import converter
from tap_twilio.http import ACCESS_STATUSES, TwilioAPIError, TwilioError
from tap_twilio.page import Page
from tap_twilio.pagination import follow_pages, records_in
from tap_twilio.partition_state import IndexedStateManager
from tap_twilio.typed import UNSET, RecordDecoder, typed_getter

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context

    from tap_twilio.http import TwilioClient
    from tap_twilio.prefetch import Ticket
    from tap_twilio.run import SyncRun
    from tap_twilio.windows import Unit, Window

ALERT_RETENTION = dt.timedelta(days=30)  # Monitor keeps 30 days
MESSAGE_RETENTION = dt.timedelta(days=400)  # messages/recordings older than 400 days answer 20004
NUMBER_CACHE_MAX = 20_000
WHOLE_STREAM = "*"  # the "account" of a stream that is not read per account
_BYPASSED = (
    "TwilioStream does not use the SDK's request path: requests go through SyncRun.client_for "
    "(credentials per account, retries, limits) and pagination.follow_pages"
)


def _bypassed(*_: Any, **__: Any) -> NoReturn:
    raise NotImplementedError(_BYPASSED)


def _not_a_dry_run_stop(record: logging.LogRecord) -> bool:
    """Drop the SDK's "unhandled error" line when the error is `--test` stopping a stream after one record."""
    return not isinstance(sys.exc_info()[1], (AbortedSyncFailedException, AbortedSyncPausedException))


class StreamBase(RESTStream[Any]):
    """A Twilio list's declaration, requests, typing and filters; subclasses and ENDPOINTS rows set what differs.

    The SDK's request path (requests_session, authenticator, validate_response, backoff_*, request_records,
    parse_response, paginator) is bypassed on purpose: a sync reads many accounts, each product API with that
    account's own credentials, with lists of several streams in flight at once. Requests go through the run
    (`self.run.client_for`), pages through `follow_pages`, and those SDK hooks raise instead of being ignored.
    """

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
    newest_first: ClassVar[bool] = False  # Twilio documents the list as sorted newest first by filter_field
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
        self._children_written = False  # the page being written had its children written by an interrupted run
        self._base: dict[str, str] = {}  # per account: where this run's windows start (the low watermark's origin)
        self._finished: dict[str, list[tuple[str, str]]] = {}  # per account: finished windows beyond the watermark
        self._prefetched: dict[tuple[tuple[str, Any], ...], Ticket[list[Page]]] = {}
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

    @property
    @override
    def state_manager(self) -> IndexedStateManager:
        # the SDK's property builds its StreamStateManager, which finds an account's state by a scan of every
        # account's (partition_state.py): the same manager, with an index
        if not isinstance(self._state_manager, IndexedStateManager):
            self._state_manager = IndexedStateManager(
                tap_name=self.tap_name,
                stream_name=self.name,
                tap_state=self._tap_state,
                state_partitioning_keys=self.state_partitioning_keys,
                is_sorted=self.is_sorted,
                check_sorted=self.check_sorted,
            )
        return self._state_manager

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

    def iter_pages(
        self, context: dict[str, Any], params: dict[str, Any], *, dated: Callable[[], bool] | None = None
    ) -> Iterator[Page]:
        """Every page of one list (called from worker threads); `dated`: a page's filter dates are read with its
        next link when `dated()` says, as it is asked for (lists.ListsStream._split and _passed will read them)."""
        account = context.get("account_sid")
        client = self.run.client_for(account, self.product)
        request = self.get_http_request(page=PageContext(context, None))
        request.params.update(params)
        root = self.run.settings.base_url(self.product)
        pages = follow_pages(
            client,
            request.url,
            request.params or None,
            root=root,
            headers=request.headers,
            label=self.name,
            sizes=self.run.page_sizes,  # smaller pages after repeated 5xx (pagination.PageSizes)
            fields=(self.list_key or self.name, self.filter_field or "") if dated else None,
            fields_wanted=dated,
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
        decoder = self._record_decoder if self.typed_records else None
        records = page.typed(decoder) if decoder is not None else None
        return records if records is not None else records_in(page, self.list_key or self.name, self.name)

    @property
    def typed_records(self) -> bool:
        """Whether records_of decodes a page into typed records (typed.py); TwilioStream says where it does."""
        return False

    @cached_property
    def _record_decoder(self) -> RecordDecoder | None:
        """Decodes a page into typed records (typed.py): lists of records, not single objects or detail reads."""
        if self.single_object or self.detail_path:
            return None
        # the fields the hot path reads by attribute are built; the rest pass through as Twilio's JSON text
        read = {*self._date_fields, *self._number_fields, self.replication_key, self.filter_field}
        names = list(self.schema["properties"])
        return RecordDecoder(self.name, self.list_key or self.name, names, frozenset(n for n in names if n in read))

    @cached_property
    def _convert(self) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """Types a record in place: ISO-8601 UTC dates, exact numbers, no secrets (see converter())."""
        return self._converter(None)

    @cached_property
    def _convert_page(self) -> Callable[[list[dict[str, Any]]], None]:
        """_convert for a page's records, in one loop."""
        return self._converter(None, page=True)

    @cached_property
    def _convert_typed_page(self) -> Callable[[list[Any]], None]:
        """_convert_page for typed records (by attribute)."""
        fields = self._record_decoder.record_type.fields if self._record_decoder else {}
        return self._converter(fields, page=True)

    def _converter(
        self, attributes: dict[str, str] | None, *, page: bool = False, compiled: bool = True
    ) -> Callable[[Any], Any]:
        """converter() of this stream's fields (`compiled`: the C converter of typed pages where there is one)."""
        fields = (self._date_fields, self._number_fields, self._drop_fields)
        return converter(
            self.name,
            *fields,
            parsed=self._numbers,
            parse_number=self._parse_number,
            attributes=attributes,
            page=page,
            compiled=compiled,
        )

    def convert_records(self, records: list[Any]) -> None:
        """Type a page's records in place (dicts, or typed records: a page holds one kind)."""
        if records:
            (self._convert_page if records[0].__class__ is dict else self._convert_typed_page)(records)

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

    def window_lists(self, context: dict[str, Any], window: Window) -> tuple[tuple[Hashable, dict[str, Any]], ...]:
        """The lists that read one window of a partition (one per param set)."""
        params = [{**self.window_params(window), **p} for p in self.param_sets]
        return self._lists(tuple(sorted(context.items())), window, params)

    def _lists(
        self, ctx_key: Hashable, window: Window | None, params: list[dict[str, Any]]
    ) -> tuple[tuple[Hashable, dict[str, Any]], ...]:
        span = (window.start_iso, window.end_iso) if window else None
        return tuple(((self.name, ctx_key, span, tuple(sorted(p.items()))), p) for p in params)

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
            self.convert_records(records)
        for key, value in context.items():  # the partition's keys, where the schema has them and Twilio did not say
            if key in self._properties:
                field = typed_getter(records, key, raw=True)  # absent or not: a raw field need not be decoded
                if field is not None:
                    for record in [r for r in records if field(r) is UNSET]:
                        record[key] = value
                    continue
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
        field = typed_getter(records, name)  # typed records: the field by attribute (UNSET where absent)
        if self.filter_granularity == "date":  # a day belongs to the window its midnight falls in
            first = start[:10]
            kept = [r for r in records if (v := r.get(name)) is None or (first <= v and f"{v}T00:00:00+00:00" < end)]
            if not any(r.get(name) is None for r in kept):
                return kept
        elif field is not None:
            try:  # every record has the field (the usual page): one pass, no second one looking for nulls
                return [r for r in records if start <= field(r) < end]
            except TypeError:  # a record without it (UNSET) or null: kept, each once (below)
                kept = [r for r in records if (v := field(r)) is None or v is UNSET or start <= v < end]
            if not any((v := field(r)) is None or v is UNSET for r in kept):
                return kept
        else:
            try:  # every record has the field (the usual page): one pass, no second one looking for nulls
                return [r for r in records if start <= r[name] < end]
            except (KeyError, TypeError):  # a record without it (or null): kept, each once (below)
                kept = [r for r in records if (v := r.get(name)) is None or start <= v < end]
            if not any(r.get(name) is None for r in kept):
                return kept
        once = []
        for record in kept:
            if (v := record.get(name) if field is None else field(record)) is None or v is UNSET:
                pk = tuple(record.get(k) for k in self.primary_keys)
                if pk in seen_null:
                    continue
                seen_null.add(pk)
            once.append(record)
        return once

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
        self.logger.log(
            logging.INFO if self.run.progress_due(self.name, account) else logging.DEBUG,  # every window: DEBUG
            "%s %s: read %s..%s, %d records so far (%.0f/s)",
            self.name,
            account,
            window.start_iso,
            window.end_iso,
            counted,
            counted / elapsed,
        )
