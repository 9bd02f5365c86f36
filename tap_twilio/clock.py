"""Twilio's clock, not the host's: the time a run starts at is read from the `Date` header of Twilio's answers."""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time

UTC = dt.timezone.utc


class TwilioClock:
    """The offset between Twilio's clock and this host's, from the first response's `Date` header.

    A `Date` has whole seconds and is stamped before the response travels, so Twilio's time read from it is at
    most about a second early: a run then starts a little earlier than Twilio's now, which re-reads that second
    next time and never skips one. Without any response (none yet) the host's clock is used.
    """

    def __init__(self) -> None:
        """No response seen yet."""
        self.offset: float | None = None  # Twilio's time minus the host's, in seconds
        self._lock = threading.Lock()

    def observe(self, date: str | None) -> None:
        """Read a response's `Date` header (only the first one counts: it is the one the run starts from)."""
        if self.offset is not None or not date:
            return
        received = time.time()
        try:
            twilio = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        if twilio.tzinfo is None:
            return
        with self._lock:
            if self.offset is None:
                self.offset = twilio.timestamp() - received

    def now(self) -> dt.datetime:
        """Twilio's current time (whole seconds, UTC), or the host's when no response was seen."""
        return dt.datetime.fromtimestamp(int(time.time() + (self.offset or 0.0)), UTC)
