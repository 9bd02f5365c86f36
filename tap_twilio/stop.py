"""How a sync stops early: SIGTERM/SIGINT end it with the finished work and exit 128 + signal; so does a target
that stopped reading (exit 141, SIGPIPE's code), in one line and without a traceback."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from tap_twilio import writer

if TYPE_CHECKING:
    from types import FrameType

    from tap_twilio.run import SyncRun

GRACE_SECONDS = 5.0  # after a signal the process is gone within this long, whatever it was waiting for
RETRY_SECONDS = 0.005  # a signal that arrived while a line was being written is acted on this much later
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE
_OUTPUT_FILES = frozenset({writer.__file__, logging.__file__})  # stopping inside these would cut a line in half


class StopSignalError(BaseException):  # BaseException: no `except Exception` on the way may swallow it
    """A signal asked the sync to stop."""

    def __init__(self, signum: int) -> None:
        """Remember which signal."""
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Stopper:
    """Turns SIGTERM/SIGINT into a `StopSignalError` raised on the main thread, at a point where no output line is
    half written, after telling the run to start no more requests. A second signal changes nothing."""

    def __init__(self, run: SyncRun | None) -> None:
        """Nothing is installed yet (the SDK installs the handler; the tap routes it here)."""
        self.run = run
        self.signum: int | None = None
        self._raised = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler (runs on the main thread between two bytecodes)."""
        if self.signum is None:
            self.signum = signum
            if self.run is not None:
                self.run.stop_requests(signum)
            threading.Thread(target=self._watchdog, name="twilio-stop", daemon=True).start()
        self._deliver(frame)

    def stand_down(self) -> None:
        """The sync is ending on its own (writing the STATE of an interrupted run): no `StopSignalError` from now
        on, so a delivery put off while a line was being written cannot break off that ending half-way."""
        self._raised = True
        signal.setitimer(signal.ITIMER_REAL, 0)

    def _deliver(self, frame: FrameType | None) -> None:
        if self._raised or self.signum is None:
            return
        if _writing(frame):  # come back in a moment, once the line is complete
            signal.signal(signal.SIGALRM, lambda _s, f: self._deliver(f))
            signal.setitimer(signal.ITIMER_REAL, RETRY_SECONDS)
            return
        self._raised = True
        raise StopSignalError(self.signum)

    def _watchdog(self) -> None:
        """The main thread may be inside a request (up to its read timeout): do not wait for it."""
        threading.Event().wait(GRACE_SECONDS)
        signum = self.signum or signal.SIGTERM
        logging.getLogger("tap-twilio").error(
            "Interrupted by %s and not stopped within %.0fs: exiting now; the last STATE written resumes the next run",
            signal.Signals(signum).name,
            GRACE_SECONDS,
        )
        exit_now(128 + signum)


def _writing(frame: FrameType | None) -> bool:
    """Whether the main thread is writing output (a message or a log line)."""
    while frame is not None:
        if frame.f_code.co_filename in _OUTPUT_FILES:
            return True
        frame = frame.f_back
    return False


def silence_stdout() -> None:
    """Point stdout at /dev/null: a reader that went away must not cost a second error at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def exit_now(code: int) -> None:
    """Flush the logs and stdout, and end the process now: worker threads may be inside requests (up to their
    timeouts) and must not hold the exit up."""
    for handler in [*logging.getLogger().handlers, *logging.getLogger("tap-twilio").handlers]:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
