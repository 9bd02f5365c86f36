"""HTTP for every Twilio request of a run: bounded concurrency per account, retries on `backoff`, clear errors."""

from __future__ import annotations

import email.utils
import http.client
import logging
import os
import random
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlencode, urlsplit

import backoff
import certifi
import msgspec
import urllib3

from tap_twilio.clock import TwilioClock
from tap_twilio.limits import AdaptiveLimiter, Stats
from tap_twilio.page import Page, decode, read_page

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
TRANSIENT_ERRORS = (  # refused, reset, cut off mid-body, timed out, undecodable: safe to retry a GET
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
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


def error_parts(response: urllib3.BaseHTTPResponse, content: bytes) -> tuple[int | None, str]:
    """Twilio's error code and message, or a short description of a non-JSON body."""
    try:
        body = decode(content)
    except msgspec.DecodeError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        return None, f"{response.reason or 'error'} ({kind} body of {len(content)} bytes)"
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("message") or response.reason)
    return None, str(response.reason)


def _os_error(exc: BaseException) -> OSError | None:
    """The refused connection, failed name lookup or rejected certificate behind a transport error, if that is
    what it was."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (ConnectionRefusedError, socket.gaierror, ssl.SSLCertVerificationError)):
            return current
        pending += [current.__cause__, current.__context__, *(a for a in current.args if isinstance(a, BaseException))]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return None


def _proxy_manager(proxy: str, options: dict[str, Any]) -> urllib3.ProxyManager:
    """Requests through `proxy`; credentials in its URL (http://user:password@host:port) go in Proxy-Authorization,
    as requests sends them."""
    parts = urlsplit(proxy)
    headers = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = urllib3.make_headers(proxy_basic_auth=credentials)
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **options)


class Connections:
    """Keep-alive connections every client of a run shares, per host up to the process cap, so 200 subaccounts
    reuse the same few connections instead of opening their own.

    urllib3 directly, not requests: requests' own work per request (preparing it, merging settings, cookies, its
    Response) doubled the CPU of a small list's request, about 0.2 ms more (benchmarks/transport.py). What requests
    reads from the environment is read here the same way, once: a proxy from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY
    unless NO_PROXY names the host, and the CA bundle from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (else certifi's, as
    requests does).
    """

    def __init__(self, maxsize: int) -> None:
        """Pools of up to `maxsize` idle connections per host."""
        ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        self._options: dict[str, Any] = {"num_pools": 16, "maxsize": maxsize, "ca_certs": ca, "retries": False}
        self._direct = urllib3.PoolManager(**self._options)
        self._proxies = {k: v for k, v in urllib.request.getproxies().items() if k != "no"}
        self._route: dict[tuple[str, str], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def pool(self, scheme: str, host: str) -> urllib3.PoolManager:
        """Where a request to this host goes: straight there, or through the environment's proxy."""
        if not self._proxies:
            return self._direct
        route = self._route.get((scheme, host))
        if route is None:
            proxy = self._proxies.get(scheme) or self._proxies.get("all")
            with self._lock:
                if not proxy or urllib.request.proxy_bypass(host.rsplit(":", 1)[0]):
                    route = self._direct
                else:
                    route = _proxy_manager(proxy, self._options)
                self._route[scheme, host] = route
        return route

    def close(self) -> None:
        """Close every idle connection."""
        for manager in {id(m): m for m in (self._direct, *self._route.values())}.values():
            manager.clear()


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
        self.connections = Connections(max_concurrency)
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
        self.gate = gate
        self.limiter = gate.limiter(auth[0])  # the credentials' own account
        self._local = threading.local()
        policy = gate.policy
        self._headers = {
            **urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}", accept_encoding="gzip, deflate"),
            "User-Agent": gate.user_agent,
            "Accept": "application/json",
        }
        self._timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
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

    def get(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        label: str = "",
        *,
        server_errors: int | None = None,
        fields: tuple[str, str] | None = None,
    ) -> Page:
        """GET a JSON object, retrying what Twilio says is safe to retry (5xx at most `server_errors` times when
        given: the caller has a smaller page to ask for instead, see pagination.follow_pages). `fields`: a list key
        and a field its records' values are read of, with the next link (page.read_page)."""
        self._local.server_errors, self._local.server_errors_left = server_errors, server_errors
        try:
            try:
                page: Page = self._get(url, params, headers, label, fields)
            except TwilioAPIError as exc:
                if exc.status != UNAUTHORIZED:
                    raise
                # sporadic 401s (CDN auth hiccups) are reported: one more try; a real 401 repeats
                self.gate.stats.count(str(exc.status))
                page = self._get(url, params, headers, label, fields)
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

    def _attempt(
        self,
        url: str,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
        label: str,
        fields: tuple[str, str] | None,
    ) -> Page:
        """One try: a Page, a _Retryable, or a TwilioAPIError for answers that retrying cannot change."""
        gate = self.gate
        if gate.stopped.is_set():
            msg = "the run was stopped; no request starts any more"
            raise TwilioError(msg)
        if params:
            url += ("&" if "?" in url else "?") + urlencode({k: v for k, v in params.items() if v is not None})
        parts = urlsplit(url)
        at = url.find("/Accounts/AC")
        limiter = gate.limiter(url[at + 10 : at + 44]) if at >= 0 else self.limiter
        limiter.acquire()
        gate.slots.acquire()
        gate.enter()
        try:
            gate.stats.count(label=label)
            try:
                response = gate.connections.pool(parts.scheme, parts.netloc).request(
                    "GET",
                    url,
                    headers={**self._headers, **headers} if headers else self._headers,
                    timeout=self._timeout,
                    redirect=False,
                    retries=False,
                    preload_content=False,
                )
                # one read of the whole body (a dropped body raises here), then the connection goes back to the pool
                content = response.read(decode_content=True)
                response.release_conn()
            except TRANSIENT_ERRORS as exc:
                raise self._transport_failure(url, exc) from None
        finally:
            gate.leave()
            gate.slots.release()
            limiter.release()
        gate.answered.add(f"{parts.scheme}://{parts.netloc}")
        gate.clock.observe(response.headers.get("Date"))
        reported = response.headers.get("Twilio-Concurrent-Requests")
        if reported and reported.isdigit():
            limiter.observe(int(reported))
        status = response.status
        if status == 200:
            try:
                return read_page(url, content, fields)
            except msgspec.DecodeError:
                pass
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
        timeout = isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError))
        reason = "timeout" if timeout and not isinstance(exc, urllib3.exceptions.NewConnectionError) else "connection"
        os_error = _os_error(exc)
        if os_error is not None and host not in self.gate.answered:
            started = self.gate.first_failure.setdefault(host, time.monotonic())
            problem = f"{type(os_error).__name__}: {os_error.strerror or os_error}"
            if isinstance(os_error, ssl.SSLCertVerificationError):
                problem += " (behind a TLS-inspecting proxy, set REQUESTS_CA_BUNDLE to its CA bundle)"
            # a certificate rejected stays so, and a name that does not resolve too (a region/edge typo); a refused
            # port may be starting up
            give_up = isinstance(os_error, (socket.gaierror, ssl.SSLCertVerificationError)) or (
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
