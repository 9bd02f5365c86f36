"""Child lists fetched ahead of the writer (tap_twilio/prefetch.py), list workers reused, pages dropped once written,
and a page's records split into the parts whose progress a resumed run keeps (tap_twilio/lists.py `parts`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tap_twilio.lists import PART_RECORDS, parts
from tap_twilio.page import Page
from tap_twilio.prefetch import Prefetch
from tap_twilio.workers import DaemonExecutor


class Gated:
    """Tasks that record their start and finish only when released."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = threading.Event()

    def task(self, name: str) -> Callable[[], str]:
        def run() -> str:
            self.started.append(name)
            self.release.wait(5)
            return name

        return run


def test_tasks_start_in_their_order_and_no_more_than_the_room_wait_to_be_taken() -> None:
    gated = Gated()
    started = gated.started
    with ThreadPoolExecutor(8) as pool:
        prefetch: Prefetch[str] = Prefetch(pool, room=2)
        late = prefetch.add((0, 5), gated.task("late"))
        early = prefetch.add((0, 1), gated.task("early"))  # queued while "late" runs: the room has one more
        later = prefetch.add((0, 9), gated.task("later"))
        writer = prefetch.add((0, 0), gated.task("writer"))
        time.sleep(0.1)
        assert sorted(started) == ["early", "late"], "two may wait to be taken; the others wait for room"
        assert prefetch.outstanding == 2
        gated.release.set()
        assert prefetch.take(writer) == "writer", "a task taken before its turn starts at once"
        assert prefetch.take(early) == "early"
        assert prefetch.take(late) == "late"
        assert prefetch.take(later) == "later"
        assert started.index("writer") < started.index("later"), "the freed room goes to the lowest order"
        assert prefetch.outstanding == 0
        assert prefetch.peak <= 3  # the room, and the one taken before its turn


def test_lists_read_ahead_never_keep_out_the_writers_tasks() -> None:
    gated = Gated()
    started = gated.started
    with ThreadPoolExecutor(8) as pool:
        prefetch: Prefetch[str] = Prefetch(pool, room=4)
        mine = [prefetch.add((0, -1), gated.task(f"writer{i}")) for i in (1, 2)]
        ahead = [prefetch.add((seq, 0), gated.task(f"ahead{seq}")) for seq in (1, 2, 3, 4, 5)]
        time.sleep(0.05)
        assert started == ["writer1", "writer2", "ahead1", "ahead2", "ahead3"], "three quarters of the room of four"
        now = prefetch.add((0, -1), gated.task("writer3"))
        time.sleep(0.05)
        assert started[-1] == "writer3", "the writer's task has a room of its own"
        gated.release.set()
        assert [prefetch.take(t) for t in (*mine, now)] == ["writer1", "writer2", "writer3"]
        time.sleep(0.05)
        assert started[-1] == "ahead4", "what the writer's tasks leave of their room goes to lists read ahead"
        assert prefetch.outstanding == 4, "... up to the room of four"
        assert [prefetch.take(t) for t in ahead] == ["ahead1", "ahead2", "ahead3", "ahead4", "ahead5"]


def test_a_dropped_task_frees_its_room_and_an_error_is_raised_where_it_is_taken() -> None:
    def boom() -> str:
        raise ValueError("list failed")

    with ThreadPoolExecutor(4) as pool:
        prefetch: Prefetch[str] = Prefetch(pool, room=1)
        failing = prefetch.add((1,), boom)
        waiting = prefetch.add((2,), lambda: "next")
        with pytest.raises(ValueError, match="list failed"):
            prefetch.take(failing)
        prefetch.drop(waiting)
        assert prefetch.outstanding == 0
        never = prefetch.add((3,), lambda: "again")
        assert prefetch.wait(never) == "again", "wait leaves the result to be taken"
        assert prefetch.take(never) == "again"


def test_list_workers_are_reused_and_each_task_runs_at_once() -> None:
    executor = DaemonExecutor()
    names: list[str] = []
    done = threading.Semaphore(0)

    def task() -> None:
        names.append(threading.current_thread().name + str(threading.get_ident()))
        done.release()

    for _ in range(3):
        executor.submit(task)
        assert done.acquire(timeout=2)
        time.sleep(0.05)  # the worker is idle again
    assert len(set(names)) == 1, names

    blocker = threading.Event()
    executor.submit(lambda: blocker.wait(5))  # busy: the next task cannot wait for it
    executor.submit(task)
    assert done.acquire(timeout=2), "a task starts at once even while every worker is busy"
    blocker.set()


def test_a_page_written_drops_its_records() -> None:
    page = Page("u", content=b'{"messages": [{"sid": "SM1"}]}', next_link="/next")
    assert page.body["messages"] == [{"sid": "SM1"}]
    page.release()
    assert page._body is None and page.next_link == "/next" and page.url == "u"


def test_parts_split_a_page_at_what_an_interrupted_run_wrote_and_every_hundred_records() -> None:
    records = [{"i": i} for i in range(250)]
    assert [(first, len(part)) for first, part in parts(records, 1000, 0, tracked=False)] == [(1000, 250)]
    got = [(first, len(part)) for first, part in parts(records, 1000, 1130, tracked=True)]
    assert got == [(1000, 100), (1100, 30), (1130, 100), (1230, 20)]
    assert PART_RECORDS == 100
    assert [p for _, part in parts(records, 0, 0, tracked=True) for p in part] == records
    assert list(parts([], 7, 0, tracked=True)) == [(7, [])]
