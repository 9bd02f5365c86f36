"""The pipeline in-process: groups taken as pages become ready, reading ahead within its width and byte budget,
cancellation, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tap_twilio.pipeline import END, CancelledError, Pipeline
from tap_twilio.workers import DaemonExecutor


class Source:
    """A list of `pages` items that records when each item was produced and how many are in flight."""

    def __init__(self, log: list[tuple[str, int]], name: str, pages: int, delay: float = 0.0) -> None:
        self.log, self.name, self.pages, self.delay = log, name, pages, delay
        self.started = threading.Event()
        self.produced = 0

    def __call__(self) -> Iterator[tuple[str, int]]:
        self.started.set()
        for page in range(self.pages):
            if self.delay:
                time.sleep(self.delay)
            self.produced += 1
            self.log.append((self.name, page))
            yield (self.name, page)


def make(width: int = 2, budget: int = 2) -> tuple[Pipeline[tuple[str, int]], threading.Event]:
    """A pipeline whose items weigh one byte each."""
    cancel = threading.Event()
    return Pipeline(DaemonExecutor(), width=width, budget=budget, cancel=cancel), cancel


def wait_for(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_lists_come_out_in_the_order_taken_whatever_order_they_finish_in() -> None:
    pipeline, _ = make(width=3)
    log: list[tuple[str, int]] = []
    sources = {name: Source(log, name, 3, delay) for name, delay in (("a", 0.03), ("b", 0.0), ("c", 0.01))}
    pipeline.plan((name, source) for name, source in sources.items())
    out = [item for name, source in sources.items() for item in pipeline.take(name, source)]
    assert out == [(name, page) for name in "abc" for page in range(3)]


def test_planned_lists_start_ahead_of_the_writer_but_no_more_than_width() -> None:
    pipeline, _ = make(width=2, budget=100)
    log: list[tuple[str, int]] = []
    sources = [Source(log, str(i), 5, delay=0.1) for i in range(5)]
    pipeline.plan((s.name, s) for s in sources)
    assert wait_for(lambda: sources[0].started.is_set() and sources[1].started.is_set())
    time.sleep(0.05)
    assert not any(s.started.is_set() for s in sources[2:]), "only `width` lists read ahead"
    assert pipeline.max_ahead == 2
    assert len(list(pipeline.take("0", sources[0]))) == 5
    assert wait_for(sources[2].started.is_set), "a list read to the end frees a slot for the next planned one"


def test_back_pressure_keeps_the_buffer_within_the_budget() -> None:
    pipeline, _ = make(width=1, budget=4)  # half of it for lists the writer does not take yet
    log: list[tuple[str, int]] = []
    source = Source(log, "big", 100)
    pipeline.plan([("big", source)])
    assert wait_for(lambda: source.produced >= 2)
    time.sleep(0.2)
    assert source.produced <= 2, "the worker waits while the buffer holds the budget"
    assert len(list(pipeline.take("big", source))) == 100


def test_a_list_not_planned_is_fetched_on_demand_and_a_passed_over_one_is_stopped() -> None:
    pipeline, _ = make(width=2, budget=100)
    log: list[tuple[str, int]] = []
    planned = [Source(log, "p0", 50), Source(log, "p1", 3)]
    pipeline.plan((s.name, s) for s in planned)
    assert wait_for(lambda: "p0" in pipeline.lanes)
    assert list(pipeline.take("p1", planned[1])) == [("p1", 0), ("p1", 1), ("p1", 2)]
    produced = planned[0].produced
    time.sleep(0.5)
    assert planned[0].produced <= produced + 1, "p0 was passed over: its worker stops"
    extra = Source(log, "x", 2)
    assert list(pipeline.take("x", extra)) == [("x", 0), ("x", 1)]
    assert list(pipeline.take("p0", planned[0]))[-1] == ("p0", 49), "taken later, it is fetched again in full"


def test_a_worker_error_reaches_the_writer_where_it_happened() -> None:
    pipeline, _ = make()

    def failing() -> Iterator[tuple[str, int]]:
        yield ("f", 0)
        msg = "page 2 failed"
        raise RuntimeError(msg)

    pipeline.plan([("f", failing)])
    items = pipeline.take("f", failing)
    assert next(items) == ("f", 0)
    with pytest.raises(RuntimeError, match="page 2 failed"):
        next(items)


def test_cancelling_the_run_stops_the_writer_waiting_and_the_workers() -> None:
    pipeline, cancel = make(width=2, budget=1)
    log: list[tuple[str, int]] = []
    slow = Source(log, "slow", 1000, delay=0.5)
    pipeline.plan([("slow", slow)])
    items = pipeline.take("slow", slow)
    threading.Timer(0.1, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        for _ in items:
            pass
    assert time.monotonic() - started < 2.0
    produced = slow.produced
    time.sleep(0.7)
    assert slow.produced <= produced + 1


def test_skip_and_close_stop_lists_that_will_not_be_taken() -> None:
    pipeline, _ = make(width=2, budget=100)
    log: list[tuple[str, int]] = []
    sources = [Source(log, str(i), 100) for i in range(3)]
    pipeline.plan((s.name, s) for s in sources)
    assert wait_for(lambda: "1" in pipeline.lanes)
    pipeline.skip("0")
    assert wait_for(lambda: "2" in pipeline.lanes), "a skipped list frees its slot"
    pipeline.close()
    counts = [s.produced for s in sources]
    time.sleep(0.5)
    assert all(b - a <= 1 for a, b in zip(counts, [s.produced for s in sources], strict=True))


def test_a_thread_pool_executor_works_too() -> None:
    cancel = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        pipeline: Pipeline[tuple[str, int]] = Pipeline(pool, width=2, budget=2, cancel=cancel)
        log: list[tuple[str, int]] = []
        sources = [Source(log, str(i), 4) for i in range(4)]
        pipeline.plan((s.name, s) for s in sources)
        assert [page for s in sources for page in pipeline.take(s.name, s)] == [
            (str(i), p) for i in range(4) for p in range(4)
        ]


def test_the_gauge_counts_bytes_waiting_and_the_peak_stays_within_the_budget() -> None:
    cancel = threading.Event()
    pipeline: Pipeline[tuple[str, int]] = Pipeline(
        DaemonExecutor(), width=3, budget=1000, cancel=cancel, size=lambda item: 100 + item[1]
    )
    log: list[tuple[str, int]] = []
    sources = [Source(log, str(i), 30) for i in range(3)]
    pipeline.plan((s.name, s) for s in sources)
    assert wait_for(lambda: pipeline.gauge.current >= 370)  # lists not taken yet fill half the budget
    time.sleep(0.2)
    assert pipeline.gauge.current <= 500 + 30
    for s in sources:
        assert len(list(pipeline.take(s.name, s))) == 30
    assert pipeline.gauge.current == 0
    # a worker asks for its next item only while the buffer is under the budget: at most one item over per lane
    assert 370 <= pipeline.gauge.peak <= 1000 + 30  # an item may be a few bytes larger than the largest before it


def test_a_group_hands_over_whichever_list_is_ready_and_each_end() -> None:
    pipeline, _ = make(width=4, budget=100)
    log: list[tuple[str, int]] = []
    slow, fast = Source(log, "slow", 3, delay=0.15), Source(log, "fast", 3)
    group = pipeline.group([("slow", slow), ("fast", fast)])
    out = list(group)
    assert out.index(("fast", END)) < out.index(("slow", (("slow", 0)))), "the slow list does not hold the fast one"
    assert [item for key, item in out if key == "slow"] == [("slow", 0), ("slow", 1), ("slow", 2), END]


def test_lists_join_a_group_while_it_is_taken() -> None:
    pipeline, _ = make(width=4, budget=100)
    log: list[tuple[str, int]] = []
    first, later = Source(log, "first", 2), Source(log, "later", 2)
    group = pipeline.group([("first", first)])
    seen = []
    for key, item in group:
        seen.append((key, item))
        if item == ("first", 0):
            group.add([("later", later)])
    assert ("later", END) in seen
    assert ("later", ("later", 1)) in seen


def test_a_full_budget_never_stalls_the_list_the_writer_waits_for() -> None:
    pipeline, _ = make(width=4, budget=10)
    log: list[tuple[str, int]] = []
    hog, wanted = Source(log, "hog", 50), Source(log, "wanted", 20)
    pipeline.plan([("hog", hog)])
    assert wait_for(lambda: pipeline.gauge.current >= 5)  # half the budget is full of a list taken later
    got = list(pipeline.take("wanted", wanted))  # not planned: started on demand, past the budget
    assert len(got) == 20
    assert len(list(pipeline.take("hog", hog))) >= 1


def test_a_kind_of_big_items_does_not_hold_back_lists_of_small_ones() -> None:
    """A fetch counts at the largest item of its own kind (a stream): one big page (the accounts listing of 200
    subaccounts, 441 kB) had made every list of a few records count as that big, and 200 subaccounts ran at 18 lists
    in flight instead of 32 in about one run in six."""
    cancel = threading.Event()
    pipeline: Pipeline[tuple[str, int]] = Pipeline(
        DaemonExecutor(),
        width=9,
        budget=4000,  # lists not taken yet: 2000 bytes
        cancel=cancel,
        size=lambda item: 1000 if item[0] == "big" else 10,
        kind=lambda key: "big" if key == "big" else "small",
    )
    log: list[tuple[str, int]] = []
    big, smalls = Source(log, "big", 1), [Source(log, f"s{i}", 2) for i in range(8)]
    pipeline.plan((s.name, s) for s in (big, *smalls))
    assert wait_for(lambda: all(s.produced == 2 for s in smalls)), "every small list read ahead beside the big page"
    assert pipeline.gauge.current == 1000 + 8 * 2 * 10
    for s in (big, *smalls):
        assert len(list(pipeline.take(s.name, s))) == s.pages
    assert pipeline.gauge.current == 0
