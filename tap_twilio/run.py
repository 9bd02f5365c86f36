"""SyncRun: what one sync shares. Streams reach it as `self.run`; the tap creates and closes it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from tap_twilio import __version__
from tap_twilio.accounts import AccountDirectory
from tap_twilio.dates import UTC, format_iso
from tap_twilio.http import (
    HTTP_FORBIDDEN_OR_UNAUTHORIZED,
    Gate,
    RetryPolicy,
    TwilioAPIError,
    TwilioClient,
)
from tap_twilio.pagination import PageSizes
from tap_twilio.pipeline import Pipeline
from tap_twilio.prefetch import Prefetch
from tap_twilio.summary import Closing
from tap_twilio.windows import Split
from tap_twilio.workers import DaemonExecutor

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator

    from singer_sdk.helpers.types import TapState

    from tap_twilio.config import Settings
    from tap_twilio.page import Page
    from tap_twilio.writer import BufferedMsgSpecWriter

PAGES_AHEAD = 2  # pages one list buffers at most: a kill loses little, and many lists keep every slot busy
RECORD_BYTES = 1200  # about what one record weighs in a page (a message: 0.9-1.1 kB), until pages were seen
STATE_SHARE = 0.1  # checkpoints write STATE while STATEs stay within this share of the bytes the tap writes ...
STATE_SMALL_BYTES = 16 << 10  # ... or while a STATE is this small (a few accounts): every checkpoint then writes it
PROGRESS_SECONDS = 30.0  # a long list logs its progress at INFO this often (every window at DEBUG)
PROGRESS = "progress"  # state key of an unfinished run: which streams and accounts it completed


class SyncRun:
    """One sync's shared parts: clock, clients per credentials, workers, cancellation, skips, warnings, accounts."""

    def __init__(self, settings: Settings, logger: logging.Logger, writer: BufferedMsgSpecWriter | None = None) -> None:
        """Cheap: nothing is requested and no thread starts until a stream needs it."""
        self.settings = settings
        self.logger = logger
        self.writer = writer  # the lean record path writes here (None: every record goes through the SDK)
        self.started_at = dt.datetime.now(UTC).replace(microsecond=0)  # until Twilio answered: see set_clock
        self.began = time.monotonic()
        self._progress_at: dict[tuple[str, str], float] = {}
        self.set_clock(self.started_at)
        self.cancel = threading.Event()
        self.stop_signal: int | None = None  # the signal that stopped the run (stop.Stopper)
        self.accounts = AccountDirectory(self)
        self.page_sizes = PageSizes(logger)  # smaller pages for the streams Twilio failed on at the configured size
        self.skipped: list[tuple[str, str, int]] = []
        self.resuming = False
        self.streams: list[Any] = []  # every stream, registered at creation (the SDK syncs them by name)
        self.summaries: list[Callable[[], str | None]] = []  # lines a stream adds to the closing summary
        self._warned: set[str] = set()
        self._clients: dict[tuple[str, str], TwilioClient] = {}
        self._lock = threading.Lock()
        self._pipeline: Pipeline[Page | Split] | None = None
        self._children: ThreadPoolExecutor | None = None
        self._planned = False
        self._state_size = 0  # the last STATE's bytes
        self._state_bytes = 0  # the bytes of every STATE checkpoints wrote
        self._closed = False

    def set_clock(self, now: dt.datetime) -> None:
        """The moment this run reads up to (windows end there; bookmarks never pass it)."""
        self.started_at = now
        self.started_iso = format_iso(now)
        self.start_date = self.settings.first_day(now)
        self.start_date_iso = format_iso(self.start_date)

    def sync_clock(self) -> None:
        """Start the run at Twilio's time, read from its first answer, not at this host's (which may be minutes
        off): a host ahead would skip what changed in those minutes, one behind would read them twice."""
        clock = self.gate.clock
        if clock.offset is not None:
            self.set_clock(clock.now())
            self.logger.debug(
                "Twilio's clock is %+.1fs from this host's; the run reads up to %s", clock.offset, self.started_iso
            )

    # --- HTTP -------------------------------------------------------------------------------------

    @cached_property
    def gate(self) -> Gate:
        """The global request cap, retry policy and request counts all clients share."""
        s = self.settings
        policy = RetryPolicy(
            max_retries=s.max_retries,
            backoff_base=s.backoff_base_seconds,
            backoff_max=s.backoff_max_seconds,
            connect_timeout=s.connect_timeout_seconds,
            read_timeout=s.request_timeout_seconds,
            unreachable_seconds=s.connect_timeout_seconds,  # a host that never answered gets this long in all
        )
        return Gate(
            s.max_concurrency, policy, s.user_agent or f"tap-twilio/{__version__}", s.max_concurrency_per_account
        )

    def client(self, auth: tuple[str, str] | None = None) -> TwilioClient:
        """The client of a set of credentials (default: the configured ones), created once per run."""
        auth = auth or self.settings.auth
        with self._lock:
            client = self._clients.get(auth)
            if client is None:
                client = self._clients[auth] = TwilioClient(auth, self.gate)
            return client

    def client_for(self, account_sid: str | None, product: str) -> TwilioClient:
        """Who reads an account's data. The main account's auth token reaches every account's 2010 resources. A
        product API returns only the authenticating account's data, and a main account's API key reaches only the
        main account ("Main account API Keys are only available to access main account resources"), so those read
        a subaccount with its own credentials, from the account listing (the main account: the configured ones)."""
        if not account_sid or (product == "api" and not self.settings.uses_api_key):
            return self.client()
        auth = self.accounts.credentials(account_sid)
        if auth is None:
            raise TwilioAPIError(401, f"/Accounts/{account_sid}", None, "the account listing gave no credentials")
        return self.client(auth)

    # --- workers ----------------------------------------------------------------------------------

    @property
    def pipeline(self) -> Pipeline[Page | Split]:
        """Lists in flight ahead of the writer, across accounts, windows and streams."""
        with self._lock:
            if self._pipeline is None:
                self._pipeline = Pipeline(
                    DaemonExecutor(),
                    width=self.settings.max_concurrency,
                    budget=self.settings.read_ahead_bytes,
                    cancel=self.cancel,
                    size=_page_bytes,
                    estimate=self.settings.page_size * RECORD_BYTES,
                    depth=PAGES_AHEAD,
                    urgent=lambda item: isinstance(item, Split),  # a dense window's older ranges start at once
                    kind=_stream_of,  # one stream's big pages must not hold back every small list
                )
            return self._pipeline

    def plan_ahead(self) -> None:
        """Once per run: queue every list of every stream to sync, in sync order, for reading ahead."""
        with self._lock:
            if self._planned:
                return
            self._planned = True
        self.pipeline.plan(self._lanes())

    def _lanes(self) -> Iterator[tuple[Hashable, Callable[[], Iterable[Page | Split]]]]:
        try:
            for stream in sorted(self.streams, key=lambda s: s.name):  # the SDK syncs streams by name
                yield from stream.planned_lanes()
        except Exception:
            self.logger.debug("Reading ahead stopped", exc_info=True)

    @cached_property
    def prefetch(self) -> Prefetch[list[Page]]:
        """Child lists fetched in the order the writer takes them: the writer's own at most the process cap ahead of
        it, those of lists read ahead three quarters of that besides, or what the writer's leave of theirs (a kill
        loses at most those)."""
        return Prefetch(self.children, self.settings.max_concurrency)

    @property
    def children(self) -> ThreadPoolExecutor:
        """Workers for child lists (media, participants, …), so they never wait behind lists."""
        with self._lock:
            if self._children is None:
                # more than run.prefetch's two rooms hold: a list the writer takes before its turn starts at once
                self._children = ThreadPoolExecutor(
                    2 * self.settings.max_concurrency, thread_name_prefix="twilio-child"
                )
            return self._children

    # --- bookkeeping ------------------------------------------------------------------------------

    def state_due(self) -> bool:
        """Whether a checkpoint should write STATE now. A STATE holds every stream and account, and the target parses
        each one: with hundreds of accounts, one per checkpoint was 96% of the output (200 subaccounts: 846 MB of
        STATE for 35,000 records). So STATEs over STATE_SMALL_BYTES wait while they would exceed STATE_SHARE of the
        bytes written (a stream's end writes one anyway)."""
        writer = self.writer
        with self._lock:
            size = self._state_size
            if size <= STATE_SMALL_BYTES or writer is None:
                return True
            return self._state_bytes + size <= STATE_SHARE * writer.bytes_written

    def state_written(self, size: int) -> None:
        """A checkpoint wrote a STATE of this many bytes."""
        with self._lock:
            self._state_size = size
            self._state_bytes += size

    def warn_once(self, key: str, message: str) -> None:
        """Log a warning the first time only."""
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        self.logger.warning(message)

    def skip(self, stream: str, account: str, status: int) -> None:
        """Record that an account could not be read for a stream (reported at the end)."""
        with self._lock:
            self.skipped.append((stream, account, status))

    # --- progress of an interrupted run (resume) ----------------------------------------------------

    def begin(self, tap_state: TapState) -> None:
        """Start a run: resume an interrupted one (its completed lists are skipped), or mark a new one."""
        state = _plain(tap_state)
        progress = state.get(PROGRESS)
        self.resuming = isinstance(progress, dict)
        if self.resuming:
            self.logger.info("Resuming an interrupted run: streams and accounts it completed are skipped")
        else:
            state[PROGRESS] = {"started": self.started_iso, "done": {}}

    def done(self, tap_state: TapState, stream: str, account: str) -> bool:
        """Whether the interrupted run this one resumes completed this stream for this account."""
        if not self.resuming:
            return False
        state = _plain(tap_state)
        return account in state.get(PROGRESS, {}).get("done", {}).get(stream, ())

    def mark_done(self, tap_state: TapState, stream: str, account: str) -> None:
        """This stream is complete for this account (written with the next STATE)."""
        state = _plain(tap_state)
        done = state.setdefault(PROGRESS, {"started": self.started_iso, "done": {}}).setdefault("done", {})
        accounts = done.setdefault(stream, [])
        if account not in accounts:
            accounts.append(account)

    def finished_windows(self, tap_state: TapState, stream: str, account: str) -> list[tuple[str, str]]:
        """Windows past the bookmark that the interrupted run this one resumes read completely."""
        if not self.resuming:
            return []
        windows = _plain(tap_state).get(PROGRESS, {}).get("windows", {}).get(stream, {}).get(account, [])
        return [(str(first), str(last)) for first, last in windows]

    def note_windows(self, tap_state: TapState, stream: str, account: str, windows: list[tuple[str, str]]) -> None:
        """The windows past the bookmark this run read completely (written with the next STATE)."""
        progress = _plain(tap_state).setdefault(PROGRESS, {"started": self.started_iso, "done": {}})
        by_stream = progress.setdefault("windows", {})
        if windows:
            by_stream.setdefault(stream, {})[account] = [list(w) for w in windows]
        elif account in by_stream.get(stream, {}):
            del by_stream[stream][account]
            if not by_stream[stream]:
                del by_stream[stream]

    def written_records(self, tap_state: TapState, stream: str, account: str) -> dict[str, int]:
        """Per window ("start/end"): how many leading records the interrupted run wrote with their children."""
        if not self.resuming:
            return {}
        written = _plain(tap_state).get(PROGRESS, {}).get("written", {}).get(stream, {}).get(account, {})
        return {str(span): int(count) for span, count in written.items()}

    def note_written(self, tap_state: TapState, stream: str, account: str, span: str, count: int | None) -> None:
        """A window's leading records written with their children (None: the window is finished, forget it)."""
        progress = _plain(tap_state).setdefault(PROGRESS, {"started": self.started_iso, "done": {}})
        by_stream = progress.setdefault("written", {})
        if count is not None:
            by_stream.setdefault(stream, {}).setdefault(account, {})[span] = count
            return
        windows = by_stream.get(stream, {}).get(account, {})
        windows.pop(span, None)
        if not windows:
            by_stream.get(stream, {}).pop(account, None)
            if stream in by_stream and not by_stream[stream]:
                del by_stream[stream]

    def finish(self, tap_state: TapState) -> None:
        """The whole run completed: the next run is a normal one again."""
        _plain(tap_state).pop(PROGRESS, None)

    # --- the end ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every worker and list still running."""
        if self._closed:
            return
        self._closed = True
        self.cancel.set()
        if self._pipeline is not None:
            self._pipeline.close()
        if self._children is not None:
            self._children.shutdown(wait=False, cancel_futures=True)
        if "gate" in self.__dict__:
            self.gate.connections.close()

    def stop_requests(self, signum: int) -> None:
        """A signal asked the run to stop: no list and no request starts from now on (safe in a signal handler)."""
        self.stop_signal = signum
        self.cancel.set()
        if "gate" in self.__dict__:
            self.gate.stopped.set()

    def progress_due(self, stream: str, account: str) -> bool:
        """Whether a long list's progress goes to INFO now (at most one line per PROGRESS_SECONDS for each)."""
        now = time.monotonic()
        with self._lock:
            last = self._progress_at.setdefault((stream, account), self.began)
            if now - last < PROGRESS_SECONDS:
                return False
            self._progress_at[stream, account] = now
            return True

    def report(self, outcome: str = "Sync completed", note: str = "") -> None:
        """The closing lines: accounts not readable, request figures, and the outcome (summary.Closing)."""
        Closing(
            self.logger,
            gate=self.gate if "gate" in self.__dict__ else None,
            pipeline=self._pipeline,
            records=dict(self.writer.records) if self.writer is not None else {},
            seconds=time.monotonic() - self.began,
            lines=[line for summary in self.summaries if (line := summary())],
        ).report(self.skipped, outcome, note)

    def inaccessible(self) -> list[str]:
        """Accounts whose credentials were rejected (401) or that refused the 2010 API (403) in this run; a product
        answering 403 is a feature the account lacks (Voice Insights: 20403), not an account out of reach."""
        product = {stream.name: stream.product for stream in self.streams}
        return sorted(
            {
                account
                for stream, account, status in self.skipped
                if status == 401 or (status in HTTP_FORBIDDEN_OR_UNAUTHORIZED and product.get(stream) == "api")
            }
        )


def _stream_of(key: Hashable) -> Hashable:
    """The stream of a list's key (see StreamBase._lists)."""
    return key[0] if isinstance(key, tuple) else key


def _page_bytes(item: Page | Split) -> int:
    """What a page waiting for the writer weighs (its bytes; a split weighs nothing)."""
    return getattr(item, "nbytes", 0)


def _plain(tap_state: TapState) -> dict[str, Any]:
    """The SDK types its state as the keys it knows; the resume marker is one key more."""
    return cast("dict[str, Any]", tap_state)
