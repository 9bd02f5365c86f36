"""Worker threads for lists: each task runs now, on a daemon thread reused while tasks keep coming."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


class DaemonExecutor:
    """Runs each task now on a daemon thread: a lane left waiting on a writer that stopped early (a dry run, an error)
    can never keep the process alive. A thread that finished a task waits a while for the next one (starting a
    thread per list was a twentieth of the writer's time with hundreds of small accounts)."""

    IDLE_SECONDS = 5.0  # how long a thread with nothing to do waits for a task before it ends

    def __init__(self) -> None:
        """No thread until the first task."""
        self._tasks: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], object]) -> None:
        """Start `fn` now: on an idle thread, else on a new one."""
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._tasks.put(fn)
                return
        threading.Thread(target=self._work, args=(fn,), daemon=True, name="twilio-list").start()

    def _work(self, fn: Callable[[], object]) -> None:
        while True:
            fn()
            with self._lock:
                self._idle += 1
            try:
                fn = self._tasks.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._tasks.empty():  # no task was handed to this thread meanwhile: it ends
                        self._idle -= 1
                        return
                fn = self._tasks.get()
