"""Twilio's product APIs in the sandbox: Conversations, Studio, Verify, Messaging, Trunking, Pricing, Monitor events.

Every product is served on one port under ``/{product}/...`` (``/conversations/v1/Services``); Monitor events also
unprefixed (``/v1/Events``), like alerts. Behaviour worth knowing (like Twilio unless noted):

* A product API answers with the data of the account that authenticates (its own sid + auth token, or an API key of
  that account); the main account's credentials never reach a subaccount's product data. An account that does not
  use a product gets an empty list: the main account uses every product, odd subaccounts Conversations, Studio and
  Verify, even subaccounts Conversations, Messaging and Trunking (``ProductApi.uses``).
* Pages: ``{<key>: [...], "meta": {...}}``, ``meta.next_page_url`` absolute, repeating every filter, with a keyset
  ``PageToken=PA<sid>``. ``PageSize`` above a list's maximum (``LISTS[...].page_max``: Conversations lists 100,
  Users and Roles 50, others 1000) answers 400/20007.
* Dates are ISO-8601 UTC (``2024-05-01T10:00:00Z``). Lists are newest first by ``date_created`` (conversation
  messages: by ``index``, ``Order=asc`` by default).
* A conversation's ``date_updated`` is the time of its last change (a state change is one). Whether a new message or
  participant is one too, Twilio's docs leave open: ``ProductApi.messages_move_conversation`` (default True) says
  which behaviour the sandbox plays; ``--messages-keep-conversation-date`` on the command line turns it off. A closed
  conversation takes no new message or participant (Twilio: error 50377).
* Pricing is the same for every account.

Mutations (all move the sandbox's ``date_updated`` to its clock, see ``Sandbox.set_now``): ``add_record`` and
``update_record`` for every resource here, plus ``add_conversation_message``, ``end_execution``, ``rename_flow`` and
``add_verify_attempt``. ``expected(resource, account_sid)`` returns the records as the API serves them now.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import hashlib
import json
import random
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

Record = dict[str, Any]
Params = list[tuple[str, str]]

PRODUCTS = (
    "api",
    "monitor",
    "conversations",
    "studio",
    "verify",
    "messaging",
    "trunking",
    "insights",
    "pricing",
    "taskrouter",
)
DAY = 86400
EVENT_RETENTION_DAYS = 30


class AccountLike(Protocol):
    """What the product APIs need of a sandbox account."""

    sid: str
    index: int
    t_start: int
    t_end: int

    @property
    def status(self) -> str: ...


class SandboxLike(Protocol):
    """What the product APIs need of the sandbox."""

    seed: Any
    lock: Any

    def clock(self) -> int: ...


class ProductError(Exception):
    """An error answer in Twilio's shape."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> Record:
        """Twilio's error document."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


# ---------------------------------------------------------------------------------------------- helpers


def iso(ts: int | None) -> str | None:
    """Epoch seconds -> '2024-05-01T10:00:00Z'."""
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$")
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")


def parse_time(value: str) -> tuple[int, bool] | None:
    """ISO date or date-time -> (epoch seconds, has a time part); None if not ISO."""
    m = _ISO.match(value.strip())
    if not m:
        return None
    try:
        moment = dt.datetime(
            int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4) or 0), int(m.group(5) or 0)
        )
    except ValueError:
        return None
    ts = calendar.timegm(moment.timetuple()) + int(m.group(6) or 0)
    zone = m.group(7)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        ts -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return ts, m.group(4) is not None


def to_ts(value: Any) -> int | None:
    """ISO text, a datetime or epoch seconds -> epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return calendar.timegm(value.astimezone(dt.timezone.utc).timetuple())
    if isinstance(value, (int, float)):
        return int(value)
    parsed = parse_time(str(value))
    if parsed is None:
        raise ValueError(f"not an ISO timestamp: {value!r}")
    return parsed[0]


def time_param(params: dict[str, str], name: str, now: int, *, end: bool = False, relative: bool = False) -> int | None:
    """A date filter: ISO date-time (a bare date means its start, or its end for an upper bound); 400 if invalid."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if relative and (m := _RELATIVE.match(raw.strip())):
        return now - int(m.group(1)) * {"m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}[m.group(2)]
    parsed = parse_time(raw)
    if parsed is None:
        raise ProductError(400, 20001, f"Invalid {name}: {raw}")
    ts, has_time = parsed
    return ts + DAY - 1 if end and not has_time else ts


def make_sid(prefix: str, *parts: Any) -> str:
    """A deterministic 34-character Twilio sid."""
    data = "\x1f".join(str(p) for p in parts).encode()
    return prefix + hashlib.blake2b(data, digest_size=16).hexdigest()


def rng(*parts: Any) -> random.Random:
    """A deterministic random generator for one account's product data."""
    return random.Random("\x1f".join(str(p) for p in parts))


def phone(r: random.Random) -> str:
    """A US E.164 number."""
    return f"+1{r.randint(201, 989)}{r.randint(200, 999)}{r.randint(0, 9999):04d}"


# ---------------------------------------------------------------------------------------------- lists


@dataclass(frozen=True, kw_only=True)
class ListDef:
    """One list endpoint: Twilio's path (placeholders are record fields), key and page-size maximum."""

    product: str
    path: str
    key: str
    page_max: int = 1000
    detail: str | None = None  # resource of the per-item detail endpoint (pricing)

    def pattern(self) -> re.Pattern[str]:
        """The path as a regex; placeholders capture sids."""
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9]+)", self.path) + "/?$")


LISTS: dict[str, ListDef] = {
    "conversation_services": ListDef(product="conversations", path="/v1/Services", key="services", page_max=100),
    "conversations": ListDef(
        product="conversations", path="/v1/Services/{chat_service_sid}/Conversations", key="conversations", page_max=100
    ),
    "conversation_participants": ListDef(
        product="conversations",
        path="/v1/Services/{chat_service_sid}/Conversations/{conversation_sid}/Participants",
        key="participants",
        page_max=100,
    ),
    "conversation_messages": ListDef(
        product="conversations",
        path="/v1/Services/{chat_service_sid}/Conversations/{conversation_sid}/Messages",
        key="messages",
        page_max=100,
    ),
    "conversation_users": ListDef(
        product="conversations", path="/v1/Services/{chat_service_sid}/Users", key="users", page_max=50
    ),
    "conversation_roles": ListDef(
        product="conversations", path="/v1/Services/{chat_service_sid}/Roles", key="roles", page_max=50
    ),
    "studio_flows": ListDef(product="studio", path="/v2/Flows", key="flows"),
    "studio_executions": ListDef(product="studio", path="/v2/Flows/{flow_sid}/Executions", key="executions"),
    "studio_execution_steps": ListDef(
        product="studio", path="/v2/Flows/{flow_sid}/Executions/{execution_sid}/Steps", key="steps"
    ),
    "verify_services": ListDef(product="verify", path="/v2/Services", key="services"),
    "verify_attempts": ListDef(product="verify", path="/v2/Attempts", key="attempts"),
    "messaging_services": ListDef(product="messaging", path="/v1/Services", key="services"),
    "messaging_service_phone_numbers": ListDef(
        product="messaging", path="/v1/Services/{service_sid}/PhoneNumbers", key="phone_numbers"
    ),
    "trunks": ListDef(product="trunking", path="/v1/Trunks", key="trunks"),
    "monitor_events": ListDef(product="monitor", path="/v1/Events", key="events"),
    "pricing_voice_countries": ListDef(
        product="pricing", path="/v2/Voice/Countries", key="countries", detail="/v2/Voice/Countries/{iso_country}"
    ),
    "pricing_messaging_countries": ListDef(
        product="pricing",
        path="/v1/Messaging/Countries",
        key="countries",
        detail="/v1/Messaging/Countries/{iso_country}",
    ),
    "pricing_phone_number_countries": ListDef(
        product="pricing",
        path="/v1/PhoneNumbers/Countries",
        key="countries",
        detail="/v1/PhoneNumbers/Countries/{iso_country}",
    ),
}

# Which account uses which product: the main account everything, odd subaccounts one mix, even ones another.
MAIN_USES = frozenset(PRODUCTS)
ODD_USES = frozenset({"monitor", "conversations", "studio", "verify", "insights"})
EVEN_USES = frozenset({"monitor", "conversations", "messaging", "trunking", "insights"})

# (iso, name, outbound per-minute voice price, sms price, local number monthly price)
COUNTRIES = (
    ("US", "United States", "0.0140", "0.0079", "1.15"),
    ("CA", "Canada", "0.0140", "0.0079", "1.15"),
    ("GB", "United Kingdom", "0.0158", "0.0400", "1.15"),
    ("DE", "Germany", "0.0270", "0.0800", "1.50"),
    ("FR", "France", "0.0268", "0.0800", "1.50"),
    ("AU", "Australia", "0.0355", "0.0515", "3.00"),
    ("JP", "Japan", "0.0720", "0.0750", "4.50"),
    ("BR", "Brazil", "0.0330", "0.0285", "6.00"),
    ("IN", "India", "0.0135", "0.0830", "7.00"),
    ("MX", "Mexico", "0.0200", "0.0450", "3.50"),
)

_WORDS = ("order", "delivery", "refund", "invoice", "appointment", "password", "upgrade", "support", "billing", "trial")


@dataclass
class Served:
    """A resource's records for one account, and how a list of them is ordered."""

    records: list[Record]


def _key_desc(rec: Record) -> tuple[int, str]:
    return (to_ts(rec.get("date_created")) or 0, str(rec.get("sid", "")))


class ProductApi:
    """The product APIs of one sandbox (``sb.products``)."""

    def __init__(self, sb: SandboxLike, accounts: Callable[[], Sequence[AccountLike]]) -> None:
        """Bind to a sandbox; ``accounts`` lists its accounts (main first)."""
        self.sb = sb
        self._accounts = accounts
        self._data: dict[str, dict[str, list[Record]]] = {}
        self._lock = threading.RLock()
        self._patterns = [(name, d.product, d.pattern()) for name, d in LISTS.items()]
        self._details = [
            (name, d.product, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Z]{2})", d.detail) + "/?$"))
            for name, d in LISTS.items()
            if d.detail
        ]
        self.handlers: list[ProductHandler] = []
        # a new message or participant moves its conversation's date_updated (False: leaves the conversation alone)
        self.messages_move_conversation = True

    @property
    def resources(self) -> frozenset[str]:
        """Every resource served here."""
        return frozenset(LISTS) | frozenset(r for h in self.handlers for r in h.resources())

    def uses(self, account: AccountLike, product: str) -> bool:
        """Whether an account uses a product (else its lists are empty)."""
        if account.index == 0:
            return product in MAIN_USES
        return product in (ODD_USES if account.index % 2 else EVEN_USES)

    # ------------------------------------------------------------------ routing
    def route(self, product: str | None, path: str) -> tuple[str, Record] | None:
        """``(resource, route)`` if this module serves the path (``product`` None: unprefixed), else None."""
        if product in (None, "api") and not path.startswith("/v1/Events"):
            return None
        product = product or "monitor"
        for handler in self.handlers:
            hit = handler.route(product, path)
            if hit is not None:
                return hit
        for name, prod, pattern in self._patterns:
            if prod == product and (m := pattern.match(path)):
                return name, {"kind": "product", "resource": name, "path_params": m.groupdict()}
        for name, prod, pattern in self._details:
            if prod == product and (m := pattern.match(path)):
                return name, {"kind": "product", "resource": name, "detail": m.group("iso_country")}
        return None

    def dispatch(self, route: Record, params: Params, base_url: str, path: str, account: AccountLike) -> Record:
        """The JSON document answering a routed GET for ``account`` (the authenticated one); ProductError if not."""
        if account.status == "suspended":
            raise ProductError(403, 20005, "Account is not active")
        resource = route["resource"]
        for handler in self.handlers:
            if resource in handler.resources():
                return handler.dispatch(route, params, base_url, path, account)
        if route.get("detail"):
            return self._pricing_detail(resource, route["detail"], path)
        spec = LISTS[resource]
        served = self._list(resource, account, route["path_params"], dict(params), path)
        return page(base_url + path, params, spec.key, spec.page_max, served)

    # ------------------------------------------------------------------ data
    def data(self, account: AccountLike) -> dict[str, list[Record]]:
        """An account's product records by resource (generated once, then mutated)."""
        with self._lock:
            found = self._data.get(account.sid)
            if found is None:
                found = self._generate(account)
                self._data[account.sid] = found
            return found

    def _account(self, account_sid: str | None) -> AccountLike:
        accounts = list(self._accounts())
        if account_sid is None:
            return accounts[0]
        for account in accounts:
            if account.sid == account_sid:
                return account
        raise KeyError(account_sid)

    def _list(
        self, resource: str, account: AccountLike, path_params: dict[str, str], p: dict[str, str], path: str
    ) -> Served:
        if resource.startswith("pricing_"):
            return Served(pricing_list(resource))
        data = self.data(account)
        parents = {
            "chat_service_sid": "conversation_services",
            "conversation_sid": "conversations",
            "flow_sid": "studio_flows",
            "execution_sid": "studio_executions",
            "service_sid": "messaging_services",
        }
        for field, value in path_params.items():
            if not any(r["sid"] == value for r in data[parents[field]]):
                raise ProductError(404, 20404, f"The requested resource {path} was not found")
        recs = [r for r in data[resource] if all(r.get(f) == v for f, v in path_params.items())]
        now = self.sb.clock()
        if resource == "conversations":
            lo, hi = time_param(p, "StartDate", now), time_param(p, "EndDate", now, end=True)
            recs = [r for r in recs if _within(r["date_created"], lo, hi)]
            if p.get("State"):
                recs = [r for r in recs if r["state"] == p["State"]]
        elif resource == "studio_executions":
            lo, hi = time_param(p, "DateCreatedFrom", now), time_param(p, "DateCreatedTo", now)
            recs = [r for r in recs if _within(r["date_created"], lo, None) and (hi is None or _ts(r) < hi)]
        elif resource == "verify_attempts":
            lo, hi = time_param(p, "DateCreatedAfter", now), time_param(p, "DateCreatedBefore", now, end=True)
            recs = [r for r in recs if _within(r["date_created"], lo, hi)]
            for name, field in (("VerifyServiceSid", "service_sid"), ("Channel", "channel")):
                if p.get(name):
                    recs = [r for r in recs if r[field] == p[name].lower() or r[field] == p[name]]
        elif resource == "monitor_events":
            visible = now - EVENT_RETENTION_DAYS * DAY
            lo, hi = time_param(p, "StartDate", now), time_param(p, "EndDate", now, end=True)
            if lo is not None and lo < visible - visible % DAY:
                raise ProductError(400, 20001, "StartDate: Queries for events older than 30 days are not supported")
            recs = [r for r in recs if _within(r["event_date"], max(lo or visible, visible), hi)]
            for name, field in (
                ("EventType", "event_type"),
                ("ResourceSid", "resource_sid"),
                ("ActorSid", "actor_sid"),
                ("SourceIpAddress", "source_ip_address"),
            ):
                if p.get(name):
                    recs = [r for r in recs if r[field] == p[name]]
        if resource == "conversation_messages":
            desc = p.get("Order", "asc").lower() == "desc"
            recs.sort(key=lambda r: int(r["index"]), reverse=desc)
        elif resource == "monitor_events":
            recs.sort(key=lambda r: (to_ts(r["event_date"]) or 0, r["sid"]), reverse=True)
        else:
            recs.sort(key=_key_desc, reverse=True)
        return Served(recs)

    def _pricing_detail(self, resource: str, iso_country: str, path: str) -> Record:
        for rec in pricing_details(resource):
            if rec["iso_country"] == iso_country:
                return rec
        raise ProductError(404, 20404, f"The requested resource {path} was not found")

    def _generate(self, account: AccountLike) -> dict[str, list[Record]]:
        out: dict[str, list[Record]] = {name: [] for name in LISTS if not name.startswith("pricing_")}
        seed = self.sb.seed
        if self.uses(account, "conversations"):
            out.update(gen_conversations(seed, account))
        if self.uses(account, "studio"):
            out.update(gen_studio(seed, account))
        if self.uses(account, "verify"):
            out.update(gen_verify(seed, account))
        if self.uses(account, "messaging"):
            out.update(gen_messaging(seed, account))
        if self.uses(account, "trunking"):
            out.update(gen_trunking(seed, account))
        if self.uses(account, "monitor"):
            out.update(gen_events(seed, account))
        return out

    # ------------------------------------------------------------------ python API
    def expected(self, resource: str, account_sid: str | None = None) -> list[Record]:
        """Records of ``resource`` as the API serves them now (every parent, newest first; all accounts if None)."""
        for handler in self.handlers:
            if resource in handler.resources():
                return handler.expected(resource, account_sid)
        if resource.startswith("pricing_"):
            return copy.deepcopy(pricing_details(resource))
        accounts = list(self._accounts()) if account_sid is None else [self._account(account_sid)]
        out: list[Record] = []
        big = {"StartDate": "1970-01-01", "EndDate": "2999-01-01"}
        for account in accounts:
            if resource == "monitor_events":
                now = self.sb.clock()
                served = self._list(
                    resource, account, {}, {"StartDate": iso(now - EVENT_RETENTION_DAYS * DAY) or ""}, ""
                )
            else:
                served = self._list(resource, account, {}, big if resource == "conversations" else {}, "")
            out += copy.deepcopy(served.records)
        return out

    def _find(self, resource: str, sid: str) -> tuple[AccountLike, Record]:
        for account in self._accounts():
            for rec in self.data(account).get(resource, []):
                if rec.get("sid") == sid:
                    return account, rec
        raise KeyError(f"{resource} {sid} not found")

    def _fields(self, fields: dict[str, Any]) -> Record:
        return {k: (iso(to_ts(v)) if isinstance(v, dt.datetime) else v) for k, v in fields.items()}

    def add_record(self, resource: str, account_sid: str | None = None, **fields: Any) -> Record:
        """Add a record (realistic defaults, created now); a conversation message: see add_conversation_message."""
        if resource == "conversation_messages":
            return self.add_conversation_message(str(fields.pop("conversation_sid")), **fields)
        account = self._account(account_sid)
        now = self.sb.clock()
        with self._lock:
            data = self.data(account)
            if not data[resource] and resource not in ("verify_attempts", "monitor_events"):
                raise ValueError(f"{account.sid} does not use the product of {resource}")
            template = copy.deepcopy(data[resource][0]) if data[resource] else None
            if template is None:
                template = fresh_template(self.sb.seed, account, resource, data)
            n = len(data[resource])
            template["sid"] = make_sid(template["sid"][:2], self.sb.seed, account.sid, resource, "added", n, now)
            for field in ("date_created", "date_updated", "event_date"):
                if field in template:
                    template[field] = iso(now)
            template.update(self._fields(fields))
            _fix_urls(template)
            data[resource].append(template)
            return copy.deepcopy(template)

    def update_record(self, resource: str, sid: str, **fields: Any) -> Record:
        """Change fields of a record; date_updated moves to now unless given."""
        with self._lock:
            _, rec = self._find(resource, sid)
            if "date_updated" in rec and "date_updated" not in fields:
                fields["date_updated"] = iso(self.sb.clock())
            rec.update(self._fields(fields))
            return copy.deepcopy(rec)

    def add_conversation_message(self, conversation_sid: str, **fields: Any) -> Record:
        """A new message in a conversation: next index, created now; the conversation's date_updated moves too
        when ``messages_move_conversation``. ``participant_sid`` names its author (default: one of the
        conversation's participants in turn)."""
        with self._lock:
            account, conversation = self._open_conversation(conversation_sid)
            data = self.data(account)
            messages = [m for m in data["conversation_messages"] if m["conversation_sid"] == conversation_sid]
            participants = [p for p in data["conversation_participants"] if p["conversation_sid"] == conversation_sid]
            if fields.get("participant_sid"):
                participants = [p for p in participants if p["sid"] == fields["participant_sid"]]
                if not participants:
                    raise KeyError(f"participant {fields['participant_sid']} is not in {conversation_sid}")
                del fields["participant_sid"]
            now = self.sb.clock()
            index = max([int(m["index"]) for m in messages] + [-1]) + 1
            r = rng(self.sb.seed, conversation_sid, "added", index)
            rec = gen_message(account.sid, conversation, participants, index, now, r=r)
            rec.update(self._fields(fields))
            data["conversation_messages"].append(rec)
            self._touch(conversation, now)
            return copy.deepcopy(rec)

    def add_conversation_participant(self, conversation_sid: str, identity: str, **fields: Any) -> Record:
        """A chat participant joins a conversation now; its date_updated moves when ``messages_move_conversation``."""
        with self._lock:
            account, conversation = self._open_conversation(conversation_sid)
            data = self.data(account)
            now = self.sb.clock()
            n = sum(1 for p in data["conversation_participants"] if p["conversation_sid"] == conversation_sid)
            mb = make_sid("MB", self.sb.seed, account.sid, conversation_sid, "participant", "added", n, now)
            roles = [r for r in data["conversation_roles"] if r["chat_service_sid"] == conversation["chat_service_sid"]]
            rec: Record = {
                "account_sid": account.sid,
                "chat_service_sid": conversation["chat_service_sid"],
                "conversation_sid": conversation_sid,
                "sid": mb,
                "identity": identity,
                "attributes": "{}",
                "messaging_binding": None,
                "role_sid": roles[-1]["sid"] if roles else None,
                "date_created": iso(now),
                "date_updated": iso(now),
                "url": f"{conversation['url']}/Participants/{mb}",
                "last_read_message_index": None,
                "last_read_timestamp": None,
            }
            rec.update(self._fields(fields))
            data["conversation_participants"].append(rec)
            self._touch(conversation, now)
            return copy.deepcopy(rec)

    def _open_conversation(self, conversation_sid: str) -> tuple[AccountLike, Record]:
        account, conversation = self._find("conversations", conversation_sid)
        if conversation["state"] == "closed":
            raise ProductError(400, 50377, "Conversation state is 'closed' so it can't be used for chatting anymore")
        return account, conversation

    def _touch(self, conversation: Record, now: int) -> None:
        """A new message or participant: the conversation's date_updated moves (if the sandbox plays that)."""
        if self.messages_move_conversation:
            conversation["date_updated"] = iso(now)

    def end_execution(self, execution_sid: str) -> Record:
        """An active Studio execution ends now."""
        return self.update_record("studio_executions", execution_sid, status="ended")

    def rename_flow(self, flow_sid: str, friendly_name: str) -> Record:
        """A Studio flow is renamed: a new revision, date_updated now."""
        with self._lock:
            _, flow = self._find("studio_flows", flow_sid)
            return self.update_record(
                "studio_flows", flow_sid, friendly_name=friendly_name, revision=int(flow["revision"]) + 1
            )

    def add_verify_attempt(self, account_sid: str | None = None, **fields: Any) -> Record:
        """A new Verify attempt, created now."""
        return self.add_record("verify_attempts", account_sid, **fields)


class ProductHandler(Protocol):
    """A product served by another module (Insights), plugged into ``ProductApi.handlers``."""

    def resources(self) -> frozenset[str]: ...

    def route(self, product: str, path: str) -> tuple[str, Record] | None: ...

    def dispatch(self, route: Record, params: Params, base_url: str, path: str, account: AccountLike) -> Record: ...

    def expected(self, resource: str, account_sid: str | None) -> list[Record]: ...


def _ts(rec: Record, field: str = "date_created") -> int:
    return to_ts(rec.get(field)) or 0


def _within(value: Any, lo: int | None, hi: int | None) -> bool:
    ts = to_ts(value) or 0
    return (lo is None or ts >= lo) and (hi is None or ts <= hi)


def _fix_urls(rec: Record) -> None:
    """After a sid change: the record's own url ends in the new sid."""
    url = rec.get("url")
    if isinstance(url, str) and "sid" in rec:
        rec["url"] = url.rsplit("/", 1)[0] + "/" + rec["sid"]


# ---------------------------------------------------------------------------------------------- paging


def page(
    url: str,
    params: Params,
    key: str,
    page_max: int,
    served: Served,
    *,
    token_of: Callable[[Record], str] | None = None,
) -> Record:
    """One page in the product envelope; keyset ``PageToken=PA<id>`` so new records never shift later pages."""
    token_of = token_of or (lambda r: str(r.get("sid") or r.get("iso_country")))
    size = page_size(params, page_max)
    number, token = 0, None
    for name, value in params:
        if name == "Page":
            if not value.isdigit():
                raise ProductError(400, 20001, f"Invalid Page: {value}")
            number = int(value)
        elif name == "PageToken":
            token = value or None
    recs = served.records
    start = 0
    if token is not None:
        ids = [token_of(r) for r in recs]
        if token[:2] != "PA" or token[2:] not in ids:
            raise ProductError(400, 20001, f"Invalid PageToken: {token}")
        start = ids.index(token[2:]) + 1
    elif number:
        start = number * size
    items = recs[start : start + size]
    more = start + size < len(recs)
    filters = [(k, v) for k, v in params if k not in ("PageSize", "Page", "PageToken")]
    query = "&".join(quote(k, safe="") + "=" + quote(v, safe="") for k, v in filters)
    base = url + "?" + (query + "&" if query else "")
    next_url = None
    if more and items:
        next_url = base + f"PageSize={size}&Page={number + 1}&PageToken=PA{quote(token_of(items[-1]), safe='')}"
    previous = None
    if number > 0 and start > 0:
        previous = base + f"PageSize={size}&Page={number - 1}"
    this = base + f"PageSize={size}&Page={number}" + (f"&PageToken={quote(token, safe='')}" if token else "")
    return {
        key: copy.deepcopy(items),
        "meta": {
            "page": number,
            "page_size": size,
            "first_page_url": base + f"PageSize={size}&Page=0",
            "previous_page_url": previous,
            "url": this,
            "next_page_url": next_url,
            "key": key,
        },
    }


def page_size(params: Params, page_max: int, default: int = 50) -> int:
    """The requested page size; above the list's maximum is a 400 like Twilio's."""
    raw = next((v for k, v in reversed(params) if k == "PageSize"), "")
    if raw == "":
        return min(default, page_max)
    if not raw.isdigit():
        raise ProductError(400, 20001, f"Invalid PageSize: {raw}")
    size = int(raw)
    if size < 1 or size > page_max:
        raise ProductError(400, 20007, f"PageSize must be between 1 and {page_max}")
    return size


# ---------------------------------------------------------------------------------------------- generators


def _spread(r: random.Random, lo: int, hi: int, n: int) -> list[int]:
    return sorted(r.randint(lo, max(lo, hi)) for _ in range(n))


_ROLES = (
    ("service admin", "service", ["createConversation", "joinConversation", "editAnyUserInfo", "removeMember"]),
    ("service user", "service", ["createConversation", "joinConversation", "editOwnUserInfo"]),
    (
        "channel admin",
        "conversation",
        ["sendMessage", "leaveConversation", "editAnyMessage", "deleteAnyMessage", "removeParticipant"],
    ),
    ("channel user", "conversation", ["sendMessage", "leaveConversation", "editOwnMessage", "deleteOwnMessage"]),
)


def gen_conversations(seed: Any, account: AccountLike) -> dict[str, list[Record]]:
    """Several Conversations services per account, each with roles, users, conversations, participants, messages."""
    a = account.sid
    r = rng(seed, a, "conversations")
    host = "https://conversations.twilio.com/v1"
    out: dict[str, list[Record]] = {
        k: []
        for k in (
            "conversation_services",
            "conversations",
            "conversation_participants",
            "conversation_messages",
            "conversation_users",
            "conversation_roles",
        )
    }
    n_services = 3 if account.index == 0 else 2
    names = ("Default Conversations Service", "Support", "Sales", "Marketing")
    for k, created in enumerate(_spread(r, account.t_start, account.t_start + 5 * DAY, n_services)):
        isid = make_sid("IS", seed, a, "service", k)
        sbase = f"{host}/Services/{isid}"
        out["conversation_services"].append(
            {
                "account_sid": a,
                "sid": isid,
                "friendly_name": names[k % len(names)],
                "date_created": iso(created),
                "date_updated": iso(created + r.randint(0, 3600)),
                "url": sbase,
                "links": {
                    "conversations": f"{sbase}/Conversations",
                    "users": f"{sbase}/Users",
                    "roles": f"{sbase}/Roles",
                    "bindings": f"{sbase}/Bindings",
                    "configuration": f"{sbase}/Configuration",
                    "participant_conversations": f"{sbase}/ParticipantConversations",
                    "credentials": f"{sbase}/Credentials",
                },
            }
        )
        roles = []
        for j, (name, typ, perms) in enumerate(_ROLES):
            rl = make_sid("RL", seed, a, isid, "role", j)
            roles.append(rl)
            out["conversation_roles"].append(
                {
                    "sid": rl,
                    "account_sid": a,
                    "chat_service_sid": isid,
                    "friendly_name": name,
                    "type": typ,
                    "permissions": list(perms),
                    "date_created": iso(created),
                    "date_updated": iso(created),
                    "url": f"{sbase}/Roles/{rl}",
                }
            )
        identities = []
        for j, ucreated in enumerate(_spread(r, created, account.t_end, r.randint(4, 9))):
            us = make_sid("US", seed, a, isid, "user", j)
            identity = f"agent{j + 1}@example.com"
            identities.append(identity)
            out["conversation_users"].append(
                {
                    "sid": us,
                    "account_sid": a,
                    "chat_service_sid": isid,
                    "role_sid": roles[1],
                    "identity": identity,
                    "friendly_name": f"Agent {j + 1}",
                    "attributes": "{}",
                    "is_online": r.random() < 0.3,
                    "is_notifiable": None,
                    "date_created": iso(ucreated),
                    "date_updated": iso(min(account.t_end, ucreated + r.randint(0, 20 * DAY))),
                    "url": f"{sbase}/Users/{us}",
                    "links": {
                        "user_conversations": f"{sbase}/Users/{us}/Conversations",
                        "user_bindings": f"{sbase}/Users/{us}/Bindings",
                    },
                }
            )
        n_conv = 25 if (account.index == 0 and k == 0) else r.randint(6, 14)
        for j, ccreated in enumerate(_spread(r, created + 3600, account.t_end - 3600, n_conv)):
            ch = make_sid("CH", seed, a, isid, "conversation", j)
            cbase = f"{sbase}/Conversations/{ch}"
            conversation: Record = {
                "account_sid": a,
                "chat_service_sid": isid,
                "messaging_service_sid": make_sid("MG", seed, a, "conversations-mg"),
                "sid": ch,
                "friendly_name": f"{r.choice(_WORDS).capitalize()} #{1000 + j}",
                "unique_name": None,
                "attributes": json.dumps({"topic": r.choice(_WORDS)}),
                "state": r.choice(("active", "active", "inactive", "closed")),
                "date_created": iso(ccreated),
                "date_updated": iso(ccreated),
                "timers": {},
                "url": cbase,
                "links": {
                    "participants": f"{cbase}/Participants",
                    "messages": f"{cbase}/Messages",
                    "webhooks": f"{cbase}/Webhooks",
                    "export": f"{cbase}/Export",
                },
                "bindings": {},
            }
            out["conversations"].append(conversation)
            participants: list[Record] = []
            for m in range(r.randint(2, 3)):
                mb = make_sid("MB", seed, a, ch, "participant", m)
                sms = m == 0 and r.random() < 0.5
                participants.append(
                    {
                        "account_sid": a,
                        "chat_service_sid": isid,
                        "conversation_sid": ch,
                        "sid": mb,
                        "identity": None if sms else r.choice(identities),
                        "attributes": "{}",
                        "messaging_binding": (
                            {"type": "sms", "address": phone(r), "proxy_address": phone(r)} if sms else None
                        ),
                        "role_sid": roles[3],
                        "date_created": iso(ccreated + m),
                        "date_updated": iso(ccreated + m),
                        "url": f"{cbase}/Participants/{mb}",
                        "last_read_message_index": None,
                        "last_read_timestamp": None,
                    }
                )
            out["conversation_participants"] += participants
            last = ccreated
            for index, mcreated in enumerate(
                _spread(r, ccreated + 60, min(account.t_end, ccreated + 3 * DAY), r.randint(0, 10))
            ):
                out["conversation_messages"].append(gen_message(a, conversation, participants, index, mcreated, r=r))
                last = mcreated
            conversation["date_updated"] = iso(last)
    return out


def gen_message(
    account_sid: str, conversation: Record, participants: list[Record], index: int, created: int, *, r: random.Random
) -> Record:
    """One conversation message; its author is one of the conversation's participants."""
    author = participants[index % len(participants)] if participants else None
    ch = conversation["sid"]
    im = make_sid("IM", account_sid, ch, "message", index, created)
    url = f"{conversation['url']}/Messages/{im}"
    return {
        "account_sid": account_sid,
        "chat_service_sid": conversation["chat_service_sid"],
        "conversation_sid": ch,
        "sid": im,
        "index": index,
        "author": (author.get("identity") or (author.get("messaging_binding") or {}).get("address"))
        if author
        else None,
        "body": f"About my {r.choice(_WORDS)}: {r.choice(_WORDS)} {r.choice(_WORDS)}",
        "media": None,
        "attributes": "{}",
        "participant_sid": author["sid"] if author else None,
        "date_created": iso(created),
        "date_updated": iso(created),
        "delivery": None,
        "url": url,
        "links": {"delivery_receipts": f"{url}/Receipts", "channel_metadata": f"{url}/ChannelMetadata"},
        "content_sid": None,
    }


_WIDGETS = (
    ("Trigger", "trigger"),
    ("greeting", "say-play"),
    ("gather_input", "gather-input-on-call"),
    ("send_sms", "send-message"),
    ("split_reply", "split-based-on"),
    ("connect_agent", "connect-call-to"),
)


def gen_studio(seed: Any, account: AccountLike) -> dict[str, list[Record]]:
    """Studio flows, their executions in the account's history (the newest still active), and steps."""
    a = account.sid
    r = rng(seed, a, "studio")
    host = "https://studio.twilio.com/v2"
    out: dict[str, list[Record]] = {"studio_flows": [], "studio_executions": [], "studio_execution_steps": []}
    names = ("IVR main menu", "SMS survey", "Appointment reminder", "After-hours")
    for k, created in enumerate(
        _spread(r, account.t_start, account.t_start + 10 * DAY, 3 if account.index == 0 else 2)
    ):
        fw = make_sid("FW", seed, a, "flow", k)
        fbase = f"{host}/Flows/{fw}"
        revision = r.randint(1, 6)
        out["studio_flows"].append(
            {
                "sid": fw,
                "account_sid": a,
                "author_sid": make_sid("US", seed, a, "author"),
                "friendly_name": names[k % len(names)],
                "definition": {
                    "description": names[k % len(names)],
                    "flags": {"allow_concurrent_calls": True},
                    "initial_state": "Trigger",
                    "states": [{"name": n, "type": t, "properties": {}, "transitions": []} for n, t in _WIDGETS[:4]],
                },
                "status": "published",
                "revision": revision,
                "commit_message": f"revision {revision}",
                "valid": True,
                "errors": [],
                "warnings": [],
                "date_created": iso(created),
                "date_updated": iso(created + r.randint(0, 5 * DAY)),
                "webhook_url": f"https://webhooks.twilio.com/v1/Accounts/{a}/Flows/{fw}",
                "url": fbase,
                "links": {
                    "revisions": f"{fbase}/Revisions",
                    "test_users": f"{fbase}/TestUsers",
                    "executions": f"{fbase}/Executions",
                },
            }
        )
        n_exec = r.randint(10, 25)
        for j, ecreated in enumerate(
            _spread(r, max(created + 60, account.t_end - 30 * DAY), account.t_end - 60, n_exec)
        ):
            fn = make_sid("FN", seed, a, fw, "execution", j)
            ebase = f"{fbase}/Executions/{fn}"
            active = ecreated > account.t_end - 1800
            n_steps = r.randint(2, 5)
            ended = ecreated + n_steps * r.randint(5, 60)
            contact = phone(r)
            out["studio_executions"].append(
                {
                    "sid": fn,
                    "account_sid": a,
                    "flow_sid": fw,
                    "contact_channel_address": contact,
                    "contact_sid": make_sid("FC", seed, a, contact),
                    "flow_version": revision,
                    "context": {"trigger": {"message": {"From": contact, "Body": r.choice(_WORDS)}}},
                    "status": "active" if active else "ended",
                    "date_created": iso(ecreated),
                    "date_updated": iso(ecreated if active else ended),
                    "initiated_by": contact,
                    "url": ebase,
                    "links": {"steps": f"{ebase}/Steps", "execution_context": f"{ebase}/Context"},
                }
            )
            previous = None
            for s in range(n_steps):
                ft = make_sid("FT", seed, a, fn, "step", s)
                name, typ = _WIDGETS[s % len(_WIDGETS)]
                nxt = _WIDGETS[(s + 1) % len(_WIDGETS)][0] if s + 1 < n_steps else "Ended"
                at = ecreated + s * 5
                out["studio_execution_steps"].append(
                    {
                        "sid": ft,
                        "account_sid": a,
                        "flow_sid": fw,
                        "execution_sid": fn,
                        "parent_step_sid": None,
                        "name": name,
                        "context": {"widgets": {name: {"status": "ok"}}},
                        "transitioned_from": previous or "Trigger",
                        "transitioned_to": nxt,
                        "type": typ,
                        "date_created": iso(at),
                        "date_updated": iso(at),
                        "url": f"{ebase}/Steps/{ft}",
                        "links": {"step_context": f"{ebase}/Steps/{ft}/Context"},
                    }
                )
                previous = name
    return out


def gen_verify(seed: Any, account: AccountLike) -> dict[str, list[Record]]:
    """Verify services and the account's verification attempts (their cost)."""
    a = account.sid
    r = rng(seed, a, "verify")
    host = "https://verify.twilio.com/v2"
    services = []
    for k, created in enumerate(_spread(r, account.t_start, account.t_start + 3 * DAY, 2 if account.index == 0 else 1)):
        va = make_sid("VA", seed, a, "verify-service", k)
        base = f"{host}/Services/{va}"
        services.append(
            {
                "sid": va,
                "account_sid": a,
                "friendly_name": ("Login OTP", "Checkout OTP")[k % 2],
                "code_length": 6,
                "lookup_enabled": False,
                "psd2_enabled": False,
                "skip_sms_to_landlines": False,
                "dtmf_input_required": True,
                "tts_name": None,
                "do_not_share_warning_enabled": False,
                "custom_code_enabled": False,
                "push": {"include_date": False, "apn_credential_sid": None, "fcm_credential_sid": None},
                "totp": {"issuer": None, "time_step": 30, "code_length": 6, "skew": 1},
                "default_template_sid": None,
                "whatsapp": {"msg_service_sid": None, "from": None},
                "passkeys": None,
                "verify_event_subscription_enabled": False,
                "date_created": iso(created),
                "date_updated": iso(created),
                "url": base,
                "links": {
                    "verifications": f"{base}/Verifications",
                    "verification_checks": f"{base}/VerificationCheck",
                    "rate_limits": f"{base}/RateLimits",
                    "messaging_configurations": f"{base}/MessagingConfigurations",
                    "entities": f"{base}/Entities",
                    "webhooks": f"{base}/Webhooks",
                    "access_tokens": f"{base}/AccessTokens",
                },
            }
        )
    attempts = [
        gen_attempt(seed, a, services, j, created, r=r)
        for j, created in enumerate(
            _spread(r, account.t_start + 3 * DAY, account.t_end, 40 if account.index == 0 else 15)
        )
    ]
    return {"verify_services": services, "verify_attempts": attempts}


def gen_attempt(seed: Any, a: str, services: list[Record], j: int, created: int, *, r: random.Random) -> Record:
    """One verification attempt."""
    vl = make_sid("VL", seed, a, "attempt", j, created)
    channel = r.choice(("sms", "sms", "sms", "call", "whatsapp"))
    converted = r.random() < 0.8
    to = phone(r)
    return {
        "sid": vl,
        "account_sid": a,
        "service_sid": services[j % len(services)]["sid"] if services else make_sid("VA", seed, a, "none"),
        "verification_sid": make_sid("VE", seed, a, "verification", j, created),
        "date_created": iso(created),
        "date_updated": iso(created + (r.randint(10, 120) if converted else 0)),
        "conversion_status": "converted" if converted else "unconverted",
        "channel": channel,
        "price": {"value": "0.05" if channel != "whatsapp" else "0.0147", "currency": "usd"},
        "channel_data": {"to": to, "status": "delivered" if channel != "call" else "completed", "country": "US"},
        "url": f"https://verify.twilio.com/v2/Attempts/{vl}",
    }


def gen_messaging(seed: Any, account: AccountLike) -> dict[str, list[Record]]:
    """Messaging services (sender pools) and their phone numbers."""
    a = account.sid
    r = rng(seed, a, "messaging")
    host = "https://messaging.twilio.com/v1"
    services, numbers = [], []
    for k, created in enumerate(_spread(r, account.t_start, account.t_start + 5 * DAY, 2)):
        mg = make_sid("MG", seed, a, "messaging-service", k)
        base = f"{host}/Services/{mg}"
        services.append(
            {
                "sid": mg,
                "account_sid": a,
                "friendly_name": ("Notifications", "Marketing")[k],
                "date_created": iso(created),
                "date_updated": iso(created + r.randint(0, DAY)),
                "inbound_request_url": None,
                "inbound_method": "POST",
                "fallback_url": None,
                "fallback_method": "POST",
                "status_callback": "https://example.com/status",
                "sticky_sender": True,
                "mms_converter": True,
                "smart_encoding": True,
                "scan_message_content": "inherit",
                "fallback_to_long_code": True,
                "area_code_geomatch": True,
                "synchronous_validation": False,
                "validity_period": 14400,
                "url": base,
                "links": {
                    "phone_numbers": f"{base}/PhoneNumbers",
                    "short_codes": f"{base}/ShortCodes",
                    "alpha_senders": f"{base}/AlphaSenders",
                    "messages": f"{base}/Messages",
                    "us_to_person": f"{base}/Compliance/Usa2p",
                    "us_to_person_usecases": f"{base}/Compliance/Usa2p/Usecases",
                    "channel_senders": f"{base}/ChannelSenders",
                },
                "usecase": ("notifications", "marketing")[k],
                "us_app_to_person_registered": k == 0,
                "use_inbound_webhook_on_number": False,
            }
        )
        for j in range(r.randint(1, 3)):
            pn = make_sid("PN", seed, a, mg, "number", j)
            at = created + 60 * (j + 1)
            numbers.append(
                {
                    "sid": pn,
                    "account_sid": a,
                    "service_sid": mg,
                    "date_created": iso(at),
                    "date_updated": iso(at),
                    "phone_number": phone(r),
                    "country_code": "US",
                    "capabilities": ["SMS", "MMS", "Voice"] if r.random() < 0.7 else ["SMS"],
                    "url": f"{base}/PhoneNumbers/{pn}",
                }
            )
    return {"messaging_services": services, "messaging_service_phone_numbers": numbers}


def gen_trunking(seed: Any, account: AccountLike) -> dict[str, list[Record]]:
    """Elastic SIP trunks."""
    a = account.sid
    r = rng(seed, a, "trunking")
    trunks: list[Record] = []
    for k, created in enumerate(_spread(r, account.t_start, account.t_start + 5 * DAY, 2)):
        tk = make_sid("TK", seed, a, "trunk", k)
        base = f"https://trunking.twilio.com/v1/Trunks/{tk}"
        trunks.append(
            {
                "account_sid": a,
                "domain_name": f"sandbox-{tk[2:10]}.pstn.twilio.com",
                "disaster_recovery_method": "POST",
                "disaster_recovery_url": None,
                "friendly_name": ("PBX main office", "Contact center")[k],
                "secure": False,
                "recording": {"mode": "do-not-record", "trim": "do-not-trim"},
                "transfer_mode": "disable-all",
                "transfer_caller_id": "from-transferee",
                "cnam_lookup_enabled": False,
                "auth_type": "",
                "symmetric_rtp_enabled": False,
                "auth_type_set": [],
                "date_created": iso(created),
                "date_updated": iso(created + r.randint(0, DAY)),
                "sid": tk,
                "url": base,
                "links": {
                    "origination_urls": f"{base}/OriginationUrls",
                    "credential_lists": f"{base}/CredentialLists",
                    "ip_access_control_lists": f"{base}/IpAccessControlLists",
                    "phone_numbers": f"{base}/PhoneNumbers",
                    "recording": f"{base}/Recording",
                },
            }
        )
    return {"trunks": trunks}


_EVENTS = (
    ("account.updated", "account", "AC"),
    ("phone-number.updated", "phone-number", "PN"),
    ("phone-number.created", "phone-number", "PN"),
    ("api-key.created", "api-key", "SK"),
    ("application.updated", "application", "AP"),
    ("user.login", "user", "US"),
)


def gen_events(seed: Any, account: AccountLike) -> dict[str, list[Record]]:
    """Monitor events (the audit trail) over the account's last 40 days; the API shows the last 30."""
    a = account.sid
    r = rng(seed, a, "events")
    events = []
    n = 40 if account.index == 0 else 12
    for j, at in enumerate(_spread(r, max(account.t_start, account.t_end - 40 * DAY), account.t_end, n)):
        events.append(gen_event(seed, a, j, at, r))
    return {"monitor_events": events}


def gen_event(seed: Any, a: str, j: int, at: int, r: random.Random) -> Record:
    """One Monitor event."""
    ae = make_sid("AE", seed, a, "event", j, at)
    typ, resource_type, prefix = r.choice(_EVENTS)
    resource_sid = a if prefix == "AC" else make_sid(prefix, seed, a, resource_type, r.randint(0, 5))
    actor = make_sid("US", seed, a, "actor", r.randint(0, 2))
    return {
        "account_sid": a,
        "actor_sid": actor,
        "actor_type": "user",
        "description": None,
        "event_data": {"friendly_name": {"previous": "old name", "updated": "new name"}},
        "event_date": iso(at),
        "event_type": typ,
        "resource_sid": resource_sid,
        "resource_type": resource_type,
        "sid": ae,
        "source": r.choice(("web", "api")),
        "source_ip_address": f"203.0.113.{r.randint(1, 254)}",
        "url": f"https://monitor.twilio.com/v1/Events/{ae}",
        "links": {
            "actor": f"https://api.twilio.com/2010-04-01/Accounts/{a}",
            "resource": f"https://api.twilio.com/2010-04-01/Accounts/{a}",
        },
    }


def fresh_template(seed: Any, account: AccountLike, resource: str, data: dict[str, list[Record]]) -> Record:
    """A record for ``add_record`` when the account has none of that resource yet."""
    r = rng(seed, account.sid, resource, "fresh")
    if resource == "verify_attempts":
        return gen_attempt(seed, account.sid, data.get("verify_services", []), 0, 0, r=r)
    return gen_event(seed, account.sid, 0, 0, r)


_PRICING_HOST = "https://pricing.twilio.com"


def pricing_list(resource: str) -> list[Record]:
    """The countries list of one pricing API (alphabetical by name, like Twilio)."""
    path = LISTS[resource].path
    return [
        {"country": name, "iso_country": code, "url": f"{_PRICING_HOST}{path}/{code}"}
        for code, name, *_ in sorted(COUNTRIES, key=lambda c: c[1])
    ]


def pricing_details(resource: str) -> list[Record]:
    """Each country's detail record of one pricing API, in list order."""
    out = []
    for item in pricing_list(resource):
        code = item["iso_country"]
        _, name, voice, sms, number = next(c for c in COUNTRIES if c[0] == code)
        rec: Record = {"country": name, "iso_country": code}
        if resource == "pricing_voice_countries":
            rec["outbound_prefix_prices"] = [
                {
                    "origination_prefixes": ["ALL"],
                    "destination_prefixes": [prefix],
                    "base_price": price,
                    "current_price": price,
                    "friendly_name": f"Programmable Outbound Minute - {name} - {kind}",
                }
                for prefix, kind, price in ((code, "Other", voice), (code + "7", "Mobile", _times(voice, 2)))
            ]
            rec["inbound_call_prices"] = [
                {"base_price": "0.0085", "current_price": "0.0085", "number_type": "local"},
                {"base_price": "0.0220", "current_price": "0.0220", "number_type": "toll free"},
            ]
        elif resource == "pricing_messaging_countries":
            rec["outbound_sms_prices"] = [
                {
                    "carrier": carrier,
                    "mcc": "310",
                    "mnc": mnc,
                    "prices": [{"base_price": sms, "current_price": sms, "number_type": "local"}],
                }
                for carrier, mnc in (("Carrier One", "012"), ("Carrier Two", "260"))
            ]
            rec["inbound_sms_prices"] = [{"base_price": sms, "current_price": sms, "number_type": "local"}]
        else:
            rec["phone_number_prices"] = [
                {"base_price": number, "current_price": number, "number_type": "local"},
                {"base_price": _times(number, 2), "current_price": _times(number, 2), "number_type": "toll free"},
            ]
        rec["price_unit"] = "USD"
        rec["url"] = item["url"]
        out.append(rec)
    return out


def _times(price: str, k: int) -> str:
    return f"{float(price) * k:.4f}"
