"""Lists fetched ahead by worker threads, handed to the one thread that writes as their pages become ready.

Nothing here knows about Twilio. A *lane* is one list (an iterator of items) that a worker drains into its buffer.
The *pipeline* keeps up to `width` lanes of a planned order started ahead, so the next lists (of this partition, or of
the streams after it) download while the writer is busy. The writer takes a *group* of lanes (one partition's
lists) and gets whichever item is ready first, preferring the earliest lane of the group; lanes can join a group
while it is being taken (a list split into smaller ones). How far the lanes run ahead is bounded by bytes: a
worker starts its next request only while the pages waiting for the writer weigh less than the budget, unless the
writer is waiting for that very lane's group with nothing of it buffered (so the writer never waits on the budget).
The plan only decides what is fetched early: a list asked for out of order is started on demand, lanes the writer
passed over are stopped, so output never depends on it.
"""

from __future__ import annotations

import threading
from collections import deque
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


class End:
    """Handed to the writer after a lane's last item: that list was read to the end."""


END = End()


class Gauge:
    """Bytes (and items) waiting for the writer in every lane, and the most at any time (the pipeline's memory)."""

    def __init__(self) -> None:
        """Start empty."""
        self.current = 0
        self.peak = 0
        self.items = 0
        self.peak_items = 0

    def add(self, size: int, items: int) -> None:
        """Items put (+) or taken (-); callers hold the pipeline's lock."""
        self.current += size
        self.items += items
        self.peak = max(self.peak, self.current)
        self.peak_items = max(self.peak_items, self.items)


class Lane(Generic[T]):
    """One list: its worker appends items; the writer pops them. All fields are guarded by the pipeline's lock."""

    def __init__(self, key: Hashable, source: Callable[[], Iterable[T]], lock: threading.RLock) -> None:
        """Nothing runs until the pipeline submits `run`."""
        self.key = key
        self.source = source
        self.room = threading.Condition(lock)  # its worker waits here for room (see Pipeline._wake)
        self.notified = False  # woken for room and not yet running again
        self.items: deque[tuple[T, int]] = deque()
        self.done = False
        self.error: BaseException | None = None
        self.stopped = False
        self.group: Group[T] | None = None  # the group the writer takes this lane in
        self.fetching_for: Group[T] | None = None  # the group its fetch in progress counts in
        self.seq = 0  # lanes are numbered as they start: the plan's order
        self.kind: Hashable = None  # lanes of a kind weigh alike (see Pipeline)
        self.weight = 0  # what its fetch in progress counts in the budget


class Group(Generic[T]):
    """Lanes the writer takes together; it gets (key, item) as items become ready and (key, END) when one ends."""

    def __init__(self, pipeline: Pipeline[T]) -> None:
        """Empty: lanes join with `add`."""
        self._pipeline = pipeline
        self.lanes: list[Lane[T]] = []
        self.waiting = False  # the writer waits for this group with nothing of it buffered
        self.fetching = 0  # its lanes fetching an item now

    def add(self, lists: Iterable[tuple[Hashable, Callable[[], Iterable[T]]]]) -> None:
        """Take these lists too (started now unless they run already)."""
        self._pipeline.join(self, lists)

    def __iter__(self) -> Iterator[tuple[Hashable, T | End]]:
        """Ready items in lane order, then each lane's END; a worker's exception is raised where it happened."""
        pipeline = self._pipeline
        cv = pipeline.cv
        while True:
            with cv:
                found = None
                while found is None:
                    # an urgent item first (a split: its lists start at once), else the earliest lane that is ready
                    urgent = (lane for lane in self.lanes if lane.items and pipeline.urgent(lane.items[0][0]))
                    ready = (lane for lane in self.lanes if lane.items or lane.done or lane.error is not None)
                    found = next(urgent, None) or next(ready, None)
                    if found is None:
                        if not self.lanes:
                            return
                        if pipeline.cancel.is_set():
                            msg = "sync cancelled"
                            raise CancelledError(msg)
                        self.waiting = True
                        pipeline.wake()
                        cv.wait(POLL_SECONDS)
                self.waiting = False
                if found.items:
                    item, size = found.items.popleft()
                    pipeline.gauge.add(-size, -1)
                    pipeline.wake()
                    result: tuple[Hashable, T | End] = (found.key, item)
                elif found.error is not None:
                    error = found.error
                    self.close()
                    raise error
                else:
                    self.lanes.remove(found)
                    if pipeline.lanes.get(found.key) is found:
                        del pipeline.lanes[found.key]
                    result = (found.key, END)
            yield result

    def close(self) -> None:
        """Stop every lane of the group (the writer will take no more of it)."""
        with self._pipeline.cv:
            for lane in self.lanes:
                self._pipeline.drop(lane)
            self.lanes.clear()


class Pipeline(Generic[T]):
    """Up to `width` lanes of a planned order started ahead of the writer, their buffers bounded by `budget` bytes."""

    def __init__(
        self,
        executor: Executor,
        *,
        width: int,
        budget: int,
        cancel: threading.Event,
        size: Callable[[T], int] = lambda _: 1,
        estimate: int = 1,
        depth: int = 1_000_000,
        urgent: Callable[[T], bool] = lambda _: False,
        kind: Callable[[Hashable], Hashable] = lambda _: None,
    ) -> None:
        """`size` weighs an item in bytes; a fetch in progress counts at the largest item seen of its lane's `kind`
        (`estimate`: before any was seen). A lane buffers at most `depth` items. A pool `executor` needs `width`
        workers plus those of the groups taken."""
        self._executor = executor
        self._width = max(1, width)
        self.budget = max(1, budget)
        self.cancel = cancel
        self._size = size
        self._estimate = estimate
        self._depth = depth
        self.urgent = urgent  # items handed to the writer before the other lanes' (whatever the lane's place)
        self._kind = kind  # e.g. the stream: one stream's big pages must not make every small list wait for room
        # one lock: the writer waits on `cv` for items, each lane's worker on its own condition for room, so that a
        # page put or taken wakes the writer and the lanes that may fetch now, not every lane of every partition
        # (with a partition's 90 windows started at once, waking all of them at every page cost a tenth of the CPU)
        self._lock = threading.RLock()
        self.cv = threading.Condition(self._lock)
        self._waiting: list[Lane[T]] = []  # lanes whose worker waits for room, in the order they began to
        self._plans: list[Iterator[tuple[Hashable, Callable[[], Iterable[T]]]]] = []
        self.lanes: dict[Hashable, Lane[T]] = {}  # started and not yet taken to the end or dropped
        self._ahead: list[Hashable] = []  # started from the plan, in plan order, not yet in a group
        self._taken: set[Hashable] = set()
        self._running = 0
        self._started = 0
        self._fetching = 0  # lanes fetching an item now
        self._fetching_bytes = 0  # what they may add (the sum of their weights)
        self._largest: dict[Hashable, int] = {}  # the largest item seen of each kind (None: of any)
        self.max_running = 0  # most lanes running at once, for the benchmark
        self.max_ahead = 0  # most lanes started ahead of the writer at once
        self.gauge = Gauge()

    def plan(self, lanes: Iterable[tuple[Hashable, Callable[[], Iterable[T]]]]) -> None:
        """Append lanes the writer is expected to take, in that order; they start as the width allows."""
        with self.cv:
            self._plans.append(iter(lanes))
        self._fill()

    def _next_planned(self) -> tuple[Hashable, Callable[[], Iterable[T]]] | None:
        while self._plans:
            planned = next(self._plans[0], None)
            if planned is None:
                self._plans.pop(0)
                continue
            if planned[0] not in self._taken and planned[0] not in self.lanes:
                return planned
        return None

    def _fill(self) -> None:
        with self.cv:
            while len(self._ahead) < self._width and not self.cancel.is_set():
                planned = self._next_planned()
                if planned is None:
                    break
                self._ahead.append(planned[0])
                self._start(*planned)
            self.max_ahead = max(self.max_ahead, len(self._ahead))

    def _start(self, key: Hashable, source: Callable[[], Iterable[T]]) -> Lane[T]:
        """Start a lane (the caller holds the lock)."""
        lane = self.lanes[key] = Lane(key, source, self._lock)
        lane.kind = self._kind(key)
        self._started += 1
        lane.seq = self._started
        self._running += 1
        self.max_running = max(self.max_running, self._running)
        self._executor.submit(lambda: self._run(lane))
        return lane

    def _run(self, lane: Lane[T]) -> None:
        """Worker side: every item of the list, each request waiting while the buffers are over budget."""
        try:
            iterator = iter(lane.source())
            while self._room(lane):
                group = lane.fetching_for
                try:
                    item = next(iterator, END)
                finally:
                    with self.cv:
                        self._fetching -= 1
                        self._fetching_bytes -= lane.weight
                        if group is not None:
                            group.fetching -= 1
                with self.cv:
                    if isinstance(item, End):
                        lane.done = True
                    elif not lane.stopped:
                        size = self._size(item)
                        self._largest[lane.kind] = max(self._largest.get(lane.kind, 0), size)
                        self._largest[None] = max(self._largest.get(None, 0), size)
                        lane.items.append((item, size))
                        self.gauge.add(size, 1)
                        if lane.group is not None:
                            lane.group.waiting = False  # it has something now: the budget applies again
                    del item  # the writer's now: a page it decoded must not live on while this lane waits for room
                    self.wake()
                    if lane.done:
                        return
        except BaseException as exc:  # handed to the writer, raised where the list is taken
            with self.cv:
                lane.error = exc
                self.wake()
        finally:
            with self.cv:
                self._running -= 1
            # no _fill here: the plan is read on the writer's thread only (planning reads the streams' state)

    def _room(self, lane: Lane[T]) -> bool:
        """Wait until the lane may fetch its next item; False when it was stopped or the run cancelled.

        Items being fetched count at the largest size seen of their kind (see _weight), so the buffer
        stays within the budget; no lane buffers more than `depth` items. Lanes the writer is not taking yet fill
        at most half of it, leaving the rest to the lists it takes now; while it waits for those with nothing
        buffered, one of them fetches whatever the budget.
        """
        with self.cv:
            while True:
                if lane.stopped or self.cancel.is_set():
                    return False
                if self._may_fetch(lane, 0, set()):
                    break
                self._waiting.append(lane)
                try:
                    lane.room.wait(POLL_SECONDS)
                finally:
                    self._waiting.remove(lane)
                    lane.notified = False
            group = lane.group
            self._fetching += 1
            lane.weight = self._weight(lane)
            self._fetching_bytes += lane.weight
            lane.fetching_for = group
            if group is not None:
                group.fetching += 1
            return True

    def _weight(self, lane: Lane[T]) -> int:
        """What the lane's next fetch may add: the largest item of its kind so far, else of any kind, else the
        estimate."""
        return self._largest.get(lane.kind) or self._largest.get(None) or self._estimate

    def _may_fetch(self, lane: Lane[T], woken: int, groups: set[int]) -> bool:
        """_room's test, with `woken` bytes of lanes woken (and those of `groups`) counted as fetching already (the
        caller holds the lock)."""
        group = lane.group
        if group is not None and group.waiting and not group.fetching and id(group) not in groups:
            groups.add(id(group))
            return True
        limit = self.budget if group is not None else self.budget // 2
        expected = self._fetching_bytes + woken + self._weight(lane)
        if len(lane.items) < self._depth and self.gauge.current + expected <= limit:
            return True
        return not self.gauge.current and not self._fetching and not woken  # an item over the budget moves alone

    def wake(self) -> None:
        """Something changed (the caller holds the lock): wake the writer, and the lanes that may fetch now (or must
        stop), in the order they began to wait; the others keep waiting (they re-check at least every
        POLL_SECONDS)."""
        self.cv.notify_all()
        woken = 0  # bytes
        groups: set[int] = set()
        for lane in self._waiting:
            if lane.stopped or self.cancel.is_set():
                lane.room.notify()  # it ends: not counted as fetching
            elif lane.notified:
                woken += self._weight(lane)
            elif self._may_fetch(lane, woken, groups):
                lane.notified = True
                lane.room.notify()
                woken += self._weight(lane)

    def group(self, lists: Iterable[tuple[Hashable, Callable[[], Iterable[T]]]]) -> Group[T]:
        """The writer takes these lists together; lanes planned before the first of them are passed over."""
        group: Group[T] = Group(self)
        lists = list(lists)
        with self.cv:
            keys = {key for key, _ in lists}
            first = next((i for i, key in enumerate(self._ahead) if key in keys), None)
            if first is not None:
                for key in self._ahead[:first]:  # the writer passed over these lists
                    passed = self.lanes.get(key)
                    if passed is not None and passed.group is None:
                        self.drop(passed)
                del self._ahead[:first]
        self.join(group, lists)
        return group

    def join(self, group: Group[T], lists: Iterable[tuple[Hashable, Callable[[], Iterable[T]]]]) -> None:
        """Put lists into a group, starting those not running yet."""
        with self.cv:
            for key, source in lists:
                self._taken.add(key)
                if key in self._ahead:
                    self._ahead.remove(key)
                lane = self.lanes.get(key)
                if lane is None or lane.group is not None:
                    lane = self._start(key, source)
                lane.group = group
                group.lanes.append(lane)
            self.wake()
        self._fill()

    def claimed(self, key: Hashable) -> bool:
        """Whether the writer is taking this list now (not merely reading it ahead)."""
        lane = self.lanes.get(key)
        return lane is not None and lane.group is not None

    def order(self, key: Hashable) -> int:
        """Where a running list stands in the plan (lower: the writer takes it sooner); 0 when it is not running."""
        lane = self.lanes.get(key)
        return lane.seq if lane is not None else 0

    def take(self, key: Hashable, source: Callable[[], Iterable[T]]) -> Iterator[T]:
        """The items of one list, in order: from its lane if started ahead, else fetched now from `source`."""
        group = self.group([(key, source)])
        try:
            for _, item in group:
                if not isinstance(item, End):
                    yield item
        finally:
            group.close()

    def drop(self, lane: Lane[T]) -> None:
        """Stop a lane and free what it buffered (the caller holds the lock)."""
        lane.stopped = True
        if self.lanes.get(lane.key) is lane:
            del self.lanes[lane.key]
        while lane.items:
            _, size = lane.items.popleft()
            self.gauge.add(-size, -1)
        self.wake()

    def skip(self, key: Hashable) -> None:
        """The writer will not take this list (e.g. its account was skipped): stop it if it runs."""
        with self.cv:
            self._taken.add(key)
            lane = self.lanes.get(key)
            if lane is not None and lane.group is None:
                self.drop(lane)
            if key in self._ahead:
                self._ahead.remove(key)
        self._fill()

    def close(self) -> None:
        """Stop everything still running or planned."""
        with self.cv:
            self._plans.clear()
            for lane in list(self.lanes.values()):
                self.drop(lane)
            self._ahead.clear()
