"""HTTP for every Twilio request of a run: bounded concurrency, retries with backoff, clear errors."""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

LOGGER = logging.getLogger("tap-twilio")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TOO_MANY_REQUESTS = 429
UNAUTHORIZED = 401
ACCESS_STATUSES = frozenset({401, 403, 404})
HTTP_FORBIDDEN_OR_UNAUTHORIZED = frozenset({401, 403})
MAX_RETRY_AFTER = 300.0
TRANSIENT_ERRORS = (  # refused, reset, cut off mid-body, timed out: safe to retry a GET
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class TwilioError(Exception):
    """A failure the tap reports in one line and exits non-zero for."""


class TwilioAPIError(TwilioError):
    """Twilio answered with an error status (its JSON error, when it sent one)."""

    def __init__(self, status: int, path: str, code: int | None, message: str) -> None:
        """Keep the parts callers branch on."""
        self.status, self.path, self.code, self.message = status, path, code, message
        code_text = f", Twilio error {code}" if code else ""
        super().__init__(f"HTTP {status}{code_text} for {path}: {message}")


class RetriesExhaustedError(TwilioError):
    """A request kept failing with retryable errors."""


@dataclass(slots=True)
class Page:
    """One decoded response page."""

    url: str
    body: dict[str, Any]


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

    def _current_limit(self) -> int:
        if self.limit < self.ceiling:
            steps = int((time.monotonic() - self._last_change) / self.recovery_seconds)
            if steps:
                self.limit = min(self.ceiling, self.limit + steps)
                self._last_change = time.monotonic()
        return self.limit


@dataclass
class RetryPolicy:
    """How hard to try before giving up."""

    max_retries: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        cap = float(min(self.backoff_max, self.backoff_base * 2**attempt))
        return cap / 2 + random.uniform(0, cap / 2)


@dataclass
class Stats:
    """What a run cost, for logs and the benchmark."""

    requests: int = 0
    retries: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    retry_wait_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, reason: str | None = None, wait: float = 0.0) -> None:
        """Count a request, or a retry and why."""
        with self._lock:
            if reason is None:
                self.requests += 1
            else:
                self.retries += 1
                self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
                self.retry_wait_seconds += wait


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_parts(response: requests.Response) -> tuple[int | None, str]:
    """Twilio's error code and message, or a short description of a non-JSON body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return None, f"{response.reason or 'error'} ({kind} body of {len(response.content)} bytes)"
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("message") or response.reason)
    return None, str(response.reason)


class TwilioClient:
    """Thread-safe GETs against Twilio; every request of the run goes through one limiter."""

    def __init__(
        self,
        auth: tuple[str, str],
        *,
        max_concurrency: int,
        policy: RetryPolicy,
        user_agent: str,
    ) -> None:
        """One client per tap run."""
        self._auth = auth
        self.policy = policy
        self.limiter = AdaptiveLimiter(max_concurrency)
        self.stats = Stats()
        self._user_agent = user_agent
        self._pool_size = max_concurrency * 2
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.auth = self._auth
            # requests re-reads proxy settings from the environment on every call (a third of a worker's
            # CPU on small lists); without proxy variables there is nothing to find
            session.trust_env = any(k.lower().endswith("_proxy") for k in os.environ)
            session.headers["User-Agent"] = self._user_agent
            session.headers["Accept"] = "application/json"
            self._local.session = session
        return session

    def get(self, url: str, params: dict[str, Any] | None = None) -> Page:
        """GET a JSON object, retrying what Twilio says is safe to retry."""
        path = urlsplit(url).path
        policy = self.policy
        last_problem = ""
        for attempt in range(policy.max_retries + 1):
            wait: float | None = None
            reason: str
            self.limiter.acquire()
            try:
                self.stats.count()
                response = self._session().get(
                    url,
                    params=params,
                    timeout=(policy.connect_timeout, policy.read_timeout),
                    allow_redirects=False,
                )
                content = response.content  # a dropped body raises here
            except TRANSIENT_ERRORS as exc:
                reason = "timeout" if isinstance(exc, requests.Timeout) else "connection"
                last_problem = f"{type(exc).__name__}"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        body = orjson.loads(content)
                    except orjson.JSONDecodeError:
                        body = None
                    if isinstance(body, dict):
                        return Page(url=response.url, body=body)
                    reason = "malformed"
                    kind = response.headers.get("Content-Type", "no content type").split(";")[0]
                    last_problem = f"HTTP 200 with an unreadable body ({kind}, {len(content)} bytes)"
                elif status in RETRY_STATUSES or (status == UNAUTHORIZED and attempt == 0):
                    code, message = error_parts(response)
                    reason = str(status)
                    last_problem = str(TwilioAPIError(status, path, code, message))
                    if status == TOO_MANY_REQUESTS:
                        self.limiter.throttle()
                        wait = retry_after_seconds(response.headers.get("Retry-After"))
                else:
                    code, message = error_parts(response)
                    raise TwilioAPIError(status, path, code, message)
            finally:
                self.limiter.release()
            if attempt == policy.max_retries:
                break
            delay = min(MAX_RETRY_AFTER, wait) if wait is not None else policy.delay(attempt)
            self.stats.count(reason, delay)
            LOGGER.info("Retrying %s in %.2fs (attempt %d, %s)", path, delay, attempt + 1, last_problem)
            time.sleep(delay)
        msg = f"gave up on {path} after {policy.max_retries + 1} attempts; last error: {last_problem}"
        raise RetriesExhaustedError(msg)
