"""Deterministic, lazily generated Twilio records.

Every SID-keyed resource of an account is a :class:`Store`: ``n`` base records, record ``i`` generated on demand
from ``(seed, account, resource, i)`` with its sort timestamp ``ts(i)`` non-decreasing in ``i``, so a date range maps
to an index range by bisection. Updated base records and added records live in a small "extras" map and are
merged into the sorted stream. Lists are served newest first by ``(ts, sid body)``.
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol

from ._util import (
    MASK64,
    h64,
    hexn,
    iso_z,
    parse_any_ts,
    rfc2822,
    sid_body,
    sid_decode,
    splitmix64,
)

V = "/2010-04-01"
Record = dict[str, Any]  # one Twilio record, as JSON
Key = tuple[int, str]  # sort key: (main timestamp, sid body) newest first; lists without sids use another id
Pred = Callable[[Record, int], bool]  # a filter on (record, its sort timestamp)
_INV64 = 1.0 / 18446744073709551616.0

# resource -> (sid prefix, primary sort field, date style)
SID_RESOURCES: dict[str, tuple[str, str]] = {
    "messages": ("SM", "date_sent"),
    "calls": ("CA", "start_time"),
    "recordings": ("RE", "date_created"),
    "conferences": ("CF", "date_created"),
    "addresses": ("AD", "date_created"),
    "applications": ("AP", "date_created"),
    "incoming_phone_numbers": ("PN", "date_created"),
    "keys": ("SK", "date_created"),
    "outgoing_caller_ids": ("PN", "date_created"),
    "queues": ("QU", "date_created"),
    "transcriptions": ("TR", "date_created"),
    "usage_triggers": ("UT", "date_created"),
    "alerts": ("NO", "date_created"),
    "notifications": ("NO", "message_date"),
    "sip_domains": ("SD", "date_created"),
    "sip_credential_lists": ("CL", "date_created"),
    "sip_credentials": ("CR", "date_created"),  # children: after their parent in this table
    "sip_ip_access_control_lists": ("AL", "date_created"),
    "sip_ip_addresses": ("IP", "date_created"),
    "short_codes": ("SC", "date_created"),
    "signing_keys": ("SK", "date_created"),
}

# child resource kept in its own store -> (parent resource, field naming the parent, URL segment below the parent)
STORE_CHILDREN: dict[str, tuple[str, str, str]] = {
    "sip_credentials": ("sip_credential_lists", "credential_list_sid", "Credentials"),
    "sip_ip_addresses": ("sip_ip_access_control_lists", "ip_access_control_list_sid", "IpAddresses"),
}

# resource -> URL segment below /Accounts/{sid}/
URL_SEGMENT = {
    "messages": "Messages",
    "calls": "Calls",
    "recordings": "Recordings",
    "conferences": "Conferences",
    "addresses": "Addresses",
    "applications": "Applications",
    "incoming_phone_numbers": "IncomingPhoneNumbers",
    "keys": "Keys",
    "outgoing_caller_ids": "OutgoingCallerIds",
    "queues": "Queues",
    "transcriptions": "Transcriptions",
    "usage_triggers": "Usage/Triggers",
    "notifications": "Notifications",
    "sip_domains": "SIP/Domains",
    "sip_credential_lists": "SIP/CredentialLists",
    "sip_ip_access_control_lists": "SIP/IpAccessControlLists",
    "short_codes": "SMS/ShortCodes",
    "signing_keys": "SigningKeys",
}

DEFAULT_SIZES: dict[str, int] = {
    "messages": 300,
    "calls": 200,
    "recordings": 60,
    "conferences": 30,
    "addresses": 5,
    "applications": 3,
    "incoming_phone_numbers": 4,
    "keys": 2,
    "outgoing_caller_ids": 2,
    "queues": 2,
    "transcriptions": 20,
    "usage_triggers": 2,
    "alerts": 40,  # every account its own (Monitor answers with the authenticated account's alerts)
    "notifications": 25,
    "sip_domains": 2,
    "sip_credential_lists": 2,
    "sip_credentials": 5,  # spread over the account's credential lists
    "sip_ip_access_control_lists": 2,
    "sip_ip_addresses": 4,  # spread over the account's IP access control lists
    "short_codes": 1,
    "signing_keys": 2,
    "deleted_recordings": 3,  # of the recordings, soft-deleted in the last 30 days (IncludeSoftDeleted=true)
}

RECORDING_SOFT_DELETE_DAYS = 40  # Twilio keeps a deleted recording's metadata this long

CALL_MAX_DURATION = 7200
CONF_MAX_DURATION = 7200
ALERT_SPAN_DAYS = 40

USAGE_CATEGORIES = [
    # category, description, count_unit, usage_unit, unit price, daily mean count
    ("sms", "SMS", "messages", "messages", 0.0079, 40),
    ("calls", "Voice Minutes", "calls", "minutes", 0.014, 25),
    ("recordings", "Voice Recordings", "recordings", "minutes", 0.0025, 8),
    ("phonenumbers", "Phone Numbers", "phonenumbers", "phonenumbers", 1.15 / 30, 0),
    ("totalprice", "Total Price", "", "usd", 0.0, 0),
]

COUNTRIES = [
    # code, name, types offered (among local/mobile/toll_free), numbers per type
    ("US", "United States", {"local": 30, "toll_free": 10}),
    ("GB", "United Kingdom", {"local": 12, "mobile": 8}),
    ("DE", "Germany", {"local": 9}),
    ("CA", "Canada", {"local": 6, "toll_free": 4}),
]
TYPE_SEGMENT = {"local": "Local", "mobile": "Mobile", "toll_free": "TollFree"}
SEGMENT_TYPE = {v: k for k, v in TYPE_SEGMENT.items()}

_US_CITIES = [
    ("Hilo", "HI", "96720", "834", "19.720000", "-155.090000", "808"),
    ("San Francisco", "CA", "94105", "722", "37.788800", "-122.400200", "415"),
    ("Seattle", "WA", "98101", "674", "47.610100", "-122.334200", "206"),
    ("Austin", "TX", "78701", "558", "30.271500", "-97.742600", "512"),
    ("Chicago", "IL", "60601", "358", "41.885800", "-87.622300", "312"),
    ("Boston", "MA", "02108", "128", "42.357800", "-71.061700", "617"),
    ("Denver", "CO", "80202", "656", "39.751600", "-104.999200", "303"),
]
_WORDS = (
    "hello your order has shipped reminder appointment tomorrow at code verification is please reply "
    "stop to unsubscribe thanks see you soon meeting moved balance due delivery today confirm yes no"
).split()


_TORONTO = ("Toronto", "ON", "M5H", None, "43.653200", "-79.383200", "416")


def fmt_us(num: str) -> str:
    d = num[-10:]
    return f"({d[0:3]}) {d[3:6]}-{d[6:]}"


def rand_us(r: random.Random) -> str:
    x = r.getrandbits(40)
    return f"+1{201 + x % 789}{200 + (x >> 10) % 800:03d}{(x >> 20) % 10000:04d}"


def ri(r: random.Random, a: int, b: int) -> int:
    """Fast randint(a, b)."""
    return a + int(r.random() * (b - a + 1))


def _make_body_pool() -> list[str]:
    # built once at import: filling it lazily raced between server threads (IndexError → 500)
    br = random.Random(12345)
    return [" ".join(br.choice(_WORDS) for _ in range(br.randint(3, 14))).capitalize() for _ in range(1024)]


_BODY_POOL: list[str] = _make_body_pool()


def _body(r: random.Random) -> str:
    return _BODY_POOL[int(r.random() * 1024)]


# ====================================================================== accounts


@dataclass
class Account:
    index: int
    sid: str
    auth_token: str
    record: dict[str, Any]
    created_ts: int
    t_start: int  # data span of its time series
    t_end: int
    numbers: list[str]
    stores: dict[str, Store] = field(default_factory=dict)
    balance: str = "0.00"
    parent: Account | None = None
    messaging_service_sid: str = ""
    pn_salt: int = 0

    @property
    def status(self) -> str:
        return self.record.get("status") or "active"

    @property
    def is_main(self) -> bool:
        return self.parent is None


def account_record(sid: str, token: str, *, owner: str, name: str, status: str, created: int, typ: str) -> Record:
    base = f"{V}/Accounts/{sid}"
    subs = {
        "available_phone_numbers": "AvailablePhoneNumbers",
        "calls": "Calls",
        "conferences": "Conferences",
        "incoming_phone_numbers": "IncomingPhoneNumbers",
        "notifications": "Notifications",
        "outgoing_caller_ids": "OutgoingCallerIds",
        "recordings": "Recordings",
        "transcriptions": "Transcriptions",
        "addresses": "Addresses",
        "signing_keys": "SigningKeys",
        "connect_apps": "ConnectApps",
        "sip": "SIP",
        "authorized_connect_apps": "AuthorizedConnectApps",
        "usage": "Usage",
        "keys": "Keys",
        "applications": "Applications",
        "short_codes": "SMS/ShortCodes",
        "queues": "Queues",
        "messages": "Messages",
        "balance": "Balance",
    }
    return {
        "auth_token": token,
        "date_created": rfc2822(created),
        "date_updated": rfc2822(created),
        "friendly_name": name,
        "owner_account_sid": owner,
        "sid": sid,
        "status": status,
        "subresource_uris": {k: f"{base}/{v}.json" for k, v in subs.items()},
        "type": typ,
        "uri": f"{base}.json",
    }


# ====================================================================== store


class Store:
    """All records of one SID resource in one account."""

    def __init__(self, ctx: Any, acct: Account, resource: str, *, n: int, t_start: int, t_end: int) -> None:
        self.ctx = ctx  # the Sandbox (seed, anchor, lock, other stores)
        self.acct = acct
        self.resource = resource
        self.prefix, self.sort_field = SID_RESOURCES[resource]
        self.gen: Generator = GENERATORS[resource]
        self.n = max(0, int(n))
        self.t_start = t_start
        self.t_end = max(t_end, t_start + 1)
        self.span = self.t_end - self.t_start
        self.salt = h64(ctx.seed, acct.sid, resource) & MASK64
        self.extra: dict[str, tuple[Key, Record]] = {}  # sid -> (key, record)
        self.extra_keys: list[tuple[int, str, str]] = []  # ascending (ts, body, sid)
        self.overridden: set[int] = set()
        self.removed: dict[str, tuple[int, str]] = {}  # hard-deleted sid -> its key (a page token may name it)
        self.soft_deleted: dict[int, int] = {}  # base index -> time of deletion (recordings)
        self.add_counter = 0

    # -------------------------------------------------------------- base records
    def ts(self, i: int) -> int:
        u = splitmix64(self.salt ^ i) * _INV64
        return self.t_start + int((i + u) * self.span / self.n)

    def first_index_ge(self, t: int) -> int:
        lo, hi = 0, self.n
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.ts(mid) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def first_index_gt(self, t: int) -> int:
        return self.first_index_ge(t + 1)

    def base_sid(self, i: int) -> str:
        return self.prefix + sid_body(self.salt, i)

    def base_record(self, i: int) -> Record:
        r = random.Random((self.salt << 20) ^ i)
        return self.gen(self, i, self.base_sid(i), self.ts(i), r)

    def record_at(self, i: int) -> Record | None:
        if i in self.overridden:
            e = self.extra.get(self.base_sid(i))
            return None if e is None else e[1]  # None: hard-deleted
        return self.base_record(i)

    def decode(self, sid: str) -> int | None:
        if not sid or sid[:2] != self.prefix:
            return None
        i = sid_decode(self.salt, sid[2:])
        if i is None or i >= self.n:
            return None
        return i

    # -------------------------------------------------------------- lookup
    def get(self, sid: str) -> Record | None:
        if sid in self.removed:
            return None
        e = self.extra.get(sid)
        if e is not None:
            return e[1]
        i = self.decode(sid)
        if i is None:
            return None
        return self.base_record(i)

    def key_of_sid(self, sid: str) -> tuple[int, str] | None:
        gone = self.removed.get(sid)
        if gone is not None:
            return gone
        e = self.extra.get(sid)
        if e is not None:
            return e[0]
        i = self.decode(sid)
        if i is None:
            return None
        return (self.ts(i), sid[2:])

    def key_of_record(self, rec: Record) -> tuple[int, str]:
        ts = parse_any_ts(rec.get(self.sort_field))
        if ts is None:
            ts = parse_any_ts(rec.get("date_created"))
        if ts is None:
            ts = 0
        return (ts, str(rec.get("sid", ""))[2:])

    # -------------------------------------------------------------- mutation (caller holds ctx.lock)
    def _drop_extra(self, sid: str) -> None:
        old = self.extra.pop(sid, None)
        if old is not None:
            k = old[0]
            j = bisect.bisect_left(self.extra_keys, (k[0], k[1], sid))
            if j < len(self.extra_keys) and self.extra_keys[j][2] == sid:
                del self.extra_keys[j]

    def put_extra(self, rec: Record) -> None:
        sid = rec["sid"]
        self._drop_extra(sid)
        self.removed.pop(sid, None)
        key = self.key_of_record(rec)
        self.extra[sid] = (key, rec)
        bisect.insort(self.extra_keys, (key[0], key[1], sid))
        i = self.decode(sid)
        if i is not None:
            self.overridden.add(i)

    def remove(self, sid: str) -> Record | None:
        """Hard delete: the record leaves every list; returns it (None if there is no such record)."""
        rec = self.get(sid)
        if rec is None:
            return None
        key = self.key_of_sid(sid)
        self._drop_extra(sid)
        i = self.decode(sid)
        if i is not None:
            self.overridden.add(i)  # a base record no longer generated
        self.removed[sid] = key if key is not None else self.key_of_record(rec)
        return rec

    def new_record(self, fields: Record) -> Record:
        """A record with realistic defaults for everything not in ``fields``."""
        self.add_counter += 1
        r = random.Random(h64(self.ctx.seed, self.acct.sid, self.resource, "added", self.add_counter))
        sid = fields.get("sid") or (
            self.prefix + hexn(self.ctx.seed, self.acct.sid, self.resource, "add", self.add_counter)
        )
        ts = None
        for f in (self.sort_field, "date_created"):
            if f in fields and fields[f] is not None:
                ts = parse_any_ts(fields[f])
                break
        if ts is None:
            ts = self.ctx.clock()
        rec = self.gen(self, -self.add_counter, sid, ts, r, cap=max(ts, self.ctx.clock()))
        return rec

    # -------------------------------------------------------------- iteration
    def iter_desc(
        self,
        after: tuple[int, str] | None = None,
        *,
        lo: int | None = None,
        hi: int | None = None,
        pred: Pred | None = None,
        base_lo: int | None = None,
        base_hi: int | None = None,
    ) -> Iterator[tuple[Key, Record]]:
        """Records newest first with key < after.

        ``lo``/``hi`` bound the sort timestamp (inclusive) of every record; ``pred(rec, ts)`` is checked on every
        record; ``base_lo``/``base_hi`` are extra (sound) bounds on the sort timestamp of *base* records only.
        """
        b_lo = lo if base_lo is None else (base_lo if lo is None else max(lo, base_lo))
        b_hi = hi if base_hi is None else (base_hi if hi is None else min(hi, base_hi))
        base = self._base_desc(after, b_lo, b_hi, pred)
        if not self.extra_keys:
            return base
        return heapq.merge(base, self._extra_desc(after, lo, hi, pred), key=itemgetter(0), reverse=True)

    def _extra_desc(
        self, after: Key | None, lo: int | None, hi: int | None, pred: Pred | None
    ) -> Iterator[tuple[Key, Record]]:
        keys = list(self.extra_keys)
        if after is not None:
            j = bisect.bisect_left(keys, (after[0], after[1], ""))
        else:
            j = len(keys)
        extra = self.extra
        for k in range(j - 1, -1, -1):
            ts, body, sid = keys[k]
            if after is not None and (ts, body) >= after:
                continue
            if hi is not None and ts > hi:
                continue
            if lo is not None and ts < lo:
                break
            e = extra.get(sid)
            if e is None:
                continue
            rec = e[1]
            if pred is not None and not pred(rec, ts):
                continue
            yield (ts, body), rec

    def _base_desc(
        self, after: Key | None, lo: int | None, hi: int | None, pred: Pred | None
    ) -> Iterator[tuple[Key, Record]]:
        n = self.n
        if n == 0:
            return
        i_lo = 0 if lo is None else self.first_index_ge(lo)
        top = hi
        if after is not None:
            top = after[0] if top is None else min(top, after[0])
        i_hi = n if top is None else self.first_index_gt(top)
        ts_f = self.ts
        salt = self.salt
        prefix = self.prefix
        overridden = self.overridden
        gen = self.gen
        i = i_hi - 1
        # -1: before the first index (timestamps are never negative)
        t_next = ts_f(i) if i >= i_lo else -1
        items: Sequence[tuple[str, int]]
        while i >= i_lo:
            t = t_next
            j = i - 1
            t_next = ts_f(j) if j >= i_lo else -1
            if t_next == t:
                group = [i]
                while j >= i_lo and t_next == t:
                    group.append(j)
                    j -= 1
                    t_next = ts_f(j) if j >= i_lo else -1
                items = sorted(((sid_body(salt, k), k) for k in group), reverse=True)
            else:
                items = ((sid_body(salt, i), i),)
            for body, k in items:
                if k in overridden:
                    continue
                key = (t, body)
                if after is not None and key >= after:
                    continue
                rec = gen(self, k, prefix + body, t, random.Random((salt << 20) ^ k))
                if pred is not None and not pred(rec, t):
                    continue
                yield key, rec
            i = j


# ====================================================================== generators
# Signature: gen(store, i, sid, ts, r, cap=None) -> record. ``ts`` is the primary sort timestamp.


def _cap(st: Store, cap: int | None) -> int:
    return st.t_end if cap is None else cap


def _uri(st: Store, seg: str, sid: str) -> str:
    return f"{V}/Accounts/{st.acct.sid}/{seg}/{sid}.json"


_MSG_STATUS = [
    ("delivered", 0.80),
    ("sent", 0.05),
    ("undelivered", 0.05),
    ("failed", 0.04),
    ("canceled", 0.01),
    ("read", 0.05),
]


def gen_messages(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    acct = st.acct
    a = acct.sid
    cap = _cap(st, cap)
    rr = r.random
    x = rr()
    own = acct.numbers[int(rr() * len(acct.numbers))]
    other = rand_us(r)
    if x < 0.3:
        direction, frm, to, status = "inbound", other, own, "received"
    else:
        direction = "outbound-api" if x < 0.9 else "outbound-reply"
        frm, to = own, other
        y = rr()
        status = "delivered"
        for s, p in _MSG_STATUS:
            if y < p:
                status = s
                break
            y -= p
    # failed-before-send and canceled (scheduled) messages were never sent: date_sent is null
    never_sent = status == "canceled" or (status == "failed" and rr() < 0.5)
    num_media = 0 if rr() >= 0.1 else ri(r, 1, 3)
    segs = ri(r, 1, 3) if rr() < 0.2 else 1
    body = _body(r)
    if never_sent:
        created = ts
        sent = None
        updated = min(ts + ri(r, 0, 60), cap)
        price = None
    else:
        created = ts - ri(r, 0, 3)
        sent = ts
        updated = min(ts + ri(r, 0, 8), cap)
        price = _MSG_PRICE[segs * 2 + (num_media > 0)]
    err = _MSG_ERR.get(status)
    mg = acct.messaging_service_sid if (rr() < 0.5 and direction != "inbound") else None
    base = f"{V}/Accounts/{a}/Messages/{sid}"
    return {
        "account_sid": a,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": rfc2822(created),
        "date_sent": rfc2822(sent),
        "date_updated": rfc2822(max(updated, created)),
        "direction": direction,
        "error_code": err,
        "error_message": None if err is None else _MSG_ERR_TEXT[err],
        "from": frm,
        "messaging_service_sid": mg,
        "num_media": str(num_media),
        "num_segments": str(segs),
        "price": price,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
        "to": to,
        "uri": f"{base}.json",
    }


_MSG_ERR = {"undelivered": 30003, "failed": 30008}
_MSG_ERR_TEXT = {30003: "Unreachable destination handset", 30008: "Unknown error"}
_MSG_PRICE = ["-%.5f" % (0.0079 * (k // 2) + 0.0120 * (k % 2)) for k in range(8)]

_CALL_STATUS = [("completed", 0.78), ("busy", 0.06), ("no-answer", 0.09), ("failed", 0.04), ("canceled", 0.03)]


def gen_calls(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    cap = _cap(st, cap)
    own_idx = int(r.random() * len(st.acct.numbers))
    own = st.acct.numbers[own_idx]
    other = rand_us(r)
    x = r.random()
    direction = "inbound" if x < 0.4 else ("outbound-api" if x < 0.85 else "outbound-dial")
    frm, to = (other, own) if direction == "inbound" else (own, other)
    y = r.random()
    status = "completed"
    for s, p in _CALL_STATUS:
        if y < p:
            status = s
            break
        y -= p
    if ts > cap - 3600 and r.random() < 0.5:
        status = "in-progress"
    created = ts - ri(r, 0, 2)
    if status == "in-progress":
        end = None
        duration = None
        price = None
        updated = ts
    else:
        dur = ri(r, 5, 1800) if status == "completed" else 0
        if status == "completed" and r.random() < 0.02:
            dur = ri(r, 1800, CALL_MAX_DURATION)
        end = ts + (dur if dur else ri(r, 5, 40))
        duration = str(dur)
        price = "-%.5f" % (0.014 * ((dur + 59) // 60)) if dur else "0.00000"
        updated = min(end + ri(r, 0, 5), max(cap, end))
    pn_sid = "PN" + sid_body(st.acct.pn_salt, own_idx)
    parent = ("CA" + hexn(sid, "parent")) if direction == "outbound-dial" else None
    base = f"{V}/Accounts/{a}/Calls/{sid}"
    answered_by = None
    if direction != "inbound" and status == "completed" and r.random() < 0.2:
        answered_by = "human" if r.random() < 0.7 else "machine_start"
    return {
        "account_sid": a,
        "answered_by": answered_by,
        "api_version": "2010-04-01",
        "caller_name": None,
        "date_created": rfc2822(created),
        "date_updated": rfc2822(updated),
        "direction": direction,
        "duration": duration,
        "end_time": rfc2822(end),
        "forwarded_from": None,
        "from": frm,
        "from_formatted": fmt_us(frm),
        "group_sid": None,
        "parent_call_sid": parent,
        "phone_number_sid": pn_sid,
        "price": price,
        "price_unit": "USD",
        "sid": sid,
        "start_time": rfc2822(ts),
        "status": status,
        "subresource_uris": {k: f"{base}/{v}.json" for k, v in _CALL_SUBS},
        "to": to,
        "to_formatted": fmt_us(to),
        "trunk_sid": None,
        "uri": f"{base}.json",
        "queue_time": "0",
    }


_CALL_SUBS = (
    ("notifications", "Notifications"),
    ("recordings", "Recordings"),
    ("payments", "Payments"),
    ("events", "Events"),
    ("siprec", "Siprec"),
    ("streams", "Streams"),
    ("transcriptions", "Transcriptions"),
    ("user_defined_message_subscriptions", "UserDefinedMessageSubscriptions"),
    ("user_defined_messages", "UserDefinedMessages"),
)


def _ref_sid(st: Store, resource: str, ts: int) -> str | None:
    other = st.acct.stores.get(resource)
    if other is None or other.n == 0:
        return None
    j = max(0, min(other.n - 1, other.first_index_ge(ts) - 1))
    return other.base_sid(j)


def gen_recordings(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    cap = _cap(st, cap)
    dur = r.randint(3, 600)
    conf = _ref_sid(st, "conferences", ts) if r.random() < 0.1 else None
    base = f"{V}/Accounts/{a}/Recordings/{sid}"
    channels = 2 if r.random() < 0.3 else 1
    updated = min(ts + dur + r.randint(1, 5), max(cap, ts))
    deleted = st.soft_deleted.get(i)  # a soft-deleted recording keeps its metadata, with status "deleted"
    return {
        "account_sid": a,
        "api_version": "2010-04-01",
        "call_sid": _ref_sid(st, "calls", ts),
        "conference_sid": conf,
        "channels": channels,
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(updated if deleted is None else deleted),
        "start_time": rfc2822(ts - dur),
        "price": "-%.5f" % (0.0025 * ((dur + 59) // 60)),
        "price_unit": "USD",
        "duration": str(dur),
        "sid": sid,
        "source": "StartConferenceRecordingAPI" if conf else ("RecordVerb" if r.random() < 0.5 else "DialVerb"),
        "status": "completed" if deleted is None else "deleted",
        "error_code": None,
        "uri": f"{base}.json",
        "subresource_uris": {
            "add_on_results": f"{base}/AddOnResults.json",
            "transcriptions": f"{base}/Transcriptions.json",
        },
        "encryption_details": None,
        "media_url": f"https://api.twilio.com{base}",
    }


def conference_status(st: Store, i: int, r: random.Random) -> str:
    x = r.random()
    return "completed" if x < 0.75 else ("in-progress" if x < 0.95 else "init")


def gen_conferences(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    cap = _cap(st, cap)
    status = conference_status(st, i, r)
    if status == "completed":
        updated = min(ts + r.randint(60, CONF_MAX_DURATION), max(cap, ts))
        reason = r.choice(
            ["last-participant-left", "participant-with-end-conference-on-exit-left", "conference-ended-via-api"]
        )
        ender = "CA" + hexn(sid, "ender") if reason != "conference-ended-via-api" else None
    else:
        updated = min(ts + (r.randint(0, 600) if status == "in-progress" else 0), max(cap, ts))
        reason, ender = None, None
    base = f"{V}/Accounts/{a}/Conferences/{sid}"
    return {
        "status": status,
        "region": "us1",
        "sid": sid,
        "date_updated": rfc2822(updated),
        "date_created": rfc2822(ts),
        "subresource_uris": {"participants": f"{base}/Participants.json", "recordings": f"{base}/Recordings.json"},
        "friendly_name": "room-{}".format(hexn(sid, "room", n=6)),
        "uri": f"{base}.json",
        "api_version": "2010-04-01",
        "account_sid": a,
        "reason_conference_ended": reason,
        "call_sid_ending_conference": ender,
    }


_STREETS = ["Main St", "Market St", "2nd Ave", "Oak Rd", "Pine St", "Elm Blvd"]


def gen_addresses(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    city = _US_CITIES[r.randrange(len(_US_CITIES))]
    return {
        "account_sid": a,
        "city": city[0],
        "customer_name": r.choice(["Acme Inc", "Globex", "Initech", "Umbrella LLC"]),
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "emergency_enabled": r.random() < 0.3,
        "friendly_name": r.choice(["Main Office", "Warehouse", "HQ", "Branch"]),
        "iso_country": "US",
        "postal_code": city[2],
        "region": city[1],
        "sid": sid,
        "street": f"{r.randint(1, 999)} {r.choice(_STREETS)}",
        "street_secondary": None if r.random() < 0.7 else f"Suite {r.randint(100, 999)}",
        "validated": r.random() < 0.6,
        "verified": r.random() < 0.5,
        "uri": _uri(st, "Addresses", sid),
    }


def gen_applications(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    return {
        "account_sid": st.acct.sid,
        "api_version": "2010-04-01",
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "friendly_name": "app-{}".format(hexn(sid, "app", n=8)),
        "message_status_callback": None,
        "sid": sid,
        "sms_fallback_method": "POST",
        "sms_fallback_url": None,
        "sms_method": "POST",
        "sms_status_callback": None,
        "sms_url": "https://example.com/sms" if r.random() < 0.5 else None,
        "status_callback": None,
        "status_callback_method": "POST",
        "uri": _uri(st, "Applications", sid),
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": "POST",
        "voice_url": "https://example.com/voice",
        "public_application_connect_enabled": False,
    }


def gen_incoming_phone_numbers(
    st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None
) -> Record:
    a = st.acct.sid
    if 0 <= i < len(st.acct.numbers):
        num = st.acct.numbers[i]
    else:
        num = rand_us(r)
    addr = None
    if 0 <= i <= 2:  # a few numbers depend on the first two addresses; most addresses have none
        ad = st.acct.stores.get("addresses")
        if ad is not None and ad.n > (0 if i < 2 else 1):
            addr = ad.base_sid(0 if i < 2 else 1)
    return {
        "account_sid": a,
        "address_requirements": "any" if addr else "none",
        "address_sid": addr,
        "api_version": "2010-04-01",
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": r.random() < 0.7, "fax": False},
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "emergency_status": "Inactive",
        "emergency_address_sid": None,
        "emergency_address_status": "unregistered",
        "friendly_name": fmt_us(num),
        "identity_sid": None,
        "origin": "twilio",
        "phone_number": num,
        "sid": sid,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": "https://example.com/sms",
        "status_callback": "",
        "status_callback_method": "POST",
        "trunk_sid": None,
        "uri": _uri(st, "IncomingPhoneNumbers", sid),
        "voice_application_sid": "",
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": "POST",
        "voice_url": "https://example.com/voice",
        "bundle_sid": None,
        "voice_receive_mode": "voice",
        "status": "in-use",
        "type": "local",
    }


def gen_keys(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    name = f"key-{hexn(sid, n=6)}"
    if st.acct.is_main:
        name = {0: "main key", 1: "standard key"}.get(i, name)
    return {"sid": sid, "friendly_name": name, "date_created": rfc2822(ts), "date_updated": rfc2822(ts)}


def gen_outgoing_caller_ids(
    st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None
) -> Record:
    num = rand_us(r)
    return {
        "account_sid": st.acct.sid,
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "friendly_name": fmt_us(num),
        "phone_number": num,
        "sid": sid,
        "uri": _uri(st, "OutgoingCallerIds", sid),
    }


def gen_queues(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    return {
        "account_sid": st.acct.sid,
        "average_wait_time": r.randint(0, 120),
        "current_size": r.randint(0, 3),
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "friendly_name": r.choice(["support", "sales", "billing", "overflow"]),
        "max_size": 100,
        "sid": sid,
        "uri": _uri(st, "Queues", sid),
    }


def gen_transcriptions(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    dur = r.randint(3, 120)
    return {
        "account_sid": st.acct.sid,
        "api_version": "2010-04-01",
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(max(ts, min(ts + r.randint(5, 60), _cap(st, cap)))),
        "duration": str(dur),
        "price": "-%.5f" % (0.05 * ((dur + 59) // 60)),
        "price_unit": "USD",
        "recording_sid": _ref_sid(st, "recordings", ts) or ("RE" + hexn(sid, "rec")),
        "sid": sid,
        "status": "completed" if r.random() < 0.95 else "failed",
        "transcription_text": " ".join(r.choice(_WORDS) for _ in range(r.randint(5, 20))),
        "type": "fast",
        "uri": _uri(st, "Transcriptions", sid),
    }


def gen_usage_triggers(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    cat = r.choice(["totalprice", "sms", "calls"])
    return {
        "account_sid": a,
        "api_version": "2010-04-01",
        "callback_method": "POST",
        "callback_url": f"https://example.com/usage-trigger/{hexn(sid, n=8)}",
        "current_value": str(r.randint(0, 500)),
        "date_created": rfc2822(ts),
        "date_fired": None,
        "date_updated": rfc2822(ts),
        "friendly_name": f"trigger-{cat}",
        "recurring": r.choice(["daily", "monthly", "yearly"]),
        "sid": sid,
        "trigger_by": "price" if cat == "totalprice" else "count",
        "trigger_value": str(r.choice([50, 100, 1000])),
        "uri": f"{V}/Accounts/{a}/Usage/Triggers/{sid}.json",
        "usage_category": cat,
        "usage_record_uri": f"{V}/Accounts/{a}/Usage/Records.json?Category={cat}",
    }


_ALERTS = [
    (
        "11200",
        "error",
        "HTTP retrieval failure",
        "Msg=HTTP+Connection+Failure+-+Read+timed+out&sourceComponent=14100&ErrorCode=11200&"
        "httpResponse=502&url=https%3A%2F%2Fexample.com%2Fsms&LogLevel=ERROR",
    ),
    (
        "12300",
        "error",
        "Invalid Content-Type",
        "Msg=Content-Type+text%2Fhtml+is+not+supported&sourceComponent=12000&ErrorCode=12300&"
        "url=https%3A%2F%2Fexample.com%2Fvoice&LogLevel=ERROR",
    ),
    (
        "30003",
        "warning",
        "Unreachable destination handset",
        "Msg=Unreachable+destination+handset&sourceComponent=14100&ErrorCode=30003&LogLevel=WARNING",
    ),
    (
        "13227",
        "warning",
        "Dial: No International Authorization",
        "Msg=No+international+authorization&sourceComponent=13000&ErrorCode=13227&LogLevel=WARNING",
    ),
]


def gen_alerts(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    code, level, _, text = _ALERTS[r.randrange(len(_ALERTS))]
    on_msg = code in ("11200", "30003")
    res = ("SM" if on_msg else "CA") + hexn(sid, "res")
    return {
        "account_sid": a,
        "alert_text": text,
        "api_version": "2010-04-01",
        "date_created": iso_z(ts),
        "date_generated": iso_z(ts - r.randint(0, 3)),
        "date_updated": iso_z(ts),
        "error_code": code,
        "log_level": level,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "request_method": "POST",
        "request_url": "https://example.com/sms" if on_msg else "https://example.com/voice",
        "resource_sid": res,
        "sid": sid,
        "url": f"https://monitor.twilio.com/v1/Alerts/{sid}",
        "service_sid": None,
    }


_NOTIFICATIONS = [
    # error_code, log ("0" error, "1" warning), on a call, request_url, Msg
    ("11200", "0", True, "https://example.com/voice", "HTTP+retrieval+failure"),
    ("11205", "0", True, "https://example.com/voice", "HTTP+connection+failure"),
    ("12100", "0", True, "https://example.com/voice", "Document+parse+failure"),
    ("13224", "1", True, "", "Dial%3A+Invalid+phone+number"),
    ("21609", "1", True, "", "Invalid+Url+for+callSid"),
    ("30003", "1", False, "https://example.com/sms", "Unreachable+destination+handset"),
    ("11751", "0", False, "https://example.com/sms", "Media+exceeds+messaging+provider+size+limit"),
]


def gen_notifications(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    code, log, on_call, url, msg = _NOTIFICATIONS[r.randrange(len(_NOTIFICATIONS))]
    call = (_ref_sid(st, "calls", ts) or "CA" + hexn(sid, "call")) if on_call else None
    created = ts + r.randint(0, 2)
    level = "ERROR" if log == "0" else "WARN"
    text = f"LogLevel={level}&Msg={msg}&ErrorCode={code}"
    if url:
        text += "&url=" + url.replace(":", "%3A").replace("/", "%2F")
    return {
        "account_sid": a,
        "api_version": "2010-04-01",
        "call_sid": call,
        "date_created": rfc2822(created),
        "date_updated": rfc2822(created + r.randint(0, 3)),
        "error_code": code,
        "log": log,
        "message_date": rfc2822(ts),
        "message_text": text,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "request_method": "POST" if url else None,
        "request_url": url,
        "sid": sid,
        "uri": _uri(st, "Notifications", sid),
    }


_SIP_PLACES = ("scranton", "stamford", "nashua", "utica", "akron", "yonkers", "buffalo", "camden")


def gen_sip_domains(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    place = _SIP_PLACES[r.randrange(len(_SIP_PLACES))]
    base = f"{V}/Accounts/{a}/SIP/Domains/{sid}"
    emergency = r.random() < 0.3
    return {
        "account_sid": a,
        "api_version": "2010-04-01",
        "auth_type": r.choice(["IP_ACL", "CREDENTIAL_LIST", "IP_ACL,CREDENTIAL_LIST"]),
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "domain_name": f"{place}-{hexn(sid, 'domain', n=6)}.sip.twilio.com",
        "friendly_name": f"{place.capitalize()} Office",
        "sid": sid,
        "uri": f"{base}.json",
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": "POST",
        "voice_status_callback_method": "POST",
        "voice_status_callback_url": None,
        "voice_url": f"https://example.com/sip/{place}",
        "subresource_uris": {
            "credential_list_mappings": f"{base}/CredentialListMappings.json",
            "ip_access_control_list_mappings": f"{base}/IpAccessControlListMappings.json",
        },
        "sip_registration": r.random() < 0.6,
        "emergency_calling_enabled": emergency,
        "secure": r.random() < 0.5,
        "byoc_trunk_sid": None,
        "emergency_caller_sid": ("PN" + sid_body(st.acct.pn_salt, 0)) if emergency else None,
    }


def gen_sip_credential_lists(
    st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None
) -> Record:
    a = st.acct.sid
    base = f"{V}/Accounts/{a}/SIP/CredentialLists/{sid}"
    return {
        "account_sid": a,
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "friendly_name": r.choice(["Front desk", "Sales phones", "Warehouse", "Remote staff"]),
        "sid": sid,
        "subresource_uris": {"credentials": f"{base}/Credentials.json"},
        "uri": f"{base}.json",
    }


def parent_sid_for(st: Store, i: int, ts: int) -> str | None:
    """The parent list of child ``i``: one of the parent's base records created before ``ts``."""
    parent = st.acct.stores[STORE_CHILDREN[st.resource][0]]
    if parent.n == 0:
        return None
    k = max(1, parent.first_index_gt(ts))
    return parent.base_sid(splitmix64(st.salt ^ (i & MASK64)) % k)


_USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "frontdesk", "lobby", "conf-room")


def gen_sip_credentials(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    cl = parent_sid_for(st, i, ts)
    return {
        "account_sid": a,
        "credential_list_sid": cl,
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "sid": sid,
        "uri": f"{V}/Accounts/{a}/SIP/CredentialLists/{cl}/Credentials/{sid}.json",
        "username": f"{_USERS[r.randrange(len(_USERS))]}-{hexn(sid, 'user', n=4)}",
    }


def gen_sip_ip_access_control_lists(
    st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None
) -> Record:
    a = st.acct.sid
    base = f"{V}/Accounts/{a}/SIP/IpAccessControlLists/{sid}"
    return {
        "account_sid": a,
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "friendly_name": r.choice(["Office PBX", "Carrier gateways", "Data center", "VPN"]),
        "sid": sid,
        "subresource_uris": {"ip_addresses": f"{base}/IpAddresses.json"},
        "uri": f"{base}.json",
    }


def gen_sip_ip_addresses(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    a = st.acct.sid
    acl = parent_sid_for(st, i, ts)
    net = r.choice(["192.0.2", "198.51.100", "203.0.113"])  # documentation ranges (RFC 5737)
    prefix = 32 if r.random() < 0.7 else 24
    host = r.randint(1, 254) if prefix == 32 else 0
    return {
        "account_sid": a,
        "cidr_prefix_length": prefix,
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "friendly_name": r.choice(["pbx-1", "pbx-2", "gateway", "office"]),
        "ip_access_control_list_sid": acl,
        "ip_address": f"{net}.{host}",
        "sid": sid,
        "uri": f"{V}/Accounts/{a}/SIP/IpAccessControlLists/{acl}/IpAddresses/{sid}.json",
    }


def gen_short_codes(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    code = str(r.randint(20000, 99999) if r.random() < 0.8 else r.randint(200000, 999999))
    return {
        "account_sid": st.acct.sid,
        "api_version": "2010-04-01",
        "date_created": rfc2822(ts),
        "date_updated": rfc2822(ts),
        "friendly_name": code,
        "short_code": code,
        "sid": sid,
        "sms_fallback_method": "POST",
        "sms_fallback_url": None,
        "sms_method": "POST",
        "sms_url": "https://example.com/sms" if r.random() < 0.7 else None,
        "uri": _uri(st, "SMS/ShortCodes", sid),
    }


def gen_signing_keys(st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record:
    name = r.choice(["webhooks", "video tokens", "client tokens", "ci"])
    return {"sid": sid, "friendly_name": name, "date_created": rfc2822(ts), "date_updated": rfc2822(ts)}


class Generator(Protocol):
    """gen(store, i, sid, ts, r, cap=None) -> record; ``ts`` is the primary sort timestamp."""

    def __call__(self, st: Store, i: int, sid: str, ts: int, r: random.Random, *, cap: int | None = None) -> Record: ...


GENERATORS: dict[str, Generator] = {
    "messages": gen_messages,
    "calls": gen_calls,
    "recordings": gen_recordings,
    "conferences": gen_conferences,
    "addresses": gen_addresses,
    "applications": gen_applications,
    "incoming_phone_numbers": gen_incoming_phone_numbers,
    "keys": gen_keys,
    "outgoing_caller_ids": gen_outgoing_caller_ids,
    "queues": gen_queues,
    "transcriptions": gen_transcriptions,
    "usage_triggers": gen_usage_triggers,
    "alerts": gen_alerts,
    "notifications": gen_notifications,
    "sip_domains": gen_sip_domains,
    "sip_credential_lists": gen_sip_credential_lists,
    "sip_credentials": gen_sip_credentials,
    "sip_ip_access_control_lists": gen_sip_ip_access_control_lists,
    "sip_ip_addresses": gen_sip_ip_addresses,
    "short_codes": gen_short_codes,
    "signing_keys": gen_signing_keys,
}


# ====================================================================== children


def gen_media(msg: Record, j: int) -> Record:
    a = msg["account_sid"]
    msid = msg["sid"]
    sid = "ME" + hexn(msid, "media", j)
    created = parse_any_ts(msg["date_created"]) or 0
    ct = ("image/jpeg", "image/png", "image/gif", "video/mp4", "application/pdf")[int(sid[2:4], 16) % 5]
    return {
        "account_sid": a,
        "content_type": ct,
        "date_created": rfc2822(created),
        "date_updated": rfc2822(created + 1),
        "parent_sid": msid,
        "sid": sid,
        "uri": f"{V}/Accounts/{a}/Messages/{msid}/Media/{sid}.json",
    }


def n_participants(conf: Record) -> int:
    st = conf.get("status")
    h = int(hexn(conf["sid"], "np", n=4), 16)
    if st == "in-progress":
        return 1 + h % 4
    if st == "init":
        return h % 2
    return 0


def gen_participant(conf: Record, j: int) -> Record:
    a = conf["account_sid"]
    csid = conf["sid"]
    call = "CA" + hexn(csid, "participant", j)
    created = (parse_any_ts(conf["date_created"]) or 0) + 2 * j
    h = int(hexn(call, "flags", n=4), 16)
    return {
        "account_sid": a,
        "call_sid": call,
        "label": None if h % 3 else f"agent-{j + 1}",
        "conference_sid": csid,
        "date_created": rfc2822(created),
        "date_updated": rfc2822(created + (h % 30)),
        "end_conference_on_exit": j == 0,
        "muted": bool(h & 4),
        "hold": bool(h & 8) and j > 0,
        "status": "connected" if conf.get("status") == "in-progress" else "connecting",
        "start_conference_on_enter": True,
        "coaching": False,
        "call_sid_to_coach": None,
        "queue_time": None,
        "uri": f"{V}/Accounts/{a}/Conferences/{csid}/Participants/{call}.json",
    }


def queue_member(queue: Record, j: int, anchor: int) -> tuple[str, int]:
    """(call_sid, date_enqueued) of the ``j``-th caller waiting in a queue at ``anchor`` (longest waiting first)."""
    h = int(hexn(queue["sid"], "waiting", n=6), 16)
    waited = 30 + h % 600 - 40 * j  # earlier callers have waited longer
    return "CA" + hexn(queue["sid"], "member", j), anchor - max(5, waited)


def member_record(acct_sid: str, queue_sid: str, call_sid: str, *, enqueued: int, position: int, now: int) -> Record:
    return {
        "call_sid": call_sid,
        "date_enqueued": rfc2822(enqueued),
        "position": position,
        "queue_sid": queue_sid,
        "uri": f"{V}/Accounts/{acct_sid}/Queues/{queue_sid}/Members/{call_sid}.json",
        "wait_time": max(0, now - enqueued),
    }


_DEP_KEYS = [
    "sid",
    "account_sid",
    "friendly_name",
    "phone_number",
    "voice_url",
    "voice_method",
    "voice_fallback_url",
    "voice_fallback_method",
    "voice_caller_id_lookup",
    "date_created",
    "date_updated",
    "sms_url",
    "sms_method",
    "sms_fallback_url",
    "sms_fallback_method",
    "address_requirements",
    "capabilities",
    "status_callback",
    "status_callback_method",
    "api_version",
    "voice_application_sid",
    "sms_application_sid",
    "trunk_sid",
    "emergency_status",
    "emergency_address_sid",
    "uri",
]


def dependent_from_incoming(pn: Record) -> Record:
    d = {k: pn.get(k) for k in _DEP_KEYS}
    caps = pn.get("capabilities") or {}
    d["capabilities"] = {"Voice": bool(caps.get("voice")), "SMS": bool(caps.get("sms")), "MMS": bool(caps.get("mms"))}
    return d


def available_numbers(seed: Any, country: str, typ: str, count: int) -> list[Record]:
    r = random.Random(h64(seed, "available", country, typ))
    out = []
    nanp = country in ("US", "CA")
    for _ in range(count):
        if nanp:
            if typ == "toll_free":
                prefix = r.choice(["800", "833", "844", "855", "866", "877", "888"])
                num = f"+1{prefix}{r.randint(200, 999):03d}{r.randint(0, 9999):04d}"
                rec = dict(
                    friendly_name=fmt_us(num),
                    phone_number=num,
                    lata=None,
                    locality=None,
                    rate_center=None,
                    latitude=None,
                    longitude=None,
                    region=None,
                    postal_code=None,
                )
            else:
                c = _US_CITIES[r.randrange(len(_US_CITIES))] if country == "US" else _TORONTO
                num = f"+1{c[6]}{r.randint(200, 999):03d}{r.randint(0, 9999):04d}"
                rec = dict(
                    friendly_name=fmt_us(num),
                    phone_number=num,
                    lata=c[3],
                    locality=c[0],
                    rate_center=c[0].upper()[:10],
                    latitude=c[4],
                    longitude=c[5],
                    region=c[1],
                    postal_code=c[2],
                )
        elif country == "GB":
            if typ == "mobile":
                num = f"+447{r.randint(400, 999):03d}{r.randint(0, 999999):06d}"
                rec = dict(
                    friendly_name=num,
                    phone_number=num,
                    lata=None,
                    locality=None,
                    rate_center=None,
                    latitude=None,
                    longitude=None,
                    region=None,
                    postal_code=None,
                )
            else:
                num = f"+4420{r.randint(0, 9999):04d}{r.randint(0, 9999):04d}"
                rec = dict(
                    friendly_name=num,
                    phone_number=num,
                    lata=None,
                    locality="London",
                    rate_center=None,
                    latitude="51.507400",
                    longitude="-0.127800",
                    region="LND",
                    postal_code=None,
                )
        else:
            num = f"+4930{r.randint(0, 99999999):08d}"
            rec = dict(
                friendly_name=num,
                phone_number=num,
                lata=None,
                locality="Berlin",
                rate_center=None,
                latitude="52.520000",
                longitude="13.405000",
                region="BE",
                postal_code=None,
            )
        out.append(
            {
                "address_requirements": "none" if country in ("US", "CA") else "local",
                "beta": False,
                "capabilities": {"mms": nanp, "sms": typ != "local" or nanp, "voice": True},
                "friendly_name": rec["friendly_name"],
                "iso_country": country,
                "lata": rec["lata"],
                "latitude": rec["latitude"],
                "locality": rec["locality"],
                "longitude": rec["longitude"],
                "phone_number": rec["phone_number"],
                "postal_code": rec["postal_code"],
                "rate_center": rec["rate_center"],
                "region": rec["region"],
            }
        )
    return out


def country_record(acct_sid: str, code: str, name: str, types: Record) -> Record:
    base = f"{V}/Accounts/{acct_sid}/AvailablePhoneNumbers/{code}"
    return {
        "country_code": code,
        "country": name,
        "uri": f"{base}.json",
        "beta": False,
        "subresource_uris": {
            t: f"{base}/{TYPE_SEGMENT[t]}.json" for t in ("local", "mobile", "toll_free") if t in types
        },
    }


# ====================================================================== usage


def usage_base_values(seed: Any, acct: Account, day: int) -> dict[str, tuple[float, float, float]]:
    """category -> (count, usage, price) for a *full* day of one account (own usage only)."""
    r = random.Random(h64(seed, acct.sid, "usage", day))
    out: dict[str, tuple[float, float, float]] = {}
    total = 0.0
    for cat, _d, _cu, _uu, unit, mean in USAGE_CATEGORIES:
        if cat == "totalprice":
            continue
        if cat == "phonenumbers":
            n = float(len(acct.numbers))
            price = n * unit
            out[cat] = (n, n, price)
        elif cat == "calls":
            c = float(r.randint(0, 2 * mean))
            minutes = float(sum(r.randint(1, 6) for _ in range(int(c))))
            price = minutes * unit
            out[cat] = (c, minutes, price)
        else:
            c = float(r.randint(0, 2 * mean))
            u = c if cat == "sms" else float(int(c * r.uniform(1, 4)))
            price = u * unit
            out[cat] = (c, u, price)
        total += out[cat][2]
    out["totalprice"] = (total, total, total)
    return out
