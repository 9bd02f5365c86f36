"""HTTP for every Twilio request of a run: bounded concurrency per account, retries on `backoff`, clear errors."""

from __future__ import annotations

import email.utils
import functools
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import backoff
import msgspec
import requests
import urllib3
from requests.adapters import HTTPAdapter

from tap_twilio.clock import TwilioClock
from tap_twilio.limits import AdaptiveLimiter, Stats

if TYPE_CHECKING:
    from backoff._typing import Details

LOGGER = logging.getLogger("tap-twilio")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SERVER_ERRORS = frozenset({"500", "502", "503", "504"})
TOO_MANY_REQUESTS = 429
UNAUTHORIZED = 401
ACCESS_STATUSES = frozenset({401, 403, 404})
HTTP_FORBIDDEN_OR_UNAUTHORIZED = frozenset({401, 403})
MAX_RETRY_AFTER = 300.0
WARN_FROM_ATTEMPT = 3  # retry lines are INFO at first, WARNING once a request keeps failing
TRANSIENT_ERRORS = (  # refused, reset, cut off mid-body, timed out: safe to retry a GET
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,  # the same failures while the body is read (see TwilioClient._attempt)
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
    """A request kept failing with retryable errors (`reason`: the last one's, e.g. "500" or "timeout")."""

    reason: str = ""


class UnreachableError(TwilioError):
    """The host refused the connection or does not resolve, and has never answered in this run."""


class _Retryable(Exception):
    """One failed attempt that may be retried."""

    def __init__(self, reason: str, problem: str, retry_after: float | None = None, *, unreachable: bool = False):
        super().__init__(problem)
        self.reason, self.problem, self.retry_after, self.unreachable = reason, problem, retry_after, unreachable


class _Links(msgspec.Struct):
    """What a worker reads of a page to ask for the next one (msgspec checks the page is JSON, builds no record)."""

    next_page_uri: Any = None  # v2010 (relative)
    meta: Any = None  # product APIs: meta.next_page_url (absolute)

    def next(self) -> str | None:
        link = self.meta.get("next_page_url") if isinstance(self.meta, dict) else self.next_page_uri
        return str(link) if link else None


_LINKS = msgspec.json.Decoder(_Links)


@functools.cache
def _field_decoder(list_key: str, names: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """Reads these fields of a page's records and nothing else."""
    record = msgspec.defstruct("Record", [(name, Any, None) for name in names])
    return msgspec.json.Decoder(msgspec.defstruct("Fields", [(list_key, list[record], [])]))  # type: ignore[valid-type]


_decode = msgspec.json.Decoder().decode


class Page:
    """One response page: its next link at once, its records decoded where they are first used.

    The worker that fetches a page needs only its next link (msgspec reads it without building the records: 0.5 ms
    for 1,000 messages). The records are built by the thread that types and writes them, unless the worker needs
    them first (to start child lists): a page waiting in the pipeline holds its bytes, not its objects.
    """

    __slots__ = ("_body", "_content", "_fields", "converted", "nbytes", "next_link", "url")

    def __init__(
        self, url: str, body: dict[str, Any] | None = None, *, content: bytes = b"", next_link: str | None = None
    ) -> None:
        """A page from its decoded body, or from content whose outline (a JSON object; its next link) was read."""
        self.url, self.next_link, self._body, self._content = url, next_link, body, content
        self.converted = False  # its records were typed in place already (by the worker that fetched it)
        self._fields: dict[tuple[str, str], list[Any]] = {}  # values() read from the content
        self.nbytes = len(content)  # what the page weighs while it waits for the writer (its bytes)

    def values(self, list_key: str, name: str) -> list[Any]:
        """One field of every record, read from the content without building the records; the sids are read in
        the same pass (a window's first page is asked for its dates, then its sids: one scan of it, not two)."""
        if self._body is not None:
            return [r.get(name) for r in self._body.get(list_key) or [] if isinstance(r, dict)]
        if (list_key, name) not in self._fields:
            names = tuple(dict.fromkeys((name, "sid")))
            records = getattr(_field_decoder(list_key, names).decode(self._content), list_key)
            self._fields.update({(list_key, n): [getattr(r, n) for r in records] for n in names})
        return self._fields[list_key, name]

    @property
    def body(self) -> dict[str, Any]:
        """The decoded page (decoded on first use)."""
        if self._body is None:  # the worker's outline read checked that the content is one JSON object
            self._body, self._content = _decode(self._content), b""
        return self._body


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up (values come from the tap's settings)."""

    max_retries: int
    backoff_base: float
    backoff_max: float
    connect_timeout: float
    read_timeout: float
    unreachable_seconds: float = 10.0  # a host that never answered is given this long, then the run fails

    def waits(self) -> Generator[float, Any, None]:
        """`backoff` wait generator: Retry-After when Twilio sends one, else exponential with equal jitter."""
        attempt = 0
        failure = yield 0.0  # backoff primes the generator, then sends each failure in
        while True:
            retry_after = failure.retry_after if isinstance(failure, _Retryable) else None
            if retry_after is not None:
                wait = min(MAX_RETRY_AFTER, retry_after)
            else:
                cap = float(min(self.backoff_max, self.backoff_base * 2**attempt))
                wait = cap / 2 + random.uniform(0, cap / 2)
            attempt += 1
            failure = yield wait


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


def error_parts(response: requests.Response, content: bytes) -> tuple[int | None, str]:
    """Twilio's error code and message, or a short description of a non-JSON body."""
    try:
        body = _decode(content)
    except msgspec.DecodeError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return None, f"{response.reason or 'error'} ({kind} body of {len(content)} bytes)"
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("message") or response.reason)
    return None, str(response.reason)


def _os_error(exc: BaseException) -> OSError | None:
    """The refused connection or failed name lookup behind a requests error, if that is what it was."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (ConnectionRefusedError, socket.gaierror)):
            return current
        pending += [current.__cause__, current.__context__, *(a for a in current.args if isinstance(a, BaseException))]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return None


class Gate:
    """What every client of a run shares: the process cap on requests in flight, one adaptive limiter per Twilio
    account, hosts seen, stats."""

    def __init__(
        self, max_concurrency: int, policy: RetryPolicy, user_agent: str, per_account: int | None = None
    ) -> None:
        """One gate per run."""
        self.max_concurrency = max_concurrency
        self.per_account = min(per_account or max_concurrency, max_concurrency)
        self.policy = policy
        self.user_agent = user_agent
        self.stats = Stats()
        self.slots = threading.BoundedSemaphore(max_concurrency)
        self.answered: set[str] = set()  # hosts (scheme://netloc) that sent any HTTP response
        self.stopped = threading.Event()  # the run was asked to stop (a signal): no request starts any more
        self.clock = TwilioClock()  # Twilio's time, from the Date header of its first response
        self.first_failure: dict[str, float] = {}
        self.limiters: dict[str, AdaptiveLimiter] = {}
        self.in_flight = 0
        self.max_in_flight = 0  # most requests in flight in the whole process
        self._lock = threading.Lock()

    def enter(self) -> None:
        """A request starts (counted for the closing summary)."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        """A request ended."""
        with self._lock:
            self.in_flight -= 1

    def limiter(self, account: str) -> AdaptiveLimiter:
        """The account's own cap (Twilio counts concurrent requests per account), created on first use."""
        limiter = self.limiters.get(account)
        if limiter is None:
            with self._lock:
                limiter = self.limiters.setdefault(account, AdaptiveLimiter(self.per_account))
        return limiter


class TwilioClient:
    """Thread-safe GETs with one set of credentials; each account's 429-adaptive limit, under the process cap.

    Twilio limits concurrent requests per account, so a 429 slows only the account that got it. The account of a
    request is the one in its path (/Accounts/AC…), else the credentials' own (product APIs read their own).
    """

    def __init__(self, auth: tuple[str, str], gate: Gate) -> None:
        """One client per set of credentials (per account) of a run."""
        self._auth = auth
        self.gate = gate
        self.limiter = gate.limiter(auth[0])  # the credentials' own account
        self._local = threading.local()
        self._sessions: list[requests.Session] = []  # idle: one request at a time each
        self._sessions_lock = threading.Lock()
        policy = gate.policy
        self._get = backoff.on_exception(
            policy.waits,
            _Retryable,
            max_tries=policy.max_retries + 1,
            jitter=None,  # the wait generator jitters, and never a Retry-After
            giveup=self._give_up,
            on_backoff=self._on_backoff,
            raise_on_giveup=True,
            logger=None,
        )(self._attempt)

    @property
    def stats(self) -> Stats:
        """The run's request counts."""
        return self.gate.stats

    def _checkout(self) -> requests.Session:
        """An idle session, so its kept-alive connection serves the next request whichever thread sends it (lists
        run on short-lived threads: a session per thread opened a connection per list)."""
        with self._sessions_lock:
            if self._sessions:
                return self._sessions.pop()
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=1, max_retries=0)
        for scheme in ("http://", "https://"):
            session.mount(scheme, adapter)
        session.auth = self._auth
        # requests re-reads proxy settings on every call (a third of a worker's CPU on small lists): none, no need
        session.trust_env = any(k.lower().endswith("_proxy") for k in os.environ)
        session.headers["User-Agent"] = self.gate.user_agent
        session.headers["Accept"] = "application/json"
        return session

    def get(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        label: str = "",
        *,
        server_errors: int | None = None,
    ) -> Page:
        """GET a JSON object, retrying what Twilio says is safe to retry (5xx at most `server_errors` times when
        given: the caller has a smaller page to ask for instead, see pagination.follow_pages)."""
        self._local.server_errors, self._local.server_errors_left = server_errors, server_errors
        try:
            try:
                page: Page = self._get(url, params, headers, label)
            except TwilioAPIError as exc:
                if exc.status != UNAUTHORIZED:
                    raise
                # sporadic 401s (CDN auth hiccups) are reported: one more try; a real 401 repeats
                self.gate.stats.count(str(exc.status))
                page = self._get(url, params, headers, label)
        except _Retryable as exc:
            parts = urlsplit(url)
            if exc.unreachable:
                msg = f"cannot reach {parts.scheme}://{parts.netloc}{parts.path}: {exc.problem}"
                raise UnreachableError(msg) from None
            attempts = self.gate.policy.max_retries + 1
            msg = f"gave up on {parts.path} after {attempts} attempts; last error: {exc.problem}"
            error = RetriesExhaustedError(msg)
            error.reason = exc.reason
            raise error from None
        return page

    def _attempt(self, url: str, params: dict[str, Any] | None, headers: dict[str, str] | None, label: str) -> Page:
        """One try: a Page, a _Retryable, or a TwilioAPIError for answers that retrying cannot change."""
        policy, gate = self.gate.policy, self.gate
        if gate.stopped.is_set():
            msg = "the run was stopped; no request starts any more"
            raise TwilioError(msg)
        at = url.find("/Accounts/AC")
        limiter = gate.limiter(url[at + 10 : at + 44]) if at >= 0 else self.limiter
        limiter.acquire()
        gate.slots.acquire()
        gate.enter()
        session = self._checkout()
        try:
            gate.stats.count(label=label)
            try:
                response = session.get(
                    url,
                    params=params,
                    headers=headers,
                    timeout=(policy.connect_timeout, policy.read_timeout),
                    allow_redirects=False,
                    stream=True,
                )
                # one read of the whole body: requests' .content reads it in 10 kB chunks, each through several
                # layers, which cost more CPU than decoding the page; a dropped body raises here
                content = response.raw.read(decode_content=True)
            except TRANSIENT_ERRORS as exc:
                raise self._transport_failure(url, exc) from None
        finally:
            with self._sessions_lock:
                self._sessions.append(session)
            gate.leave()
            gate.slots.release()
            limiter.release()
        parts = urlsplit(url)
        gate.answered.add(f"{parts.scheme}://{parts.netloc}")
        gate.clock.observe(response.headers.get("Date"))
        reported = response.headers.get("Twilio-Concurrent-Requests")
        if reported and reported.isdigit():
            limiter.observe(int(reported))
        status = response.status_code
        if status == 200:
            try:
                links = _LINKS.decode(content)
            except msgspec.DecodeError:
                pass
            else:
                return Page(response.url, content=content, next_link=links.next())
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise _Retryable("malformed", f"HTTP 200 with an unreadable body ({kind}, {len(content)} bytes)")
        code, message = error_parts(response, content)
        error = TwilioAPIError(status, parts.path, code, message)
        if status == TOO_MANY_REQUESTS:
            limiter.throttle()
            raise _Retryable(str(status), str(error), retry_after_seconds(response.headers.get("Retry-After")))
        if status in RETRY_STATUSES:
            raise _Retryable(str(status), str(error))
        raise error

    def _transport_failure(self, url: str, exc: Exception) -> _Retryable:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        reason = "timeout" if isinstance(exc, requests.Timeout) else "connection"
        os_error = _os_error(exc)
        if os_error is not None and host not in self.gate.answered:
            started = self.gate.first_failure.setdefault(host, time.monotonic())
            problem = f"{type(os_error).__name__}: {os_error.strerror or os_error}"
            # a name that does not resolve stays so (a region/edge typo); a refused port may be starting up
            give_up = isinstance(os_error, socket.gaierror) or (
                time.monotonic() - started >= self.gate.policy.unreachable_seconds
            )
            return _Retryable(reason, problem, unreachable=give_up)
        return _Retryable(reason, type(exc).__name__)

    def _give_up(self, exc: Exception) -> bool:
        if isinstance(exc, _Retryable) and exc.reason in SERVER_ERRORS and self._local.server_errors is not None:
            self._local.server_errors_left -= 1
            if self._local.server_errors_left <= 0:
                return True
        return isinstance(exc, _Retryable) and exc.unreachable

    def _on_backoff(self, details: Details) -> None:
        failure = details.get("exception")
        wait = float(details.get("wait") or 0.0)
        problem = failure.problem if isinstance(failure, _Retryable) else str(failure)
        reason = failure.reason if isinstance(failure, _Retryable) else "error"
        self.gate.stats.count(reason, wait)
        url = str(details["args"][0]) if details.get("args") else "?"
        tries = int(details.get("tries", 0))
        level = logging.WARNING if tries >= WARN_FROM_ATTEMPT else logging.INFO
        LOGGER.log(level, "Retrying %s in %.2fs (attempt %d, %s)", urlsplit(url).path, wait, tries, problem)
