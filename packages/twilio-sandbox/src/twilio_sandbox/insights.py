"""Voice Insights v1 in the sandbox: call summaries, conference summaries and their participant summaries.

Derived from the account's 2010 calls and conferences, so sids match. Like Twilio:

* Summaries are kept 30 days; a ``StartTime``/``CreatedAfter`` further back answers 400/20001.
* A call's summary appears 10 minutes after the call ends with ``processing_state`` "partial" and becomes
  "complete" 30 minutes after it ends (move the clock with ``Sandbox.set_now`` to see it settle). A conference
  summary is "in_progress" until 30 minutes after the conference ended, then "complete".
* Participant summaries stay after the conference ended (the 2010 Participants list forgets them).
* ``/v1/Voice/Summaries`` filters: ``StartTime``/``EndTime`` (ISO or relative ``4h``/``30m``/``3d``/``1w``; defaults
  4h and 0m) on the call's start, ``ProcessingState`` (``completed`` by default; ``partial``, ``all``),
  ``SortBy`` (start_time, end_time), ``Subaccount``. ``/v1/Conferences``: ``CreatedAfter``/``CreatedBefore`` (ISO),
  ``Status``, ``Subaccount``.
* Voice Insights Advanced Features is on for every account but the subaccounts in ``disabled_indexes`` (default: the
  second subaccount); their lists answer 403/20403.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from .products import (
    DAY,
    AccountLike,
    Params,
    ProductError,
    Record,
    SandboxLike,
    Served,
    iso,
    make_sid,
    page,
    time_param,
    to_ts,
)

RETENTION_DAYS = 30
PARTIAL_AFTER = 600  # a summary appears about 10 minutes after the call ends
COMPLETE_AFTER = 1800  # and is complete about 30 minutes after
HOST = "https://insights.twilio.com/v1"
RESOURCES = frozenset({"call_summaries", "conference_summaries", "conference_participant_summaries"})
_CONFERENCES = re.compile(r"^/v1/Conferences/?$")
_PARTICIPANTS = re.compile(r"^/v1/Conferences/(?P<conference_sid>CF[0-9a-fA-F]{32})/Participants/?$")
_SUMMARIES = re.compile(r"^/v1/Voice/Summaries/?$")
_CALL_STATE = {
    "completed": "completed",
    "busy": "busy",
    "no-answer": "noanswer",
    "failed": "fail",
    "canceled": "canceled",
}


class StoreLike(Protocol):
    """A 2010 resource store of the sandbox."""

    def iter_desc(self, *, lo: int | None = None) -> Iterator[tuple[Any, Record]]: ...


class InsightsAccount(AccountLike, Protocol):
    """A sandbox account with its 2010 stores."""

    parent: Any
    stores: dict[str, Any]


def _t(value: Any) -> int | None:
    """RFC 2822 (2010 API) or ISO -> epoch seconds."""
    if value is None or value == "":
        return None
    try:
        return to_ts(value)
    except ValueError:
        import email.utils  # noqa: PLC0415 - only 2010 dates need it

        return int(email.utils.parsedate_to_datetime(str(value)).timestamp())


class Insights:
    """The Voice Insights product (a ``ProductApi`` handler)."""

    def __init__(self, sb: SandboxLike, accounts: Callable[[], Sequence[Any]]) -> None:
        """Bind to a sandbox; ``accounts`` lists its accounts (main first)."""
        self.sb = sb
        self._accounts = accounts
        self.disabled_indexes: set[int] = {2}

    def resources(self) -> frozenset[str]:
        """The resources served here."""
        return RESOURCES

    def enabled(self, account: AccountLike) -> bool:
        """Whether the account has Voice Insights Advanced Features."""
        return account.index not in self.disabled_indexes

    def route(self, product: str, path: str) -> tuple[str, Record] | None:
        """``(resource, route)`` for an Insights list path."""
        if product != "insights":
            return None
        if _SUMMARIES.match(path):
            return "call_summaries", {"kind": "product", "resource": "call_summaries"}
        if _CONFERENCES.match(path):
            return "conference_summaries", {"kind": "product", "resource": "conference_summaries"}
        if m := _PARTICIPANTS.match(path):
            return "conference_participant_summaries", {
                "kind": "product",
                "resource": "conference_participant_summaries",
                "conference_sid": m.group("conference_sid"),
            }
        return None

    def dispatch(self, route: Record, params: Params, base_url: str, path: str, account: AccountLike) -> Record:
        """A page of summaries of the authenticated account (or of its ``Subaccount``)."""
        p = dict(params)
        target = self._target(account, p.get("Subaccount"))
        if not self.enabled(target):
            raise ProductError(
                403, 20403, "Voice Insights Advanced Features is not enabled for this account (Forbidden)"
            )
        resource = route["resource"]
        now = self.sb.clock()
        if resource == "call_summaries":
            recs = self._call_summaries(target, p, now)
            return page(base_url + path, params, "call_summaries", 1000, Served(recs), token_of=lambda r: r["call_sid"])
        if resource == "conference_summaries":
            recs = self._conference_summaries(target, p, now)
            return page(
                base_url + path, params, "conferences", 1000, Served(recs), token_of=lambda r: r["conference_sid"]
            )
        conference = next(
            (c for c in self._conferences(target, now) if c["sid"] == route["conference_sid"]),
            None,
        )
        if conference is None:
            raise ProductError(404, 20404, f"The requested resource {path} was not found")
        recs = self._participants(target, conference, now)
        return page(
            base_url + path, params, "participants", 1000, Served(recs), token_of=lambda r: r["participant_sid"]
        )

    def _target(self, account: AccountLike, subaccount: str | None) -> InsightsAccount:
        accounts = list(self._accounts())
        me = next(a for a in accounts if a.sid == account.sid)
        if not subaccount:
            return me  # type: ignore[no-any-return]
        for other in accounts:
            if other.sid == subaccount and (other is me or (me.index == 0 and other.parent is me)):
                return other  # type: ignore[no-any-return]
        raise ProductError(403, 20003, "Permission Denied")

    # ------------------------------------------------------------------ summaries
    def _call_summaries(self, account: InsightsAccount, p: dict[str, str], now: int) -> list[Record]:
        keep = now - RETENTION_DAYS * DAY
        lo = time_param(p, "StartTime", now, relative=True)
        hi = time_param(p, "EndTime", now, end=True, relative=True)
        lo = now - 4 * 3600 if lo is None else lo
        hi = now if hi is None else hi
        if lo < keep - keep % DAY:
            raise ProductError(400, 20001, "StartTime: Call Summaries are kept for 30 days")
        wanted = p.get("ProcessingState", "completed").lower()
        if wanted not in ("completed", "complete", "partial", "started", "all"):
            raise ProductError(400, 20001, f"Invalid ProcessingState: {wanted}")
        out = []
        for _, call in account.stores["calls"].iter_desc(lo=max(lo, keep) - 1):
            summary = call_summary(call, now)
            if summary is None or not (lo <= (_t(call.get("start_time")) or 0) <= hi):
                continue
            state = summary["processing_state"]
            if wanted in ("all", state) or (wanted in ("completed", "complete") and state == "complete"):
                out.append(summary)
                continue
            if wanted == "started" and state == "partial":
                out.append(summary)
        field = "end_time" if p.get("SortBy") == "end_time" else "start_time"
        out.sort(key=lambda r: (to_ts(r[field]) or 0, r["call_sid"]), reverse=True)
        return out

    def _conferences(self, account: InsightsAccount, now: int) -> list[Record]:
        keep = now - RETENTION_DAYS * DAY
        return [conf for _, conf in account.stores["conferences"].iter_desc(lo=keep)]

    def _conference_summaries(self, account: InsightsAccount, p: dict[str, str], now: int) -> list[Record]:
        keep = now - RETENTION_DAYS * DAY
        lo = time_param(p, "CreatedAfter", now)
        hi = time_param(p, "CreatedBefore", now, end=True)
        if lo is not None and lo < keep - keep % DAY:
            raise ProductError(400, 20001, "CreatedAfter: Conference Summaries are kept for 30 days")
        out = []
        for conf in self._conferences(account, now):
            summary = conference_summary(conf, now)
            created = _t(conf.get("date_created")) or 0
            if (lo is not None and created < lo) or (hi is not None and created > hi):
                continue
            if p.get("Status") and summary["status"] != p["Status"]:
                continue
            out.append(summary)
        out.sort(key=lambda r: (to_ts(r["create_time"]) or 0, r["conference_sid"]), reverse=True)
        return out

    def _participants(self, account: InsightsAccount, conference: Record, now: int) -> list[Record]:
        del account
        return participant_summaries(conference, now)

    # ------------------------------------------------------------------ python API
    def expected(self, resource: str, account_sid: str | None) -> list[Record]:
        """Summaries as served now: every one kept (30 days), all processing states; none for disabled accounts."""
        now = self.sb.clock()
        accounts = [a for a in self._accounts() if account_sid is None or a.sid == account_sid]
        out: list[Record] = []
        for account in accounts:
            if not self.enabled(account):
                continue
            if resource == "call_summaries":
                start = iso(now - RETENTION_DAYS * DAY + DAY) or ""
                out += self._call_summaries(account, {"StartTime": start, "ProcessingState": "all"}, now)
            elif resource == "conference_summaries":
                out += self._conference_summaries(account, {}, now)
            else:
                for conf in self._conferences(account, now):
                    out += participant_summaries(conf, now)
        return copy.deepcopy(out)


def _state(ended: int | None, now: int, *, partial: str) -> str | None:
    if ended is None or now - ended < PARTIAL_AFTER:
        return None
    return "complete" if now - ended >= COMPLETE_AFTER else partial


def call_summary(call: Record, now: int) -> Record | None:
    """The Insights summary of a 2010 call, or None while the call runs or within 10 minutes of its end."""
    ended = _t(call.get("end_time"))
    state = _state(ended, now, partial="partial")
    if state is None:
        return None
    started = _t(call.get("start_time")) or _t(call.get("date_created")) or 0
    r = random.Random(call["sid"])
    inbound = call.get("direction") == "inbound"
    complete = state == "complete"
    duration = int(call.get("duration") or 0)
    return {
        "account_sid": call["account_sid"],
        "call_sid": call["sid"],
        "answered_by": "human" if call.get("status") == "completed" else "unknown",
        "call_type": "carrier",
        "call_state": _CALL_STATE.get(str(call.get("status")), "completed"),
        "processing_state": state,
        "created_time": iso(_t(call.get("date_created")) or started),
        "start_time": iso(started),
        "end_time": iso(ended),
        "duration": max(duration, (ended or started) - started),
        "connect_duration": duration,
        "from": {
            "caller": call.get("from"),
            "carrier": "Sandbox Wireless",
            "connection": "mobile",
            "country_code": "US",
        },
        "to": {"callee": call.get("to"), "carrier": "Sandbox Telecom", "connection": "landline", "country_code": "US"},
        "carrier_edge": (
            {
                "properties": {
                    "media_region": "us1",
                    "signaling_region": "us1",
                    "direction": "inbound" if inbound else "outbound",
                },
                "metrics": {
                    "inbound": {
                        "codec_name": "pcmu",
                        "packets_received": r.randint(100, 9000),
                        "packets_lost": r.randint(0, 5),
                    }
                },
            }
            if complete
            else None
        ),
        "client_edge": None,
        "sdk_edge": None,
        "sip_edge": None,
        "tags": (["high_jitter"] if r.random() < 0.1 else []) if complete else None,
        "url": f"{HOST}/Voice/{call['sid']}/Summary",
        "attributes": {"conference_participant": False},
        "properties": {"direction": "inbound" if inbound else "outbound_api", "disconnected_by": "callee"}
        if complete
        else None,
        "trust": None,
        "annotation": None,
    }


_CONF_STATUS = {"completed": "completed", "in-progress": "in_progress", "init": "not_started"}


def _conference_end(conf: Record) -> int | None:
    return _t(conf.get("date_updated")) if conf.get("status") == "completed" else None


def conference_summary(conf: Record, now: int) -> Record:
    """The Insights summary of a 2010 conference."""
    created = _t(conf.get("date_created")) or 0
    ended = _conference_end(conf)
    complete = ended is not None and now - ended >= COMPLETE_AFTER
    n = _n_participants(conf)
    cf = conf["sid"]
    return {
        "conference_sid": cf,
        "account_sid": conf["account_sid"],
        "friendly_name": conf.get("friendly_name"),
        "create_time": iso(created),
        "start_time": iso(created + 2),
        "end_time": iso(ended),
        "duration_seconds": None if ended is None else ended - created,
        "connect_duration_seconds": None if ended is None else max(0, ended - created - 2),
        "status": _CONF_STATUS.get(str(conf.get("status")), "completed"),
        "max_participants": 250,
        "max_concurrent_participants": n,
        "unique_participants": n,
        "end_reason": "last_participant_left" if ended is not None else None,
        "ended_by": make_sid("CA", cf, "participant", n - 1) if ended is not None else None,
        "mixer_region": conf.get("region") or "us1",
        "mixer_region_requested": None,
        "recording_enabled": False,
        "detected_issues": {"call_quality": 0, "region_configuration": 0, "participant_behavior": 0},
        "tags": None,
        "tag_info": None,
        "processing_state": "complete" if complete else "in_progress",
        "url": f"{HOST}/Conferences/{cf}",
        "links": {"conference_participants": f"{HOST}/Conferences/{cf}/Participants"},
    }


def _n_participants(conf: Record) -> int:
    return 2 + int(conf["sid"][-2:], 16) % 3


def participant_summaries(conf: Record, now: int) -> list[Record]:
    """Who was in a conference: kept after it ended (newest join first)."""
    cf = conf["sid"]
    created = _t(conf.get("date_created")) or 0
    ended = _conference_end(conf)
    complete = ended is not None and now - ended >= COMPLETE_AFTER
    r = random.Random(cf)
    out = []
    for j in range(_n_participants(conf)):
        joined = created + 2 + 5 * j
        left = None if ended is None else max(joined, ended - j)
        out.append(
            {
                "participant_sid": make_sid("CP", cf, "participant", j),
                "label": f"participant {j + 1}",
                "conference_sid": cf,
                "call_sid": make_sid("CA", cf, "participant", j),
                "account_sid": conf["account_sid"],
                "call_direction": "outbound" if j else "inbound",
                "from": f"+1415555{r.randint(0, 9999):04d}",
                "to": f"+1628555{r.randint(0, 9999):04d}",
                "call_status": "completed" if ended is not None else "answered",
                "country_code": "US",
                "is_moderator": j == 0,
                "join_time": iso(joined),
                "leave_time": iso(left),
                "duration_seconds": None if left is None else left - joined,
                "outbound_queue_length": 0,
                "outbound_time_in_queue": 0,
                "jitter_buffer_size": "medium",
                "is_coach": False,
                "coached_participants": None,
                "participant_region": "us1",
                "conference_region": conf.get("region") or "us1",
                "call_type": "carrier",
                "processing_state": "complete" if complete else "in_progress",
                "properties": {"start_conference_on_enter": j == 0, "end_conference_on_exit": j == 0},
                "events": None,
                "metrics": {"inbound": {"jitter": {"avg": round(r.uniform(0.2, 2.0), 3)}}} if complete else None,
                "url": f"{HOST}/Conferences/{cf}/Participants/{make_sid('CP', cf, 'participant', j)}",
            }
        )
    out.sort(key=lambda rec: (to_ts(rec["join_time"]) or 0, rec["participant_sid"]), reverse=True)
    return out
