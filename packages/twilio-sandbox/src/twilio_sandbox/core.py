"""The Twilio sandbox: account/data model, request routing, paging, auth, faults and the HTTP server."""

from __future__ import annotations

import base64
import collections
import datetime as _dt
import email.utils
import gzip
import hmac
import itertools
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

from . import data as D
from ._util import (
    DAY,
    MASK64,
    day_str,
    dumps,
    from_epoch,
    h64,
    hexn,
    iso_offset,
    iso_z,
    loads,
    parse_any_ts,
    parse_day,
    parse_iso_ts,
    rfc2822,
    to_epoch,
)
from .faults import Faults
from .insights import Insights
from .products import PRODUCTS, ProductApi, ProductError
from .taskrouter import TaskRouter

V = D.V
Record = D.Record
Key = D.Key
Pred = D.Pred
Params = list[tuple[str, str]]  # query pairs, in request order
Route = dict[str, Any]  # what _route found: kind, account, resource, parent, sid ...
MAX_PAGE_SIZE = 1000
MESSAGE_RETENTION_DAYS = 400
ALERT_RETENTION_DAYS = 30

SID_RESOURCES = tuple(D.SID_RESOURCES)
CHILD_RESOURCES = ("message_media", "conference_participants", "dependent_phone_numbers", "queue_members")
AVAILABLE_RESOURCES = (
    "available_phone_numbers_local",
    "available_phone_numbers_mobile",
    "available_phone_numbers_toll_free",
)
ALL_RESOURCES = (
    "accounts",
    "account_balance",
    *SID_RESOURCES,
    *CHILD_RESOURCES,
    "available_phone_number_countries",
    *AVAILABLE_RESOURCES,
    "usage_records",
)
SEGMENT_RESOURCE = {v: k for k, v in D.URL_SEGMENT.items()}
# (parent list segment, child segment) -> child resource, for children kept in their own store or in a queue
CHILD_SEGMENTS = {
    **{(D.URL_SEGMENT[parent], seg): child for child, (parent, _f, seg) in D.STORE_CHILDREN.items()},
    ("Queues", "Members"): "queue_members",
}


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def error_body(status: int, code: int, message: str) -> bytes:
    return dumps(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    )


@dataclass
class Resp:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    action: str | None = None  # "close" | "half" | None
    content_type: str = "application/json"


@dataclass
class Principal:
    account: D.Account
    kind: str  # "token" | "main-key" | "standard-key"


CACHE_MAX_BYTES = 1 << 30


class Stats:
    """Thread-safe request counters, and the time-weighted number of requests in flight (``in_flight_seconds``
    over ``last_end - first_begin`` is the mean concurrency a benchmark reports)."""

    def __init__(self, record_requests: bool = True) -> None:
        self._lock = threading.Lock()
        self.record_requests = record_requests
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_resource: collections.Counter[str] = collections.Counter()
            self.by_account: collections.Counter[str] = collections.Counter()
            self.by_status: collections.Counter[int] = collections.Counter()
            self.faults: collections.Counter[str] = collections.Counter()
            self.in_flight = 0
            self.max_in_flight = 0
            self.in_flight_per_account: collections.Counter[str] = collections.Counter()
            self.max_in_flight_per_account: dict[str, int] = {}
            self.requests: list[tuple[str, str]] = []
            self.in_flight_seconds = 0.0
            self.first_begin: float | None = None
            self.last_end: float | None = None
            self._changed = 0.0
            # (monotonic seconds, account, that account's requests in flight after the event, status; 0 = began)
            self.timeline: list[tuple[float, str, int, int]] = []

    def _integrate(self) -> float:
        now = time.monotonic()
        self.in_flight_seconds += self.in_flight * (now - self._changed)
        self._changed = now
        return now

    def begin(self, method: str, path_q: str, resource: str, acct: str) -> int:
        with self._lock:
            self.total += 1
            self.by_resource[resource] += 1
            self.by_account[acct] += 1
            if self.record_requests:
                self.requests.append((method, path_q))
            now = self._integrate()
            if self.first_begin is None:
                self.first_begin = now
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            n = self.in_flight_per_account[acct] + 1
            self.in_flight_per_account[acct] = n
            if n > self.max_in_flight_per_account.get(acct, 0):
                self.max_in_flight_per_account[acct] = n
            if self.record_requests:
                self.timeline.append((time.monotonic(), acct, n, 0))
            return n

    def end(self, acct: str, status: int, fault: str | None) -> None:
        with self._lock:
            self.last_end = self._integrate()
            self.in_flight -= 1
            self.in_flight_per_account[acct] -= 1
            self.by_status[status] += 1
            if self.record_requests:
                self.timeline.append((time.monotonic(), acct, self.in_flight_per_account[acct], status))
            if fault:
                self.faults[fault] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_resource": dict(self.by_resource),
                "by_account": dict(self.by_account),
                "by_status": dict(self.by_status),
                "faults": dict(self.faults),
                "max_in_flight": self.max_in_flight,
                "max_in_flight_per_account": dict(self.max_in_flight_per_account),
                "requests": list(self.requests),
                "in_flight_seconds": self.in_flight_seconds,
                "busy_span_s": (self.last_end - self.first_begin)
                if self.first_begin is not None and self.last_end is not None
                else 0.0,
            }


# ====================================================================== list sources


class Source:
    """A sorted (newest first) collection that can be paged with PA/PB tokens."""

    def iter(self, after: Key | None) -> Iterator[tuple[Key, Record]]:  # pragma: no cover - interface
        raise NotImplementedError

    def key_of_token(self, tid: str) -> Key | None:  # pragma: no cover
        raise NotImplementedError

    def token_id(self, key: Key, rec: Record) -> str:  # pragma: no cover
        raise NotImplementedError


class StoreSource(Source):
    def __init__(
        self,
        store: D.Store,
        *,
        lo: int | None = None,
        hi: int | None = None,
        pred: Pred | None = None,
        base_lo: int | None = None,
        base_hi: int | None = None,
    ) -> None:
        self.store, self.lo, self.hi, self.pred, self.base_lo, self.base_hi = store, lo, hi, pred, base_lo, base_hi

    def iter(self, after: Key | None) -> Iterator[tuple[Key, Record]]:
        return self.store.iter_desc(
            after, lo=self.lo, hi=self.hi, pred=self.pred, base_lo=self.base_lo, base_hi=self.base_hi
        )

    def key_of_token(self, tid: str) -> Key | None:
        return self.store.key_of_sid(tid)

    def token_id(self, key: Key, rec: Record) -> str:
        return str(rec["sid"])


class ListSource(Source):
    """Materialised records; key = (ts, id)."""

    def __init__(
        self,
        items: list[tuple[Key, Record]],
        id_of: Callable[[Key, Record], str],
        parse_token: Callable[[str], Key | None] | None = None,
    ) -> None:
        self.items = sorted(items, key=lambda kv: kv[0], reverse=True)
        self.id_of = id_of
        self.parse_token = parse_token

    def iter(self, after: Key | None) -> Iterator[tuple[Key, Record]]:
        for k, rec in self.items:
            if after is not None and k >= after:
                continue
            yield k, rec

    def key_of_token(self, tid: str) -> Key | None:
        if self.parse_token is not None:
            return self.parse_token(tid)
        for k, rec in self.items:
            if self.id_of(k, rec) == tid:
                return k
        return None

    def token_id(self, key: Key, rec: Record) -> str:
        return self.id_of(key, rec)


# ====================================================================== the sandbox


_RE_ACCOUNTS = re.compile(r"^/2010-04-01/Accounts\.json$")
_RE_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]+)\.json$")
_RE_SUB = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-zA-Z]+)/(.+)\.json$")
_RE_ALERTS = re.compile(r"^/v1/Alerts/?$")
_RE_ALERT = re.compile(r"^/v1/Alerts/(NO[0-9a-zA-Z]+)$")


class Sandbox:
    """A realistic local fake of the Twilio REST API (v2010 + Monitor v1 alerts). See package docs."""

    def __init__(
        self,
        seed: int = 1,
        *,
        now: _dt.datetime | None = None,
        subaccounts: int = 2,
        days: float = 90,
        sizes: dict[str, int] | None = None,
        account_sizes: dict[int, dict[str, int]] | None = None,
        account_offsets_days: dict[int, float] | None = None,
        suspended_subaccounts: int = 0,
        latency_ms: float = 0,
        faults: Faults | None = None,
        concurrency_limit: int | None = None,
        page_size_default: int = 50,
        record_requests: bool = True,
        forbidden_accounts: Iterable[str] | None = None,
        usage_404_before_created: bool = True,
        cache_responses: bool = False,
        gzip_responses: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.seed = seed
        # generated history ends a few seconds back: a client starting in the same second sees all of it
        self.anchor = to_epoch(now) if now is not None else int(time.time()) - 3
        self._fixed_now: int | None = self.anchor if now is not None else None
        self.days = days
        self.sizes = dict(D.DEFAULT_SIZES)
        self.sizes.update(sizes or {})
        self.account_sizes = {int(k): dict(v) for k, v in (account_sizes or {}).items()}
        self.account_offsets_days = {int(k): float(v) for k, v in (account_offsets_days or {}).items()}
        self.latency_ms = latency_ms
        self.faults = faults if faults is not None else Faults()
        self.concurrency_limit = concurrency_limit
        # account sid -> its own limit of concurrent requests (Twilio's limits differ per account), over the above
        self.account_concurrency_limits: dict[str, int] = {}
        self.page_size_default = page_size_default
        self.forbidden_accounts: set[str] = set(forbidden_accounts or ())
        self.usage_404_before_created = usage_404_before_created
        self.stats = Stats(record_requests)
        self.lock = threading.RLock()
        # benchmarks: serve each page once rendered, so the server's CPU does not compete with the client's
        self.cache_responses = cache_responses
        # as Twilio does for a client that accepts it: a 200's body gzip-compressed (`gzipped` counts them)
        self.gzip_responses = gzip_responses
        self.gzipped = 0
        self._response_cache: dict[tuple[str, str, str | None], bytes] = {}
        self._cached_bytes = 0
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.accounts: list[D.Account] = []
        self.accounts_by_sid: dict[str, D.Account] = {}
        self.keys_by_sid: dict[str, tuple[D.Account, str, str]] = {}  # sid -> (account, kind, secret)
        self.child_slots: dict[tuple[str, str], dict[int, Record]] = {}
        # queue sid -> callers waiting (call_sid, date_enqueued, changed fields), once a mutation touched the queue
        self.queue_waiting: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
        self._add_counter = 0
        # Conversations, Studio, Verify, Messaging, Trunking, Pricing, Monitor events, Insights (products.py)
        self.products = ProductApi(self, lambda: self.accounts)
        self.products.handlers.append(Insights(self, lambda: self.accounts))
        self.taskrouter = TaskRouter(self, lambda: self.accounts)  # TaskRouter (taskrouter.py), also for mutations
        self.products.handlers.append(self.taskrouter)

        max_off = max([0.0, *self.account_offsets_days.values()])
        r = random.Random(h64(seed, "accounts"))
        main_created = self.anchor - int((days + max_off + 30) * DAY) - r.randint(0, DAY - 1)
        self._make_account(0, None, "Sandbox Main Account", "active", main_created)
        for k in range(1, subaccounts + 1):
            status = "suspended" if k > subaccounts - suspended_subaccounts else "active"
            off = self.account_offsets_days.get(k, 0.0)
            created = self.anchor - int((days + off + 1 + r.randint(0, 4)) * DAY) - r.randint(0, DAY - 1)
            self._make_account(k, self.accounts[0], f"Subaccount {k}", status, created)

    # ------------------------------------------------------------------ model
    def _sizes_for(self, index: int) -> dict[str, int]:
        s = dict(self.sizes)
        s.update(self.account_sizes.get(index, {}))
        if index == 0:
            s["keys"] = max(2, s.get("keys", 2))
        return s

    def _make_account(
        self,
        index: int,
        parent: D.Account | None,
        name: str,
        status: str,
        created: int,
        *,
        offset_days: float | None = None,
        sizes: dict[str, int] | None = None,
        extra_fields: Record | None = None,
    ) -> D.Account:
        seed = self.seed
        sid = (extra_fields or {}).get("sid") or ("AC" + hexn(seed, "account", index))
        token = (extra_fields or {}).get("auth_token") or hexn(seed, "auth_token", index)
        owner = parent.sid if parent else sid
        rec = D.account_record(sid, token, owner=owner, name=name, status=status, created=created, typ="Full")
        off = self.account_offsets_days.get(index, 0.0) if offset_days is None else offset_days
        t_end = self.anchor - int(off * DAY)
        t_start = max(t_end - int(self.days * DAY), created + 60)
        sz = sizes if sizes is not None else self._sizes_for(index)
        nr = random.Random(h64(seed, sid, "numbers"))
        numbers = [D.rand_us(nr) for _ in range(max(1, sz.get("incoming_phone_numbers", 4)))]
        acct = D.Account(
            index=index,
            sid=sid,
            auth_token=token,
            record=rec,
            created_ts=created,
            t_start=t_start,
            t_end=t_end,
            numbers=numbers,
            parent=parent,
            balance=f"{random.Random(h64(seed, sid, 'balance')).uniform(5, 500):.5f}",
            messaging_service_sid="MG" + hexn(seed, sid, "mg"),
            pn_salt=h64(seed, sid, "incoming_phone_numbers") & MASK64,
        )
        for res in SID_RESOURCES:
            n = sz.get(res, 0)
            ts0 = t_start
            if res == "alerts":
                ts0 = max(t_start, t_end - D.ALERT_SPAN_DAYS * DAY)
            if res in D.STORE_CHILDREN:  # entries of a list are created after the list; no list, no entries
                lists = acct.stores[D.STORE_CHILDREN[res][0]]
                n = n if lists.n else 0
                ts0 = min(max(ts0, lists.ts(0) + 60), t_end - 1) if lists.n else ts0
            acct.stores[res] = D.Store(self, acct, res, n=n, t_start=ts0, t_end=t_end)
        self._soft_delete_recordings(acct, sz.get("deleted_recordings", 0))
        if extra_fields:
            for k, v in extra_fields.items():
                rec[k] = self._convert_field("accounts", k, v)
        self.accounts.append(acct)
        self.accounts_by_sid[sid] = acct
        ks = acct.stores["keys"]
        for i in range(ks.n):
            kind = "main-key" if i == 0 else "standard-key"
            self.keys_by_sid[ks.base_sid(i)] = (acct, kind, hexn(seed, "key_secret", sid, i))
        return acct

    def _soft_delete_recordings(self, acct: D.Account, count: int) -> None:
        """Mark ``count`` recordings of the last 30 days deleted a little after they were made (still listed)."""
        store = acct.stores["recordings"]
        recent = range(store.first_index_ge(acct.t_end - 30 * DAY), store.n)
        r = random.Random(h64(self.seed, acct.sid, "deleted_recordings"))
        for i in sorted(r.sample(recent, min(max(0, count), len(recent)))):
            done = store.ts(i) + 610  # a recording is at most 600 s long
            store.soft_deleted[i] = min(acct.t_end, done + int(r.random() * max(0, min(10 * DAY, acct.t_end - done))))

    @property
    def main(self) -> D.Account:
        return self.accounts[0]

    @property
    def main_account_sid(self) -> str:
        return self.accounts[0].sid

    @property
    def main_auth_token(self) -> str:
        return str(self.accounts[0].record["auth_token"])

    @property
    def account_sids(self) -> list[str]:
        return [a.sid for a in self.accounts]

    @property
    def api_keys(self) -> dict[str, tuple[str, str]]:
        ks = self.main.stores["keys"]
        out = {}
        for name, i in (("main", 0), ("standard", 1)):
            sid = ks.base_sid(i)
            out[name] = (sid, self.keys_by_sid[sid][2])
        return out

    def secrets(self) -> list[str]:
        out = [a.record["auth_token"] for a in self.accounts]
        out += [v[2] for v in self.keys_by_sid.values()]
        return out

    # ------------------------------------------------------------------ clock
    def clock(self) -> int:
        return self._fixed_now if self._fixed_now is not None else int(time.time())

    @property
    def now(self) -> _dt.datetime:
        return from_epoch(self.clock())

    def set_now(self, dt: _dt.datetime) -> None:
        self._fixed_now = to_epoch(dt)
        self._forget_responses()

    def _forget_responses(self) -> None:
        """Data changed: cached pages are stale."""
        with self.lock:
            self._response_cache.clear()
            self._cached_bytes = 0

    # ------------------------------------------------------------------ server
    def start(self) -> Sandbox:
        if self._server is not None:
            return self
        handler = _make_handler(self)
        srv = _Server((self._host, self._port), handler)
        self._server = srv
        self._thread = threading.Thread(
            target=srv.serve_forever, kwargs={"poll_interval": 0.05}, name="twilio-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread (CLI)."""
        if self._server is None:
            self._server = _Server((self._host, self._port), _make_handler(self))
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        srv = self._server
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        srv.close_live_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        start = from_epoch(self.anchor) - _dt.timedelta(days=self.days + 1)
        cfg = {
            "account_sid": self.main_account_sid,
            "auth_token": self.main_auth_token,
            "api_url": self.url,
            "monitor_url": self.url,
            "base_url_template": self.url + "/{product}",  # every product API on this one port
            "start_date": start.strftime("%Y-%m-%dT00:00:00Z"),
        }
        cfg.update(overrides)
        return cfg

    def reset_stats(self) -> None:
        self.stats.reset()

    # ------------------------------------------------------------------ request handling
    def handle(self, method: str, target: str, headers: Any) -> tuple[Resp, str | None]:
        """Returns (response, stall-or-fault-kind)."""
        path, _, query = target.partition("?")
        params = parse_qsl(query, keep_blank_values=True)
        # base URL template http://host:port/{product}: /api/2010-04-01/..., /conversations/v1/...; unprefixed paths too
        head, _, rest = path[1:].partition("/")
        product = head if head in PRODUCTS and rest else None
        path = "/" + rest if product else path
        resource, route = self.products.route(product, path) or self._route(path)
        route["prefix"] = f"/{product}" if product else ""
        t0 = time.perf_counter()
        principal = self._authenticate(headers.get("Authorization"))
        target_sid = route.get("account")
        acct_key = target_sid or (principal.account.sid if principal else "-")
        n_inflight = self.stats.begin(method, target, resource, acct_key)
        status = 0
        fault: str | None = None
        try:
            if principal is None:
                resp = self._error(401, 20003, "Authenticate", [("WWW-Authenticate", 'Basic realm="Twilio API"')])
            else:
                resp, fault = self._handle_authed(
                    method,
                    path,
                    target,
                    params=params,
                    headers=headers,
                    resource=resource,
                    route=route,
                    principal=principal,
                    n_inflight=n_inflight,
                )
            resp.headers.append(("Twilio-Concurrent-Requests", str(n_inflight)))
            resp.headers.append(("Twilio-Request-Duration", "%.3f" % (time.perf_counter() - t0)))
            resp.headers.append(("Twilio-Request-Id", "RQ" + hexn(time.perf_counter_ns(), target, n_inflight)))
            if self.latency_ms:
                time.sleep(self.latency_ms / 1000.0)
            status = resp.status if resp.action is None else 0
            return resp, fault
        finally:
            self.stats.end(acct_key, status, fault)

    def _error(self, status: int, code: int, message: str, headers: list[tuple[str, str]] | None = None) -> Resp:
        return Resp(status, error_body(status, code, message), list(headers or []))

    def _handle_authed(
        self,
        method: str,
        path: str,
        target: str,
        *,
        params: Params,
        headers: Any,
        resource: str,
        route: Route,
        principal: Principal,
        n_inflight: int,
    ) -> tuple[Resp, str | None]:
        # per-account concurrency limit (real Twilio answers 429 / 20429)
        account = route.get("account") or (principal.account.sid if principal.account else "")
        limit = self.account_concurrency_limits.get(str(account), self.concurrency_limit)
        if limit is not None and n_inflight > limit:
            return self._error(429, 20429, "Too Many Requests"), "concurrency-429"
        # random and scripted faults may hit any authenticated request, the first /Accounts.json included
        # (only a request with wrong credentials is spared: it gets its 401 first)
        kind = self.faults.take_scripted(target)
        aux = 0.5
        if kind is None:
            kind, aux = self.faults.draw()
            if kind == "5xx":
                kind = ("500", "502", "503", "504")[int(aux * 4) % 4]
            elif kind == "429" and aux < self.faults.rate_429_retry_after:
                kind = "429-random-retry-after"
            elif kind == "reset":
                kind = "reset-close" if aux < 0.5 else "reset-half"
        if kind is not None:
            pre = self._pre_fault(kind, aux)
            if pre is not None:
                return pre, kind
        if method != "GET":
            return self._error(405, 20004, "Method not allowed"), kind
        if self.faults.page_too_big(path, self._requested_page_size(params)):
            return self._error(500, 20500, "Internal Server Error"), "page-size-500"
        cache_key = (principal.account.sid if principal.account else "", target, headers.get("Host"))
        cached = self._response_cache.get(cache_key) if self.cache_responses and kind is None else None
        if cached is not None:
            return Resp(200, cached, []), kind
        try:
            resp = self._dispatch(path, params, headers, route, principal)
        except ApiError as e:
            resp = self._error(e.status, e.code, e.message, e.headers)
        if self.cache_responses and kind is None and resp.status == 200 and resp.action is None:
            with self.lock:
                if self._cached_bytes + len(resp.body) <= CACHE_MAX_BYTES:
                    self._response_cache[cache_key] = resp.body
                    self._cached_bytes += len(resp.body)
        if kind is not None and resp.status == 200:
            host = headers.get("Host") or "127.0.0.1"
            resp = self._post_fault(kind, resp, route, target, f"http://{host}{target}")
        return resp, kind

    def _pre_fault(self, kind: str, aux: float) -> Resp | None:  # noqa: PLR0911 - one return per fault kind
        if kind in ("429", "429-retry-after", "429-random-retry-after"):
            hdrs = []
            if kind == "429-retry-after":
                hdrs.append(("Retry-After", "1"))
            elif kind == "429-random-retry-after":
                if aux < self.faults.rate_429_retry_after / 2:
                    hdrs.append(("Retry-After", email.utils.formatdate(time.time() + 1, usegmt=True)))
                else:
                    hdrs.append(("Retry-After", str(int(aux * 10) % 2)))
            return self._error(429, 20429, "Too Many Requests", hdrs)
        if kind in ("500", "502", "503", "504"):
            st = int(kind)
            msg = {
                500: "An internal server error has occurred",
                502: "Bad Gateway",
                503: "Service Unavailable",
                504: "Gateway Timeout",
            }[st]
            return self._error(st, 20500 if st == 500 else 20000 + st, msg)
        if kind == "401":
            return self._error(401, 20003, "Authenticate", [("WWW-Authenticate", 'Basic realm="Twilio API"')])
        if kind == "403":
            return self._error(403, 20003, "Permission Denied")
        if kind == "404":
            return self._error(404, 20404, "The requested resource was not found")
        if kind == "html":
            body = (
                b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway"
                b"</h1></center>\r\n</body>\r\n</html>\r\n"
            )
            return Resp(502, body, [], content_type="text/html")
        if kind in ("reset", "reset-close"):
            return Resp(0, b"", [], action="close")
        if kind == "empty":
            return Resp(200, b"", [])
        if kind == "stall":
            time.sleep(self.faults.stall_seconds)
            return None
        return None  # faults applied to the real response

    def _post_fault(self, kind: str, resp: Resp, route: Route, target: str, abs_url: str) -> Resp:
        if kind == "reset-half":
            return Resp(200, resp.body, resp.headers, action="half")
        if kind == "truncated":
            return Resp(200, resp.body[: max(1, len(resp.body) // 2)], resp.headers)
        if kind in ("missing-list-key", "repeat-next"):
            doc = loads(resp.body)
            if not isinstance(doc, dict):
                return resp
            if kind == "missing-list-key":
                key = doc.get("meta", {}).get("key") if isinstance(doc.get("meta"), dict) else None
                for k in [key] if key else [k for k, v in doc.items() if isinstance(v, list)]:
                    doc.pop(k, None)
            # the next-page link is exactly the URL of this request
            elif isinstance(doc.get("meta"), dict):
                doc["meta"]["next_page_url"] = abs_url
            else:
                doc["next_page_uri"] = target
            return Resp(200, dumps(doc), resp.headers)
        return resp

    # ------------------------------------------------------------------ routing / auth
    def _route(self, path: str) -> tuple[str, Route]:  # noqa: PLR0911 - one return per route
        if _RE_ACCOUNTS.match(path):
            return "accounts", {"kind": "accounts"}
        m = _RE_ACCOUNT.match(path)
        if m:
            return "accounts", {"kind": "account", "account": m.group(1)}
        m = _RE_SUB.match(path)
        if m:
            acct, rest = m.group(1), m.group(2)
            parts = rest.split("/")
            route: dict[str, Any] = {"account": acct}
            if rest == "Balance":
                route["kind"] = "balance"
                return "account_balance", route
            if rest in SEGMENT_RESOURCE:
                route.update(kind="list", resource=SEGMENT_RESOURCE[rest])
                return SEGMENT_RESOURCE[rest], route
            if rest == "Usage/Records/Daily":
                route["kind"] = "usage"
                return "usage_records", route
            if rest == "AvailablePhoneNumbers":
                route["kind"] = "countries"
                return "available_phone_number_countries", route
            if len(parts) == 2 and parts[0] == "AvailablePhoneNumbers":
                route.update(kind="country", country=parts[1])
                return "available_phone_number_countries", route
            if len(parts) == 3 and parts[0] == "AvailablePhoneNumbers" and parts[2] in D.SEGMENT_TYPE:
                typ = D.SEGMENT_TYPE[parts[2]]
                route.update(kind="available", country=parts[1], type=typ)
                return "available_phone_numbers_" + typ, route
            if (
                len(parts) == 3
                and parts[2] in ("Media", "Participants", "DependentPhoneNumbers")
                and parts[0] in ("Messages", "Conferences", "Addresses")
            ):
                res = {
                    "Media": "message_media",
                    "Participants": "conference_participants",
                    "DependentPhoneNumbers": "dependent_phone_numbers",
                }[parts[2]]
                if {"Media": "Messages", "Participants": "Conferences", "DependentPhoneNumbers": "Addresses"}[
                    parts[2]
                ] == parts[0]:
                    route.update(kind="children", resource=res, parent=parts[1])
                    return res, route
            for tail in (2, 3):  # .../{ParentSid}/Child (list) or .../{ParentSid}/Child/{Sid} (fetch)
                if len(parts) > tail:
                    child = CHILD_SEGMENTS.get(("/".join(parts[:-tail]), parts[1 - tail]))
                    if child is not None:
                        route.update(kind="children" if tail == 2 else "child", resource=child, parent=parts[-tail])
                        if tail == 3:
                            route["sid"] = parts[-1]
                        return child, route
            if len(parts) >= 2:
                seg = "/".join(parts[:-1])
                if seg in SEGMENT_RESOURCE:
                    route.update(kind="fetch", resource=SEGMENT_RESOURCE[seg], sid=parts[-1])
                    return SEGMENT_RESOURCE[seg], route
            route["kind"] = "unknown"
            return "unknown", route
        if _RE_ALERTS.match(path):
            return "alerts", {"kind": "alerts"}
        m = _RE_ALERT.match(path)
        if m:
            return "alerts", {"kind": "alert", "sid": m.group(1)}
        return "unknown", {"kind": "unknown"}

    def _authenticate(self, header: str | None) -> Principal | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        acct = self.accounts_by_sid.get(user)
        if acct is not None:
            if hmac.compare_digest(str(acct.record.get("auth_token") or ""), pw):
                return Principal(acct, "token")
            return None
        k = self.keys_by_sid.get(user)
        if k is not None and hmac.compare_digest(k[2], pw):
            return Principal(k[0], k[1])
        return None

    def _target(self, sid: str, principal: Principal, check_status: bool = True, resources: bool = True) -> D.Account:
        acct = self.accounts_by_sid.get(sid)
        if acct is None:
            raise ApiError(404, 20404, f"The requested resource /2010-04-01/Accounts/{sid} was not found")
        p = principal.account
        if not (acct is p or (p.is_main and acct.parent is p)):
            raise ApiError(403, 20003, "Permission Denied")
        if resources and acct is not p and principal.kind != "token":
            # "Main account API Keys are only available to access main account resources": only the main account's
            # SID + auth token reach a subaccount's 2010 resources (a Main key may still list and fetch subaccounts)
            raise ApiError(403, 20003, "Permission Denied: an API key reaches only the account it belongs to")
        if sid in self.forbidden_accounts:
            raise ApiError(403, 20003, "Permission Denied")
        if check_status:
            if acct.status == "suspended":
                raise ApiError(403, 20005, "Account is not active")
            if acct.status == "closed":
                raise ApiError(404, 20404, f"The requested resource /2010-04-01/Accounts/{sid} was not found")
        return acct

    # ------------------------------------------------------------------ dispatch
    def _dispatch(  # noqa: PLR0911 - one return per route kind
        self, path: str, params: Params, headers: Any, route: Route, principal: Principal
    ) -> Resp:
        kind = route["kind"]
        if kind == "unknown":
            raise ApiError(404, 20404, f"The requested resource {path} was not found")
        if kind == "product":  # the authenticated account's own data, never a subaccount's
            if principal.account.sid in self.forbidden_accounts:
                raise ApiError(403, 20003, "Permission Denied")
            base = f"http://{headers.get('Host') or f'127.0.0.1:{self.port}'}{route['prefix']}"
            try:
                return self._json(self.products.dispatch(route, params, base, path, principal.account))
            except ProductError as e:
                raise ApiError(e.status, e.code, e.message) from None
        if kind in ("accounts", "account") or (kind in ("list", "fetch") and route.get("resource") == "keys"):
            if principal.kind == "standard-key":
                raise ApiError(403, 20003, "Permission Denied: a Standard API key cannot access this resource")
        if kind == "accounts":
            return self._json(self._page(path, params, "accounts", self._accounts_source(principal, params)))
        if kind == "account":
            acct = self._target(route["account"], principal, check_status=False, resources=False)
            return self._json(acct.record)
        if kind in ("alerts", "alert"):
            acct = principal.account
            if acct.sid in self.forbidden_accounts:
                raise ApiError(403, 20003, "Permission Denied")
            if acct.status == "suspended":
                raise ApiError(403, 20005, "Account is not active")
            if kind == "alert":
                rec = acct.stores["alerts"].get(route["sid"])
                if rec is None or (parse_any_ts(rec["date_created"]) or 0) < self.clock() - ALERT_RETENTION_DAYS * DAY:
                    raise ApiError(404, 20404, f"The requested resource {path} was not found")
                return self._json(rec)
            src = self._alerts_source(acct, params)
            host = headers.get("Host") or f"127.0.0.1:{self.port}"
            return self._json(self._monitor_page(f"http://{host}{route['prefix']}", path, params, "alerts", src))
        acct = self._target(route["account"], principal)
        if kind == "balance":
            return self._json({"account_sid": acct.sid, "balance": acct.balance, "currency": "USD"})
        if kind == "list":
            res = route["resource"]
            return self._json(self._page(path, params, _LIST_KEYS[res], self._store_source(acct, res, params)))
        if kind == "fetch":
            res = route["resource"]
            rec = acct.stores[res].get(route["sid"])
            if rec is None or not self._visible(acct.stores[res], rec):
                raise ApiError(404, 20404, f"The requested resource {path} was not found")
            if res == "recordings" and not self._recording_listed(
                rec, self._include_soft_deleted(self._params_dict(params))
            ):
                raise ApiError(404, 20404, f"The requested resource {path} was not found")
            return self._json(rec)
        if kind == "child":
            kids = self._children_source(acct, route["resource"], route["parent"], path)
            for key, rec in kids.iter(None):
                if kids.token_id(key, rec) == route["sid"]:
                    return self._json(rec)
            raise ApiError(404, 20404, f"The requested resource {path} was not found")
        if kind == "children":
            res = route["resource"]
            return self._json(
                self._page(path, params, _LIST_KEYS[res], self._children_source(acct, res, route["parent"], path))
            )
        if kind == "usage":
            return self._json(self._page(path, params, "usage_records", self._usage_source(acct, params)))
        if kind == "countries":
            recs = [D.country_record(acct.sid, c, n, t) for c, n, t in D.COUNTRIES]
            return self._json({"countries": recs, "uri": path})
        if kind == "country":
            code = route["country"]
            for c, n, t in D.COUNTRIES:
                if c == code:
                    return self._json(D.country_record(acct.sid, c, n, t))
            raise ApiError(404, 20404, f"The requested resource {path} was not found")
        if kind == "available":
            numbers = self._available(route["country"], route["type"])
            if numbers is None:
                raise ApiError(404, 20404, f"The requested resource {path} was not found")
            ps = self._page_size(params)
            return self._json({"available_phone_numbers": numbers[:ps], "uri": path})
        raise ApiError(404, 20404, f"The requested resource {path} was not found")

    def _json(self, doc: Any) -> Resp:
        return Resp(200, dumps(doc), [])

    # ------------------------------------------------------------------ paging
    @staticmethod
    def _requested_page_size(params: Params) -> int | None:
        sizes = [v for k, v in params if k == "PageSize"]
        return int(sizes[-1]) if sizes and sizes[-1].isdigit() else None

    def _page_size(self, params: Params) -> int:
        raw = None
        for k, v in params:
            if k == "PageSize":
                raw = v
        if raw is None or raw == "":
            return self.page_size_default
        try:
            ps = int(raw)
        except ValueError:
            raise ApiError(400, 20001, f"Invalid PageSize: {raw}") from None
        if ps > MAX_PAGE_SIZE or ps < 1:
            raise ApiError(400, 20007, "The maximum page size is 1000")
        return ps

    def _collect(self, params: Params, src: Source) -> tuple[list[tuple[Key, Record]], bool, int, int, str | None]:
        ps = self._page_size(params)
        page = 0
        token = None
        for k, v in params:
            if k == "Page":
                try:
                    page = int(v)
                except ValueError:
                    raise ApiError(400, 20001, f"Invalid Page: {v}") from None
                if page < 0:
                    raise ApiError(400, 20001, f"Invalid Page: {v}")
            elif k == "PageToken":
                token = v or None
        if token is not None:
            if len(token) < 3 or token[:2] not in ("PA", "PB"):
                raise ApiError(400, 20001, f"Invalid PageToken: {token}")
            key = src.key_of_token(token[2:])
            if key is None:
                raise ApiError(400, 20001, f"Invalid PageToken: {token}")
            if token[:2] == "PA":
                items = list(itertools.islice(src.iter(key), ps + 1))
                more = len(items) > ps
                return items[:ps], more, ps, page, token
            # PB: the page just before (newer than) the token record
            window: collections.deque[tuple[Key, Record]] = collections.deque(maxlen=ps)
            for rec_key, rec in src.iter(None):
                if rec_key <= key:
                    break
                window.append((rec_key, rec))
            return list(window), True, ps, page, token
        it = src.iter(None)
        if page:
            it = itertools.islice(it, page * ps, None)
        items = list(itertools.islice(it, ps + 1))
        more = len(items) > ps
        return items[:ps], more, ps, page, None

    @staticmethod
    def _qs(pairs: Iterable[tuple[str, str]]) -> str:
        return "&".join(quote(k, safe="") + "=" + quote(v, safe="") for k, v in pairs)

    def _page(self, path: str, params: Params, list_key: str, src: Source) -> Record:
        items, more, ps, page, token = self._collect(params, src)
        filters = [(k, v) for k, v in params if k not in ("PageSize", "Page", "PageToken")]
        fq = self._qs(filters)
        base = path + "?" + (fq + "&" if fq else "")
        recs = [rec for _, rec in items]
        uri = base + f"PageSize={ps}&Page={page}" + (f"&PageToken={quote(token, safe='')}" if token else "")
        nxt, prev = _page_links(base, items, more=more, ps=ps, page=page, src=src)
        start = page * ps
        return {
            "end": start + max(len(recs), 1) - 1,
            "first_page_uri": base + f"PageSize={ps}&Page=0",
            list_key: recs,
            "next_page_uri": nxt,
            "page": page,
            "page_size": ps,
            "previous_page_uri": prev,
            "start": start,
            "uri": uri,
        }

    def _monitor_page(self, host: str, path: str, params: Params, key: str, src: Source) -> Record:
        items, more, ps, page, token = self._collect(params, src)
        filters = [(k, v) for k, v in params if k not in ("PageSize", "Page", "PageToken")]
        fq = self._qs(filters)
        base = host + path + "?" + (fq + "&" if fq else "")
        nxt, prev = _page_links(base, items, more=more, ps=ps, page=page, src=src)
        return {
            key: [rec for _, rec in items],
            "meta": {
                "page": page,
                "page_size": ps,
                "first_page_url": base + f"PageSize={ps}&Page=0",
                "previous_page_url": prev,
                "url": base + f"PageSize={ps}&Page={page}" + (f"&PageToken={quote(token, safe='')}" if token else ""),
                "next_page_url": nxt,
                "key": key,
            },
        }

    # ------------------------------------------------------------------ filters
    @staticmethod
    def _params_dict(params: Params) -> dict[str, str]:
        d: dict[str, str] = {}
        for k, v in params:
            d[k.strip()] = v
        return d

    def _day_range(
        self, p: dict[str, str], name: str, retention_days: int | None = None
    ) -> tuple[int | None, int | None]:
        lo = hi = None
        for suffix in ("", ">", "<"):
            key = name + suffix
            if key not in p:
                continue
            raw = p[key]
            day = parse_day(raw)
            if day is None:
                raise ApiError(400, 20001, f"Invalid value for {key}: {raw}")
            ds, de = day * DAY, day * DAY + DAY - 1
            if suffix in ("", ">"):
                lo = ds if lo is None else max(lo, ds)
                if suffix == ">" and retention_days is not None:
                    if day < (self.clock() - retention_days * DAY) // DAY:
                        raise ApiError(400, 20004, f"{name} is outside of retention window of {retention_days} days")
            if suffix in ("", "<"):
                hi = de if hi is None else min(hi, de)
        return lo, hi

    def _visible_lo(self, store: D.Store) -> int | None:
        if store.resource in ("messages", "recordings"):
            return self.clock() - MESSAGE_RETENTION_DAYS * DAY
        if store.resource == "alerts":
            return self.clock() - ALERT_RETENTION_DAYS * DAY
        return None

    @staticmethod
    def _include_soft_deleted(p: dict[str, str]) -> bool:
        raw = p.get("IncludeSoftDeleted", "false").strip().lower()
        if raw not in ("true", "false"):
            raise ApiError(400, 20001, f"Invalid value for IncludeSoftDeleted: {p['IncludeSoftDeleted']}")
        return raw == "true"

    def _recording_listed(self, rec: Record, include_soft_deleted: bool) -> bool:
        """A deleted recording is listed only with IncludeSoftDeleted=true, and only while Twilio keeps it."""
        if rec.get("status") != "deleted":
            return True
        deleted = parse_any_ts(rec.get("date_updated")) or 0
        return include_soft_deleted and deleted >= self.clock() - D.RECORDING_SOFT_DELETE_DAYS * DAY

    def _visible(self, store: D.Store, rec: Record) -> bool:
        lo = self._visible_lo(store)
        return lo is None or store.key_of_record(rec)[0] >= lo

    @staticmethod
    def _max(a: int | None, b: int | None) -> int | None:
        if a is None:
            return b
        return a if b is None else max(a, b)

    def _store_source(self, acct: D.Account, res: str, params: Params) -> StoreSource:
        store = acct.stores[res]
        p = self._params_dict(params)
        lo = hi = base_lo = base_hi = None
        preds: list[Pred] = []

        def eq(field: str, value: str) -> None:
            preds.append(lambda rec, ts: rec.get(field) == value)

        if res == "messages":
            lo, hi = self._day_range(p, "DateSent", MESSAGE_RETENTION_DAYS)
            if "To" in p:
                eq("to", p["To"])
            if "From" in p:
                eq("from", p["From"])
        elif res == "calls":
            lo, hi = self._day_range(p, "StartTime")
            elo, ehi = self._day_range(p, "EndTime")
            if elo is not None or ehi is not None:
                preds.append(_range_pred("end_time", elo, ehi))
                if elo is not None:
                    base_lo = elo - D.CALL_MAX_DURATION - 60
                if ehi is not None:
                    base_hi = ehi + 60
            for prm, fld in (
                ("Status", "status"),
                ("To", "to"),
                ("From", "from"),
                ("ParentCallSid", "parent_call_sid"),
            ):
                if prm in p:
                    eq(fld, p[prm])
        elif res == "recordings":
            lo, hi = self._day_range(p, "DateCreated", MESSAGE_RETENTION_DAYS)
            for prm, fld in (("CallSid", "call_sid"), ("ConferenceSid", "conference_sid")):
                if prm in p:
                    eq(fld, p[prm])
            soft = self._include_soft_deleted(p)
            preds.append(lambda rec, ts: self._recording_listed(rec, soft))
        elif res == "notifications":
            lo, hi = self._day_range(p, "MessageDate")
            if "Log" in p:  # 0 errors, 1 warnings
                try:
                    log = str(int(p["Log"]))
                except ValueError:
                    raise ApiError(400, 20001, f"Invalid value for Log: {p['Log']}") from None
                eq("log", log)
        elif res == "short_codes":
            for prm, fld in (("ShortCode", "short_code"), ("FriendlyName", "friendly_name")):
                if prm in p:
                    eq(fld, p[prm])
        elif res == "conferences":
            lo, hi = self._day_range(p, "DateCreated")
            ulo, uhi = self._day_range(p, "DateUpdated")
            if ulo is not None or uhi is not None:
                preds.append(_range_pred("date_updated", ulo, uhi))
                if ulo is not None:
                    base_lo = ulo - D.CONF_MAX_DURATION - 60
                if uhi is not None:
                    base_hi = uhi
            status = p.get("Status") or "in-progress"
            eq("status", status)
            if "FriendlyName" in p:
                eq("friendly_name", p["FriendlyName"])
        elif res in ("incoming_phone_numbers", "outgoing_caller_ids"):
            for prm, fld in (("PhoneNumber", "phone_number"), ("FriendlyName", "friendly_name")):
                if prm in p:
                    eq(fld, p[prm])
        elif res in ("queues", "applications", "addresses", "usage_triggers"):
            if "FriendlyName" in p:
                eq("friendly_name", p["FriendlyName"])
        vis = self._visible_lo(store)
        lo = self._max(lo, vis)
        pred = None
        if preds:
            if len(preds) == 1:
                pred = preds[0]
            else:

                def pred(rec: Record, ts: int, preds: tuple[Pred, ...] = tuple(preds)) -> bool:
                    return all(f(rec, ts) for f in preds)

        return StoreSource(store, lo=lo, hi=hi, pred=pred, base_lo=base_lo, base_hi=base_hi)

    def _alerts_source(self, acct: D.Account, params: Params) -> StoreSource:
        store = acct.stores["alerts"]
        p = self._params_dict(params)
        now = self.clock()
        vis = now - ALERT_RETENTION_DAYS * DAY
        lo, hi = vis, None
        if p.get("StartDate"):
            r = parse_iso_ts(p["StartDate"])
            if r is None:
                raise ApiError(400, 20001, f"Invalid StartDate: {p['StartDate']}")
            if r[0] < (vis // DAY) * DAY:
                raise ApiError(400, 20001, "StartDate: Queries for alerts older than 30 days are not supported")
            lo = max(lo, r[0])
        if p.get("EndDate"):
            r = parse_iso_ts(p["EndDate"])
            if r is None:
                raise ApiError(400, 20001, f"Invalid EndDate: {p['EndDate']}")
            hi = r[0] if r[1] else r[0] + DAY - 1
        pred = None
        if p.get("LogLevel"):
            level = p["LogLevel"]
            pred = lambda rec, ts: rec.get("log_level") == level  # noqa: E731
        return StoreSource(store, lo=lo, hi=hi, pred=pred)

    def _accounts_source(self, principal: Principal, params: Params) -> ListSource:
        p = self._params_dict(params)
        pa = principal.account
        accts = [a for a in self.accounts if a is pa or (pa.is_main and a.parent is pa)]
        items = []
        for a in accts:
            rec = a.record
            if "Status" in p and rec.get("status") != p["Status"]:
                continue
            if "FriendlyName" in p and rec.get("friendly_name") != p["FriendlyName"]:
                continue
            items.append(((parse_any_ts(rec["date_created"]) or 0, rec["sid"][2:]), rec))
        return ListSource(items, lambda k, rec: rec["sid"])

    # ------------------------------------------------------------------ children
    def _children(self, acct: D.Account, res: str, parent: Record) -> list[Record]:
        slots = self.child_slots.get((res, parent["sid"]), {})
        gen: Callable[[Record, int], Record]
        if res == "message_media":
            n = int(parent.get("num_media") or 0)
            gen = D.gen_media
        else:
            n = D.n_participants(parent)
            gen = D.gen_participant
        out = [slots.get(j) or gen(parent, j) for j in range(n)]
        out += [slots[j] for j in sorted(slots) if j >= n]
        return out

    def _waiting(self, queue: Record) -> list[tuple[str, int, dict[str, Any]]]:
        """Callers in a queue now, longest waiting first: its ``current_size`` generated ones unless mutated."""
        waiting = self.queue_waiting.get(queue["sid"])
        if waiting is None:
            n = int(queue.get("current_size") or 0)
            waiting = [(*D.queue_member(queue, j, self.anchor), {}) for j in range(n)]
        return waiting

    def _set_waiting(self, acct: D.Account, queue: Record, waiting: list[tuple[str, int, dict[str, Any]]]) -> None:
        self.queue_waiting[queue["sid"]] = waiting
        if queue.get("current_size") != len(waiting):
            acct.stores["queues"].put_extra({**queue, "current_size": len(waiting)})

    def _queue_members(self, acct: D.Account, queue: Record) -> list[Record]:
        # wait_time counts to the sandbox's fixed clock (or its creation), so repeated reads agree
        now = self._fixed_now if self._fixed_now is not None else self.anchor
        out = []
        for pos, (call, enqueued, changed) in enumerate(self._waiting(queue), 1):
            rec = D.member_record(acct.sid, queue["sid"], call, enqueued=enqueued, position=pos, now=now)
            rec.update(changed)
            out.append(rec)
        return out

    def _children_source(self, acct: D.Account, res: str, parent_sid: str, path: str) -> Source:
        if res in D.STORE_CHILDREN:
            parent_res, field, _seg = D.STORE_CHILDREN[res]
            if acct.stores[parent_res].get(parent_sid) is None:
                raise ApiError(404, 20404, f"The requested resource {path} was not found")
            return StoreSource(acct.stores[res], pred=lambda rec, ts: rec.get(field) == parent_sid)
        if res == "queue_members":
            queue = acct.stores["queues"].get(parent_sid)
            if queue is None:
                raise ApiError(404, 20404, f"The requested resource {path} was not found")
            # by position: the caller first in line first
            members = [((-m["position"], m["call_sid"]), m) for m in self._queue_members(acct, queue)]
            return ListSource(members, lambda k, rec: rec["call_sid"])
        if res == "dependent_phone_numbers":
            addr = acct.stores["addresses"].get(parent_sid)
            if addr is None:
                raise ApiError(404, 20404, f"The requested resource {path} was not found")
            recs = [
                D.dependent_from_incoming(pn)
                for _, pn in acct.stores["incoming_phone_numbers"].iter_desc()
                if pn.get("address_sid") == parent_sid
            ]
            items = [((parse_any_ts(r["date_created"]) or 0, r["sid"]), r) for r in recs]
            return ListSource(items, lambda k, rec: rec["sid"])
        store = acct.stores["messages" if res == "message_media" else "conferences"]
        parent = store.get(parent_sid)
        if parent is None or not self._visible(store, parent):
            raise ApiError(404, 20404, f"The requested resource {path} was not found")
        recs = self._children(acct, res, parent)
        if res == "message_media":
            items = [((parse_any_ts(r["date_created"]) or 0, r["sid"]), r) for r in recs]
            return ListSource(items, lambda k, rec: rec["sid"])
        items = [((parse_any_ts(r["date_created"]) or 0, r["call_sid"]), r) for r in recs]
        return ListSource(items, lambda k, rec: rec["call_sid"])

    def _available(self, country: str, typ: str) -> list[Record] | None:
        for c, _n, types in D.COUNTRIES:
            if c == country:
                if typ not in types:
                    return None
                return D.available_numbers(self.seed, c, typ, types[typ])
        return None

    # ------------------------------------------------------------------ usage
    def _usage_values(self, acct: D.Account, day: int, now: int) -> dict[str, tuple[float, float, float]]:
        vals = D.usage_base_values(self.seed, acct, day)
        today = now // DAY
        if day == today:
            frac = (now - day * DAY) / DAY
            out = {}
            total = 0.0
            for cat, _d, _cu, _uu, unit, _m in D.USAGE_CATEGORIES:
                if cat == "totalprice":
                    continue
                c, u, _p = vals[cat]
                if cat != "phonenumbers":
                    c, u = float(int(c * frac)), float(int(u * frac))
                    pr = u * unit
                else:
                    pr = vals[cat][2] * frac
                out[cat] = (c, u, pr)
                total += pr
            out["totalprice"] = (total, total, total)
            return out
        return vals

    def _usage_rows(
        self, acct: D.Account, d0: int | None, d1: int | None, category: str | None, include_subs: bool
    ) -> list[tuple[Key, Record]]:
        now = self.clock()
        today = now // DAY
        first = acct.created_ts // DAY
        lo = first if d0 is None else max(first, d0)
        hi = today if d1 is None else min(today, d1)
        subs = [a for a in self.accounts if a.parent is acct] if (include_subs and acct.is_main) else []
        a = acct.sid
        items = []
        for day in range(hi, lo - 1, -1):
            vals = self._usage_values(acct, day, now)
            if subs:
                vals = dict(vals)
                for s in subs:
                    if s.created_ts // DAY > day:
                        continue
                    sv = self._usage_values(s, day, now)
                    for cat in vals:
                        x, y = vals[cat], sv[cat]
                        vals[cat] = (x[0] + y[0], x[1] + y[1], x[2] + y[2])
            ds = day_str(day)
            as_of = iso_offset(now) if day == today else iso_offset((day + 1) * DAY)
            for cat, desc, cu, uu, _unit, _m in D.USAGE_CATEGORIES:
                if category is not None and cat != category:
                    continue
                c, u, pr = vals[cat]
                q = f"Category={cat}"
                base = f"{V}/Accounts/{a}/Usage/Records"
                rec = {
                    "account_sid": a,
                    "api_version": "2010-04-01",
                    "as_of": as_of,
                    "category": cat,
                    "count": "0" if cat == "totalprice" else str(int(c)),
                    "count_unit": cu,
                    "description": desc,
                    "end_date": ds,
                    "price": f"{pr:.5f}",
                    "price_unit": "usd",
                    "start_date": ds,
                    "subresource_uris": {
                        "all_time": f"{base}/AllTime.json?{q}",
                        "daily": f"{base}/Daily.json?{q}",
                        "last_month": f"{base}/LastMonth.json?{q}",
                        "monthly": f"{base}/Monthly.json?{q}",
                        "this_month": f"{base}/ThisMonth.json?{q}",
                        "today": f"{base}/Today.json?{q}",
                        "yearly": f"{base}/Yearly.json?{q}",
                        "yesterday": f"{base}/Yesterday.json?{q}",
                    },
                    "uri": f"{base}/Daily.json?{q}&StartDate={ds}&EndDate={ds}",
                    "usage": (f"{pr:.5f}") if cat == "totalprice" else str(int(u)),
                    "usage_unit": uu,
                }
                items.append(((day, cat), rec))
        items.sort(key=lambda kv: kv[0], reverse=True)
        return items

    def _usage_day(self, raw: str, name: str) -> int:
        today = self.clock() // DAY
        m = re.match(r"^([+-]?\d+)days$", raw.strip())
        if m:
            return today + int(m.group(1))
        day = parse_day(raw)
        if day is None or len(raw.strip()) != 10:
            raise ApiError(400, 20001, f"Invalid {name}: {raw}")
        return day

    def _usage_source(self, acct: D.Account, params: Params) -> ListSource:
        p = self._params_dict(params)
        d0 = self._usage_day(p["StartDate"], "StartDate") if p.get("StartDate") else None
        d1 = self._usage_day(p["EndDate"], "EndDate") if p.get("EndDate") else None
        if d0 is not None and self.usage_404_before_created and d0 < acct.created_ts // DAY:
            raise ApiError(
                404,
                20404,
                f"The requested resource {V}/Accounts/{acct.sid}/Usage/Records/Daily.json "
                f"was not found (StartDate is before the account was created)",
            )
        inc = p.get("IncludeSubaccounts", "true").strip().lower() not in ("false", "0", "no")
        items = self._usage_rows(acct, d0, d1, p.get("Category") or None, inc)

        def parse_token(tid: str) -> Key | None:
            m = re.match(r"^(\d{4}-\d{2}-\d{2})_(.+)$", tid)
            if not m:
                return None
            day = parse_day(m.group(1))
            return None if day is None else (day, m.group(2))

        return ListSource(items, lambda k, rec: f"{rec['start_date']}_{rec['category']}", parse_token)

    # ------------------------------------------------------------------ python API: expected / mutate
    def _accts(self, account_sid: str | None) -> list[D.Account]:
        if account_sid is None:
            return list(self.accounts)
        if account_sid not in self.accounts_by_sid:
            raise KeyError(account_sid)
        return [self.accounts_by_sid[account_sid]]

    def expected(
        self,
        resource: str,
        account_sid: str | None = None,
        include_subaccounts: bool = False,
        *,
        include_soft_deleted: bool = False,
    ) -> list[Record]:
        """Raw records of ``resource`` as the API serves them now (newest first per account).

        ``usage_records``: daily rows from each account's creation to today, as with ``IncludeSubaccounts=false``
        (pass ``include_subaccounts=True`` for the API default). Conferences: all statuses. Available numbers and
        countries are the same for every account and are returned once when ``account_sid`` is None. Recordings:
        deleted ones only with ``include_soft_deleted=True`` (``IncludeSoftDeleted=true``). Children (SIP credentials
        and IP addresses, queue members, media, participants): parent by parent, in the parent list's order.
        Product resources (``sb.products.resources``): see ``ProductApi.expected``.
        """
        if resource in self.products.resources:
            return self.products.expected(resource, account_sid)
        out: list[Record] = []
        if resource == "accounts":
            recs = [a.record for a in self._accts(account_sid)]
            return [
                dict(r)
                for r in sorted(recs, key=lambda r: (parse_any_ts(r["date_created"]) or 0, r["sid"][2:]), reverse=True)
            ]
        if resource == "account_balance":
            return [{"account_sid": a.sid, "balance": a.balance, "currency": "USD"} for a in self._accts(account_sid)]
        if resource == "available_phone_number_countries":
            accts = self._accts(account_sid) if account_sid else [self.main]
            return [D.country_record(a.sid, c, n, t) for a in accts for c, n, t in D.COUNTRIES]
        if resource in AVAILABLE_RESOURCES:
            typ = resource[len("available_phone_numbers_") :]
            for c, _n, types in D.COUNTRIES:
                if typ in types:
                    out += D.available_numbers(self.seed, c, typ, types[typ])
            return out
        for acct in self._accts(account_sid):
            if resource in D.STORE_CHILDREN or resource == "queue_members":
                parent_res = D.STORE_CHILDREN[resource][0] if resource in D.STORE_CHILDREN else "queues"
                for _, parent in acct.stores[parent_res].iter_desc():
                    out += [r for _, r in self._children_source(acct, resource, parent["sid"], "").iter(None)]
            elif resource in SID_RESOURCES:
                store = acct.stores[resource]
                listed = store.iter_desc(lo=self._visible_lo(store))
                if resource == "recordings":
                    out += [rec for _, rec in listed if self._recording_listed(rec, include_soft_deleted)]
                else:
                    out += [rec for _, rec in listed]
            elif resource in ("message_media", "conference_participants"):
                store = acct.stores["messages" if resource == "message_media" else "conferences"]
                for _, parent in store.iter_desc(lo=self._visible_lo(store)):
                    if (
                        resource == "message_media"
                        and parent.get("num_media") in ("0", None)
                        and not self.child_slots.get((resource, parent["sid"]))
                    ):
                        continue
                    out += [r for _, r in self._children_source(acct, resource, parent["sid"], "").iter(None)]
            elif resource == "dependent_phone_numbers":
                for _, addr in acct.stores["addresses"].iter_desc():
                    out += [r for _, r in self._children_source(acct, resource, addr["sid"], "").iter(None)]
            elif resource == "usage_records":
                out += [rec for _, rec in self._usage_rows(acct, None, None, None, include_subaccounts)]
            else:
                raise KeyError(f"unknown resource {resource!r}")
        return out

    _DATE_FIELDS = frozenset(
        {
            "date_created",
            "date_updated",
            "date_sent",
            "start_time",
            "end_time",
            "date_fired",
            "date_generated",
            "message_date",
            "date_enqueued",
        }
    )

    def _convert_field(self, resource: str, name: str, value: Any) -> Any:
        if isinstance(value, str) and name in self._DATE_FIELDS and value:
            ts = parse_any_ts(value)
            if ts is None:
                raise ValueError(f"cannot parse {name}={value!r}")
            return iso_z(ts) if resource == "alerts" else rfc2822(ts)
        if isinstance(value, (_dt.datetime, _dt.date)):
            ts = parse_any_ts(value) or 0  # never None for a date
            if resource == "alerts":
                return iso_z(ts)
            if resource == "usage_records":
                return day_str(ts // DAY)
            return rfc2822(ts)
        return value

    def _find_store(self, resource: str, sid: str) -> tuple[D.Store, Record]:
        for acct in self.accounts:
            st = acct.stores[resource]
            rec = st.get(sid)
            if rec is not None:
                return st, rec
        raise KeyError(f"{resource} {sid} not found")

    def add_record(  # noqa: PLR0911 - one return per kind of resource
        self, resource: str, account_sid: str | None = None, **fields: Any
    ) -> Record:
        """Add a record (sid generated unless given; other fields get realistic defaults); returns it."""
        if resource in self.taskrouter.resources():
            self._forget_responses()
            return self.taskrouter.add_record(resource, account_sid, **fields)
        if resource in self.products.resources:
            self._forget_responses()
            return self.products.add_record(resource, account_sid, **fields)
        account_sid = account_sid or self.main_account_sid
        acct = self.accounts_by_sid[account_sid]
        self._forget_responses()
        with self.lock:
            if resource in D.STORE_CHILDREN:
                parent_res, field, seg = D.STORE_CHILDREN[resource]
                parents = acct.stores[parent_res]
                psid = fields.pop("parent_sid", None) or fields.get(field)
                if psid is None:  # the newest list of the account
                    psid = next((p["sid"] for _, p in parents.iter_desc()), None)
                if psid is None or parents.get(psid) is None:
                    raise KeyError(f"{parent_res} {psid} not found in {acct.sid}")
                fields[field] = psid
            if resource in SID_RESOURCES:
                store = acct.stores[resource]
                rec = store.new_record(fields)
                for k, v in fields.items():
                    rec[k] = self._convert_field(resource, k, v)
                if resource in D.STORE_CHILDREN and "uri" not in fields:
                    parent_seg = D.URL_SEGMENT[parent_res]
                    rec["uri"] = f"{V}/Accounts/{acct.sid}/{parent_seg}/{rec[field]}/{seg}/{rec['sid']}.json"
                store.put_extra(rec)
                return dict(rec)
            if resource == "queue_members":
                qsid = fields.pop("queue_sid", None) or fields.pop("parent_sid", None)
                queue = acct.stores["queues"].get(qsid) if qsid else None
                if queue is None:
                    raise KeyError(f"queue {qsid} not found in {acct.sid}")
                self._add_counter += 1
                call = fields.pop("call_sid", None) or ("CA" + hexn(self.seed, "added-member", self._add_counter))
                enqueued = parse_any_ts(fields.pop("date_enqueued", None)) or self.clock()
                waiting = [*self._waiting(queue), (call, enqueued, dict(fields))]
                self._set_waiting(acct, queue, waiting)
                return next(m for m in self._queue_members(acct, queue) if m["call_sid"] == call)
            if resource == "accounts":
                sid = self.add_subaccount(**fields)
                return dict(self.accounts_by_sid[sid].record)
            if resource == "message_media":
                psid = fields.pop("parent_sid", None) or fields.pop("message_sid", None)
                store = acct.stores["messages"]
                msg = store.get(psid) if psid else None
                if msg is None:
                    raise KeyError(f"message {psid} not found")
                n = int(msg.get("num_media") or 0)
                new_msg = dict(msg)
                new_msg["num_media"] = str(n + 1)
                store.put_extra(new_msg)
                self._add_counter += 1
                rec = D.gen_media(new_msg, n)
                rec["sid"] = fields.get("sid") or ("ME" + hexn(self.seed, "added-media", self._add_counter))
                rec["uri"] = f"{V}/Accounts/{acct.sid}/Messages/{psid}/Media/{rec['sid']}.json"
                for k, v in fields.items():
                    rec[k] = self._convert_field(resource, k, v)
                self.child_slots.setdefault((resource, psid), {})[n] = rec
                return dict(rec)
            if resource == "conference_participants":
                csid = fields.get("conference_sid") or fields.pop("parent_sid", None)
                conf = acct.stores["conferences"].get(csid) if csid else None
                if conf is None:
                    raise KeyError(f"conference {csid} not found")
                slots = self.child_slots.setdefault((resource, csid), {})
                j = max([D.n_participants(conf) - 1, *slots]) + 1
                self._add_counter += 1
                rec = D.gen_participant(conf, 1000 + self._add_counter)
                rec["date_created"] = rec["date_updated"] = rfc2822(self.clock())
                for k, v in fields.items():
                    rec[k] = self._convert_field(resource, k, v)
                rec["uri"] = f"{V}/Accounts/{acct.sid}/Conferences/{csid}/Participants/{rec['call_sid']}.json"
                slots[j] = rec
                return dict(rec)
            if resource == "dependent_phone_numbers":
                asid = fields.pop("address_sid", None) or fields.pop("parent_sid", None)
                if acct.stores["addresses"].get(asid) is None:
                    raise KeyError(f"address {asid} not found")
                pn = self.add_record("incoming_phone_numbers", account_sid, address_sid=asid, **fields)
                return D.dependent_from_incoming(pn)
        raise ValueError(f"add_record does not support {resource!r}")

    def update_record(self, resource: str, sid: str, **fields: Any) -> Record:
        """Change fields of a record (date_updated := now unless given); returns the new record."""
        if resource in self.taskrouter.resources():
            self._forget_responses()
            return self.taskrouter.update_record(resource, sid, **fields)
        if resource in self.products.resources:
            self._forget_responses()
            return self.products.update_record(resource, sid, **fields)
        self._forget_responses()
        with self.lock:
            if "date_updated" not in fields and resource not in ("usage_records", "queue_members"):
                now = self.clock()
                fields["date_updated"] = iso_z(now) if resource == "alerts" else rfc2822(now)
            if resource == "accounts":
                acct = self.accounts_by_sid[sid]
                for k, v in fields.items():
                    acct.record[k] = self._convert_field(resource, k, v)
                if "auth_token" in fields:
                    acct.auth_token = acct.record["auth_token"]
                return dict(acct.record)
            if resource in SID_RESOURCES:
                store, rec = self._find_store(resource, sid)
                new = dict(rec)
                for k, v in fields.items():
                    new[k] = self._convert_field(resource, k, v)
                store.put_extra(new)
                return dict(new)
            if resource in ("message_media", "conference_participants"):
                idf = "sid" if resource == "message_media" else "call_sid"
                for acct in self.accounts:
                    store = acct.stores["messages" if resource == "message_media" else "conferences"]
                    for _, parent in store.iter_desc():
                        kids = self._children(acct, resource, parent)
                        for j, kid in enumerate(kids):
                            if kid[idf] == sid or kid.get("uri") == sid:
                                new = dict(kid)
                                for k, v in fields.items():
                                    new[k] = self._convert_field(resource, k, v)
                                slots = self.child_slots.setdefault((resource, parent["sid"]), {})
                                # find the slot index of this kid
                                n = (
                                    int(parent.get("num_media") or 0)
                                    if resource == "message_media"
                                    else D.n_participants(parent)
                                )
                                slot = j if j < n else sorted(k2 for k2 in slots if k2 >= n)[j - n]
                                slots[slot] = new
                                return dict(new)
                raise KeyError(f"{resource} {sid} not found")
            if resource == "queue_members":
                acct, queue, j = self._find_member(sid)
                waiting = list(self._waiting(queue))
                call, enqueued, changed = waiting[j]
                new = {k: self._convert_field(resource, k, v) for k, v in fields.items()}
                waiting[j] = (call, enqueued, {**changed, **new})
                self._set_waiting(acct, queue, waiting)
                return self._queue_members(acct, queue)[j]
        raise ValueError(f"update_record does not support {resource!r}")

    def delete_record(self, resource: str, sid: str) -> Record:
        """Delete a record as Twilio does; returns it as it was last listed.

        Recordings are soft-deleted: status "deleted", date_updated now, date_created unchanged; they are listed
        only with ``IncludeSoftDeleted=true``, for 40 days. Any other SID resource is hard-deleted: it leaves its
        list (a deleted credential list or IP access control list takes its entries with it; a deleted key no
        longer authenticates). ``queue_members``: ``sid`` is the call sid; the caller leaves the queue.
        """
        self._forget_responses()
        if resource in self.taskrouter.resources():
            return self.taskrouter.delete_record(resource, sid)
        with self.lock:
            if resource == "recordings":
                store, rec = self._find_store(resource, sid)
                if rec.get("status") == "deleted":
                    raise KeyError(f"recording {sid} is already deleted")
                new = {**rec, "status": "deleted", "date_updated": rfc2822(self.clock())}
                store.put_extra(new)
                return dict(rec)
            if resource == "queue_members":
                acct, queue, j = self._find_member(sid)
                rec = self._queue_members(acct, queue)[j]
                waiting = list(self._waiting(queue))
                del waiting[j]
                self._set_waiting(acct, queue, waiting)
                return rec
            if resource in SID_RESOURCES:
                store, rec = self._find_store(resource, sid)
                store.remove(sid)
                if resource == "keys":
                    self.keys_by_sid.pop(sid, None)
                for child, (parent_res, field, _seg) in D.STORE_CHILDREN.items():
                    if parent_res == resource:
                        kids = store.acct.stores[child]
                        for kid in [k for _, k in kids.iter_desc() if k.get(field) == sid]:
                            kids.remove(kid["sid"])
                return dict(rec)
        raise ValueError(f"delete_record does not support {resource!r}")

    def _find_member(self, call_sid: str) -> tuple[D.Account, Record, int]:
        for acct in self.accounts:
            for _, queue in acct.stores["queues"].iter_desc():
                for j, (call, _enqueued, _changed) in enumerate(self._waiting(queue)):
                    if call == call_sid:
                        return acct, queue, j
        raise KeyError(f"queue member {call_sid} not found")

    def add_subaccount(self, **fields: Any) -> str:
        """Create a subaccount with its own generated data; returns its sid.

        Special keyword arguments: ``sizes`` (dict), ``offset_days``. Other keywords are account record fields
        (friendly_name, status, date_created, sid, auth_token ...).
        """
        self._forget_responses()
        with self.lock:
            index = len(self.accounts)
            sizes = fields.pop("sizes", None)
            off = fields.pop("offset_days", None)
            sz = self._sizes_for(index)
            if sizes:
                sz.update(sizes)
            created = parse_any_ts(fields.pop("date_created", None))
            if created is None:
                created = self.anchor - int((self.days + (off or 0) + 1) * DAY)
            name = fields.pop("friendly_name", f"Subaccount {index}")
            status = fields.pop("status", "active")
            acct = self._make_account(
                index, self.main, name, status, created, offset_days=off, sizes=sz, extra_fields=fields or None
            )
            return acct.sid


_LIST_KEYS = {
    "messages": "messages",
    "calls": "calls",
    "recordings": "recordings",
    "conferences": "conferences",
    "addresses": "addresses",
    "applications": "applications",
    "incoming_phone_numbers": "incoming_phone_numbers",
    "keys": "keys",
    "outgoing_caller_ids": "outgoing_caller_ids",
    "queues": "queues",
    "transcriptions": "transcriptions",
    "usage_triggers": "usage_triggers",
    "message_media": "media_list",
    "conference_participants": "participants",
    "dependent_phone_numbers": "dependent_phone_numbers",
    "notifications": "notifications",
    "sip_domains": "domains",
    "sip_credential_lists": "credential_lists",
    "sip_credentials": "credentials",
    "sip_ip_access_control_lists": "ip_access_control_lists",
    "sip_ip_addresses": "ip_addresses",
    "short_codes": "short_codes",
    "signing_keys": "signing_keys",
    "queue_members": "queue_members",
}


# ====================================================================== HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.live: set[socket.socket] = set()
        self.live_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.live_lock:
            self.live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.live_lock:
            self.live.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # a client went away (killed tap, timeout, reset): not worth a traceback
        super().handle_error(request, client_address)

    def close_live_connections(self) -> None:
        with self.live_lock:
            socks = list(self.live)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _page_links(
    base: str, items: list[tuple[Key, Record]], *, more: bool, ps: int, page: int, src: Source
) -> tuple[str | None, str | None]:
    """Next and previous page links: keyset tokens PA<last> / PB<first>, so new records never shift pages."""
    nxt = prev = None
    if more and items:
        k, rec = items[-1]
        nxt = base + f"PageSize={ps}&Page={page + 1}&PageToken=PA{quote(src.token_id(k, rec), safe='')}"
    if page > 0 and items:
        k, rec = items[0]
        prev = base + f"PageSize={ps}&Page={page - 1}&PageToken=PB{quote(src.token_id(k, rec), safe='')}"
    return nxt, prev


def _range_pred(field: str, lo: int | None, hi: int | None) -> Any:
    """A filter on a secondary date field; a null one is matched by date_created (like the main filters)."""

    def pred(rec: Record, ts: int) -> bool:
        t = parse_any_ts(rec.get(field))
        if t is None:
            t = parse_any_ts(rec.get("date_created")) or 0
        return (lo is None or t >= lo) and (hi is None or t <= hi)

    return pred


def _make_handler(sb: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "TwilioSandbox/1.0"
        sys_version = ""

        def setup(self) -> None:
            super().setup()
            try:  # headers and body are separate writes: avoid Nagle + delayed-ACK stalls
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _run(self, method: str) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            try:
                resp, _fault = sb.handle(method, self.path, self.headers)
            except Exception as e:  # pragma: no cover - defensive
                resp = Resp(500, error_body(500, 20500, f"sandbox error: {e!r}"), [])
            if resp.action == "close":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            body = resp.body if method != "HEAD" else b""
            accepts = "gzip" in self.headers.get("Accept-Encoding", "")
            zipped = sb.gzip_responses and accepts and resp.status == 200 and method != "HEAD"
            if zipped:
                body = gzip.compress(resp.body, compresslevel=1)
                with sb.lock:
                    sb.gzipped += 1
            self.send_response(resp.status)
            ctype = resp.content_type
            self.send_header("Content-Type", ctype + ("; charset=utf-8" if ctype == "application/json" else ""))
            self.send_header("Content-Length", str(len(body) if zipped else len(resp.body)))
            if zipped:
                self.send_header("Content-Encoding", "gzip")
            for k, v in resp.headers:
                self.send_header(k, v)
            if resp.action == "half":
                self.send_header("Connection", "close")
            self.end_headers()
            if resp.action == "half":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._run("GET")

        def do_POST(self) -> None:
            self._run("POST")

        def do_DELETE(self) -> None:
            self._run("DELETE")

        def do_PUT(self) -> None:
            self._run("PUT")

    return Handler
