"""The pipeline in-process: order, reading ahead within its width, back-pressure, cancellation, errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tap_twilio.pipeline import CancelledError, DaemonExecutor, Pipeline


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


def make(width: int = 2, depth: int = 2) -> tuple[Pipeline[tuple[str, int]], threading.Event]:
    cancel = threading.Event()
    return Pipeline(DaemonExecutor(), width=width, depth=depth, cancel=cancel), cancel


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
    pipeline, _ = make(width=2, depth=1)
    log: list[tuple[str, int]] = []
    sources = [Source(log, str(i), 5) for i in range(5)]
    pipeline.plan((s.name, s) for s in sources)
    assert wait_for(lambda: sources[0].started.is_set() and sources[1].started.is_set())
    time.sleep(0.1)
    assert not any(s.started.is_set() for s in sources[2:]), "only `width` lists read ahead"
    assert pipeline.max_ahead == 2
    first = pipeline.take("0", sources[0])
    assert next(first) == ("0", 0)
    assert wait_for(sources[2].started.is_set), "taking a list frees a slot for the next planned one"


def test_back_pressure_keeps_at_most_depth_pages_waiting_per_list() -> None:
    pipeline, _ = make(width=1, depth=2)
    log: list[tuple[str, int]] = []
    source = Source(log, "big", 100)
    pipeline.plan([("big", source)])
    assert wait_for(lambda: source.produced >= 2)
    time.sleep(0.2)
    assert source.produced <= 3, "the worker waits while the writer is `depth` pages behind"
    assert len(list(pipeline.take("big", source))) == 100


def test_a_list_not_planned_is_fetched_on_demand_and_a_passed_over_one_is_stopped() -> None:
    pipeline, _ = make(width=2, depth=1)
    log: list[tuple[str, int]] = []
    planned = [Source(log, "p0", 50), Source(log, "p1", 3)]
    pipeline.plan((s.name, s) for s in planned)
    assert wait_for(planned[0].started.is_set)
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
    pipeline, cancel = make(width=2, depth=1)
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
    pipeline, _ = make(width=2, depth=1)
    log: list[tuple[str, int]] = []
    sources = [Source(log, str(i), 100) for i in range(3)]
    pipeline.plan((s.name, s) for s in sources)
    assert wait_for(sources[1].started.is_set)
    pipeline.skip("0")
    assert wait_for(sources[2].started.is_set), "a skipped list frees its slot"
    pipeline.close()
    counts = [s.produced for s in sources]
    time.sleep(0.5)
    assert all(b - a <= 1 for a, b in zip(counts, [s.produced for s in sources], strict=True))


def test_a_thread_pool_executor_works_too() -> None:
    cancel = threading.Event()
    with ThreadPoolExecutor(4) as pool:
        pipeline: Pipeline[tuple[str, int]] = Pipeline(pool, width=2, depth=2, cancel=cancel)
        log: list[tuple[str, int]] = []
        sources = [Source(log, str(i), 4) for i in range(4)]
        pipeline.plan((s.name, s) for s in sources)
        assert [page for s in sources for page in pipeline.take(s.name, s)] == [
            (str(i), p) for i in range(4) for p in range(4)
        ]


def test_the_gauge_counts_pages_waiting_and_their_peak() -> None:
    pipeline, _ = make(width=2, depth=3)
    log: list[tuple[str, int]] = []
    sources = [Source(log, str(i), 10) for i in range(2)]
    pipeline.plan((s.name, s) for s in sources)
    assert wait_for(lambda: pipeline.gauge.current >= 6)
    time.sleep(0.1)
    assert pipeline.gauge.current <= 8, "depth per lane, plus the one page each worker holds"
    for s in sources:
        assert len(list(pipeline.take(s.name, s))) == 10
    assert pipeline.gauge.current == 0
    assert 6 <= pipeline.gauge.peak <= 8
