"""Fault injection settings for the Twilio sandbox."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

SCRIPTED_KINDS = (
    "429",
    "429-retry-after",
    "500",
    "502",
    "503",
    "504",
    "reset",
    "stall",
    "html",
    "empty",
    "truncated",
    "missing-list-key",
    "repeat-next",
    "401",
    "403",
    "404",
)


@dataclass
class ScriptedFault:
    """Apply ``kind`` to the first ``times`` requests whose path+query contains ``path_contains``."""

    path_contains: str
    kind: str
    times: int = 1
    used: int = 0

    def __post_init__(self) -> None:
        if self.kind not in SCRIPTED_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {SCRIPTED_KINDS}")


@dataclass
class Faults:
    """Random faults (each request draws one with these rates) and scripted ones (matched first).

    They apply to every authenticated request, the first ``/Accounts.json`` listing included; a request with wrong
    credentials is the only one spared (it gets its 401 before a fault is drawn), and a request over
    ``concurrency_limit`` gets its 429/20429 instead.
    """

    rate_429: float = 0.0
    rate_429_retry_after: float = 0.5
    rate_5xx: float = 0.0
    rate_reset: float = 0.0
    rate_stall: float = 0.0
    stall_seconds: float = 5.0
    seed: int = 0
    scripted: list[ScriptedFault] = field(default_factory=list)
    # Twilio failing on big pages (Usage Records at PageSize=1000): 500/20500 for a PageSize above this, on lists
    # whose path contains one of `fail_above_page_size_paths` (every list when empty); smaller pages succeed
    fail_above_page_size: int | None = None
    fail_above_page_size_paths: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def take_scripted(self, path_q: str) -> str | None:
        with self._lock:
            for sf in self.scripted:
                if sf.used < sf.times and sf.path_contains in path_q:
                    sf.used += 1
                    return sf.kind
        return None

    def page_too_big(self, path: str, page_size: int | None) -> bool:
        """Whether this page is one Twilio fails on for its size."""
        limit = self.fail_above_page_size
        if limit is None or page_size is None or page_size <= limit:
            return False
        return not self.fail_above_page_size_paths or any(p in path for p in self.fail_above_page_size_paths)

    def draw(self) -> tuple[str | None, float]:
        """One seeded draw: (kind or None, an auxiliary uniform number)."""
        with self._lock:
            x = self._rng.random()
            aux = self._rng.random()
        for kind, rate in (
            ("429", self.rate_429),
            ("5xx", self.rate_5xx),
            ("reset", self.rate_reset),
            ("stall", self.rate_stall),
        ):
            if x < rate:
                return kind, aux
            x -= rate
        return None, aux
