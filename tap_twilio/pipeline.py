"""Lists fetched ahead by worker threads and handed, in the order asked for, to the one thread that writes.

Nothing here knows about Twilio. A *lane* is one list (an iterator of pages) that a worker drains into a small
queue; the *pipeline* keeps up to `width` lanes of a predicted order in flight, so the next lists (of this
stream or of the streams after it) download while the writer is busy, and hands a lane over when the writer
asks for its key. The prediction only decides what is fetched early: a key asked for out of order is started
on demand, and lanes the writer passed over are stopped, so output never depends on it.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator

T = TypeVar("T")
POLL_SECONDS = 0.2


class Executor(Protocol):
    """Where lanes run (a thread pool, or `DaemonExecutor`)."""

    def submit(self, fn: Callable[[], object], /) -> object:
        """Run `fn` on a worker."""


class CancelledError(Exception):
    """The run was cancelled while the writer waited for a page."""


class _Done:
    """End of a lane."""


_DONE = _Done()


class _Failed:
    """The worker's exception, handed to the writer in order."""

    def __init__(self, error: BaseException) -> None:
        """Keep the exception."""
        self.error = error


class Gauge:
    """Items waiting in every lane's queue, and the most at any time (the memory a pipeline holds)."""

    def __init__(self) -> None:
        """Start empty."""
        self.current = 0
        self.peak = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        """Items put (+) or taken (-)."""
        with self._lock:
            self.current += n
            self.peak = max(self.peak, self.current)


class Lane(Generic[T]):
    """One list: a worker puts its items into a bounded queue, the writer takes them in order."""

    def __init__(
        self, source: Callable[[], Iterable[T]], *, depth: int, cancel: threading.Event, gauge: Gauge | None = None
    ) -> None:
        """Nothing runs until `run` is called on a worker."""
        self._source = source
        self._cancel = cancel
        self._gauge = gauge or Gauge()
        self._stop = threading.Event()
        self._queue: queue.Queue[T | _Done | _Failed] = queue.Queue(depth)
        self.started = False

    def run(self) -> None:
        """Worker side: put every item, waiting while the writer is `depth` items behind."""
        try:
            for item in self._source():
                self._gauge.add(1)
                if not self._put(item):
                    self._gauge.add(-1)
                    return
            self._put(_DONE)
        except BaseException as exc:
            self._put(_Failed(exc))

    def _put(self, item: T | _Done | _Failed) -> bool:
        while not (self._stop.is_set() or self._cancel.is_set()):
            try:
                self._queue.put(item, timeout=POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def items(self) -> Iterator[T]:
        """Writer side: the items in order; the worker's exception is raised where it happened."""
        while True:
            try:
                item = self._queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self._cancel.is_set():
                    msg = "sync cancelled"
                    raise CancelledError(msg) from None
                continue
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            self._gauge.add(-1)
            yield item

    def stop(self) -> None:
        """Stop the worker at its next item (the writer no longer wants this list)."""
        self._stop.set()


class Pipeline(Generic[T]):
    """Up to `width` lanes of a planned order in flight; the writer takes each by key."""

    def __init__(self, executor: Executor, *, width: int, depth: int, cancel: threading.Event) -> None:
        """A pool `executor` needs `width + 2` workers: lanes waiting on a slow writer hold theirs."""
        self._executor = executor
        self._width = max(1, width)
        self._depth = depth
        self._cancel = cancel
        self._plans: list[Iterator[tuple[Hashable, Callable[[], Iterable[T]]]]] = []
        self._ahead: OrderedDict[Hashable, Lane[T]] = OrderedDict()
        self._taken: set[Hashable] = set()
        self._lock = threading.Lock()
        self.max_ahead = 0  # most lanes started ahead of the writer at once, for the benchmark
        self.gauge = Gauge()  # items (pages) waiting for the writer, now and at most

    def plan(self, lanes: Iterable[tuple[Hashable, Callable[[], Iterable[T]]]]) -> None:
        """Append lanes the writer is expected to take, in that order; they start as slots free up."""
        with self._lock:
            self._plans.append(iter(lanes))
        self._fill()

    def _next_planned(self) -> tuple[Hashable, Callable[[], Iterable[T]]] | None:
        while self._plans:
            planned = next(self._plans[0], None)
            if planned is None:
                self._plans.pop(0)
                continue
            if planned[0] not in self._taken and planned[0] not in self._ahead:
                return planned
        return None

    def _fill(self) -> None:
        with self._lock:
            while len(self._ahead) < self._width and not self._cancel.is_set():
                planned = self._next_planned()
                if planned is None:
                    break
                key, source = planned
                self._ahead[key] = self._start(source)
            self.max_ahead = max(self.max_ahead, len(self._ahead))

    def _start(self, source: Callable[[], Iterable[T]]) -> Lane[T]:
        lane = Lane(source, depth=self._depth, cancel=self._cancel, gauge=self.gauge)
        self._executor.submit(lane.run)
        lane.started = True
        return lane

    def take(self, key: Hashable, source: Callable[[], Iterable[T]]) -> Iterator[T]:
        """The items of one list: from its lane if started ahead, else fetched now from `source`."""
        with self._lock:
            self._taken.add(key)
            if key in self._ahead:
                for earlier in list(self._ahead):  # lanes planned before this one were passed over
                    if earlier == key:
                        break
                    self._ahead.pop(earlier).stop()
                lane = self._ahead.pop(key)
            else:
                lane = self._start(source)
        self._fill()
        try:
            yield from lane.items()
        finally:
            lane.stop()
            self._fill()

    def skip(self, key: Hashable) -> None:
        """The writer will not take this list (e.g. its account was skipped): stop it if it runs."""
        with self._lock:
            self._taken.add(key)
            lane = self._ahead.pop(key, None)
        if lane is not None:
            lane.stop()
        self._fill()

    def close(self) -> None:
        """Stop everything still running or planned."""
        with self._lock:
            self._plans.clear()
            for lane in self._ahead.values():
                lane.stop()
            self._ahead.clear()


class DaemonExecutor:
    """Runs each task on a new daemon thread: a lane left waiting on a writer that stopped early (a dry run,
    an error) can never keep the process alive."""

    def submit(self, fn: Callable[[], object]) -> None:
        """Start `fn` now."""
        threading.Thread(target=fn, daemon=True, name="twilio-list").start()
