"""Tasks started in the order the writer takes their results, a bounded number ahead of it (child lists)."""

from __future__ import annotations

import heapq
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_twilio.pipeline import Executor

T = TypeVar("T")


class Ticket(Generic[T]):
    """One task of a `Prefetch`: started when its turn comes (or when taken), its result taken once."""

    __slots__ = ("ahead", "dropped", "fn", "future")

    def __init__(self, fn: Callable[[], T], *, ahead: bool) -> None:
        """Not started yet."""
        self.fn = fn
        self.future: Future[T] | None = None
        self.dropped = False
        self.ahead = ahead  # for a list the writer is not taking yet


class Prefetch(Generic[T]):
    """Tasks (child lists) started in the order the writer will take them, at most `room` started and not yet taken.

    Each task has an order (lower: taken sooner); the writer takes tasks as it needs them, and one taken before its
    turn starts at once. The writer's own tasks have `room`; tasks of lists read ahead (an order whose first part is
    above 0) have three quarters of it besides, and what the writer's tasks leave of theirs: fetched long before the
    writer gets to them, they would otherwise keep out the tasks it needs now. With hundreds of small accounts, the
    child lists of the accounts read ahead are what keeps requests in flight (200 subaccounts: 1.49x the lower bound
    with half the room, 1.20x with three quarters, 1.13-1.18x when they may also use what the writer leaves); each is
    also what a kill loses (a resumed run of every stream: 1.22-1.28x the requests of a clean one with three
    quarters; the bound is 1.3x).
    """

    def __init__(self, executor: Executor, room: int) -> None:
        """Nothing starts until tasks are added."""
        self._executor = executor
        self.room = max(1, room)
        self.room_ahead = max(1, room * 3 // 4)  # a kill loses those; many small accounts need them (see docstring)
        self._lock = threading.Lock()
        self._queue: list[tuple[tuple[int, ...], int, Ticket[T]]] = []  # a heap
        self._count = 0
        self.outstanding = 0  # started and not yet taken
        self._ahead = 0  # ... of which for lists read ahead
        self.peak = 0

    def add(self, order: tuple[int, ...], fn: Callable[[], T]) -> Ticket[T]:
        """Queue a task; it starts when fewer than `room` wait to be taken and none of a lower order is queued."""
        ticket = Ticket(fn, ahead=order[0] > 0)
        with self._lock:
            self._count += 1
            heapq.heappush(self._queue, (order, self._count, ticket))
            self._pump()
        return ticket

    def take(self, ticket: Ticket[T]) -> T:
        """The task's result (started now if its turn had not come); its exception is raised here."""
        try:
            return self.wait(ticket)
        finally:
            self._done(ticket)

    def wait(self, ticket: Ticket[T]) -> T:
        """The task's result, leaving it to be taken (another task that needs it first; started now if not yet)."""
        with self._lock:
            if ticket.future is None:
                self._start(ticket)
            future = ticket.future
        assert future is not None
        return future.result()

    def drop(self, ticket: Ticket[T]) -> None:
        """The writer will not take this task: cancel it, or forget its result."""
        if ticket.future is not None:
            ticket.future.cancel()
        self._done(ticket)

    def _done(self, ticket: Ticket[T]) -> None:
        with self._lock:
            if ticket.dropped:
                return
            ticket.dropped = True
            if ticket.future is not None:
                self.outstanding -= 1
                self._ahead -= ticket.ahead
            self._pump()

    def _pump(self) -> None:
        """Start queued tasks in order while there is room (the caller holds the lock)."""
        while self._queue:
            ticket = self._queue[0][2]
            if ticket.future is None and not ticket.dropped:
                if ticket.ahead:  # its own room, or what the writer's tasks leave of theirs
                    full = self._ahead >= self.room_ahead and self.outstanding >= self.room
                else:
                    full = self.outstanding - self._ahead >= self.room
                if full:  # the lowest order queued waits for room (read ahead: no task of the writer's waits)
                    return
                self._start(ticket)
            heapq.heappop(self._queue)

    def _start(self, ticket: Ticket[T]) -> None:
        future: Future[T] = Future()
        ticket.future = future
        self.outstanding += 1
        self._ahead += ticket.ahead
        self.peak = max(self.peak, self.outstanding)

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(ticket.fn())
            except BaseException as exc:  # raised where the writer takes it
                future.set_exception(exc)

        self._executor.submit(run)
