"""Limits and counts of a run's requests: the adaptive per-account cap (halved on 429) and the request statistics."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


class AdaptiveLimiter:
    """Caps requests in flight; halves the cap on a 429 and earns it back one step per quiet period.

    A burst of 429s from one overload counts once: the cap is halved at most once per `recovery_seconds`.
    """

    def __init__(self, limit: int, recovery_seconds: float = 2.0) -> None:
        """Start at the configured cap."""
        self.ceiling = self.limit = max(1, limit)
        self.recovery_seconds = recovery_seconds
        self.in_flight = 0
        self.max_in_flight = 0
        self.throttled = 0
        self._last_change = self._last_decrease = -recovery_seconds
        self._cv = threading.Condition()

    def acquire(self) -> None:
        """Wait for a free slot."""
        with self._cv:
            while self.in_flight >= self._current_limit():
                self._cv.wait(0.05)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def release(self) -> None:
        """Free a slot."""
        with self._cv:
            self.in_flight -= 1
            self._cv.notify()

    def throttle(self) -> None:
        """Twilio said too many concurrent requests: halve the cap."""
        with self._cv:
            self.throttled += 1
            now = time.monotonic()
            if now - self._last_decrease >= self.recovery_seconds:
                self._last_decrease = now
                self.limit = max(1, self.limit // 2)
            self._last_change = now

    def observe(self, reported: int) -> None:
        """Twilio's `Twilio-Concurrent-Requests`: the account's requests in flight from every client.

        More than ours means other systems use the account too: a cap lowered by a 429 is not earned back while so.
        """
        with self._cv:
            if reported > self.in_flight + 1 and self.limit < self.ceiling:  # +1: Twilio counts this request too
                self._last_change = time.monotonic()

    def _current_limit(self) -> int:
        if self.limit < self.ceiling:
            steps = int((time.monotonic() - self._last_change) / self.recovery_seconds)
            if steps:
                self.limit = min(self.ceiling, self.limit + steps)
                self._last_change = time.monotonic()
        return self.limit


@dataclass
class Stats:
    """What a run cost, for logs and the benchmark."""

    requests: int = 0
    retries: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_stream: dict[str, int] = field(default_factory=dict)
    retry_wait_seconds: float = 0.0
    first_request_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, reason: str | None = None, wait: float = 0.0, label: str = "") -> None:
        """Count a request, or a retry and why."""
        with self._lock:
            if reason is None:
                self.requests += 1
                self.by_stream[label] = self.by_stream.get(label, 0) + 1
                if self.first_request_at is None:
                    self.first_request_at = time.perf_counter()
            else:
                self.retries += 1
                self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
                self.retry_wait_seconds += wait
