"""Tests of the Twilio sandbox (the local fake API the tap is tested and benchmarked against)."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import pathlib
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from twilio_sandbox import Faults, Sandbox, ScriptedFault
from twilio_sandbox.__main__ import build_parser

NOW = dt.datetime(2026, 11, 20, 12, 30, 0, tzinfo=dt.timezone.utc)
V = "/2010-04-01"
ENDPOINTS = pathlib.Path(__file__).resolve().parent.parent / "vendor" / "twilio" / "twilio-endpoints.json"


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=7, now=NOW, subaccounts=2, suspended_subaccounts=0) as s:
        yield s


def session(sb: Sandbox, auth=None) -> requests.Session:
    s = requests.Session()
    s.auth = auth or (sb.main_account_sid, sb.main_auth_token)
    return s


def get(s: requests.Session, sb: Sandbox, path: str, **params):
    return s.get(sb.url + path, params=params or None, timeout=10)


def page_all(s: requests.Session, sb: Sandbox, path: str, list_key: str, **params) -> tuple[list[dict], int]:
    r = get(s, sb, path, **params)
    assert r.status_code == 200, r.text
    doc = r.json()
    out = list(doc[list_key])
    pages = 1
    while doc.get("next_page_uri"):
        nxt = doc["next_page_uri"]
        assert nxt.startswith("/"), "next_page_uri must be relative"
        r = s.get(sb.url + nxt, timeout=10)
        assert r.status_code == 200, r.text
        doc = r.json()
        out += doc[list_key]
        pages += 1
    return out, pages


def acct_path(sb: Sandbox, rest: str, acct: str | None = None) -> str:
    return f"{V}/Accounts/{acct or sb.main_account_sid}/{rest}"


def rfc(s: str) -> dt.datetime:
    return email.utils.parsedate_to_datetime(s)


# ------------------------------------------------------------------------------------------------ paging


def test_paging_follows_next_page_uri_newest_first(sb):
    s = session(sb)
    recs, pages = page_all(s, sb, acct_path(sb, "Messages.json"), "messages", PageSize=37)
    exp = sb.expected("messages", sb.main_account_sid)
    assert len(exp) == 300
    assert [r["sid"] for r in recs] == [r["sid"] for r in exp]
    assert pages == -(-300 // 37)
    keys = [rfc(r["date_sent"] or r["date_created"]) for r in recs]
    assert keys == sorted(keys, reverse=True)


def test_next_page_uri_repeats_filters_and_token(sb):
    s = session(sb)
    r = s.get(sb.url + acct_path(sb, "Messages.json") + "?DateSent%3E=2026-09-01&PageSize=5", timeout=10)
    doc = r.json()
    nxt = doc["next_page_uri"]
    assert "DateSent%3E=2026-09-01" in nxt and "PageSize=5" in nxt and "Page=1" in nxt
    assert f"PageToken=PA{doc['messages'][-1]['sid']}" in nxt
    assert doc["first_page_uri"].endswith("PageSize=5&Page=0")
    assert doc["previous_page_uri"] is None
    assert (doc["page"], doc["page_size"], doc["start"], doc["end"]) == (0, 5, 0, 4)
    doc2 = s.get(sb.url + nxt, timeout=10).json()
    assert doc2["page"] == 1 and doc2["start"] == 5 and doc2["previous_page_uri"]
    prev = s.get(sb.url + doc2["previous_page_uri"], timeout=10).json()
    assert [m["sid"] for m in prev["messages"]] == [m["sid"] for m in doc["messages"]]


def test_last_page_has_null_next(sb):
    s = session(sb)
    doc = get(s, sb, acct_path(sb, "Messages.json"), PageSize=1000).json()
    assert len(doc["messages"]) == 300 and doc["next_page_uri"] is None


@pytest.mark.parametrize("size", ["1001", "0", "-3"])
def test_page_size_limits(sb, size):
    r = get(session(sb), sb, acct_path(sb, "Calls.json"), PageSize=size)
    assert r.status_code == 400
    assert r.json()["code"] == 20007
    assert "1000" in r.json()["message"]


def test_unknown_path_404(sb):
    r = get(session(sb), sb, acct_path(sb, "Nope.json"))
    assert r.status_code == 404 and r.json()["code"] == 20404
    r = get(session(sb), sb, "/2010-04-01/Whatever")
    assert r.status_code == 404 and r.json()["code"] == 20404


# ------------------------------------------------------------------------------------------------ expected()

LISTS = [
    ("messages", "Messages.json", "messages"),
    ("calls", "Calls.json", "calls"),
    ("recordings", "Recordings.json", "recordings"),
    ("addresses", "Addresses.json", "addresses"),
    ("applications", "Applications.json", "applications"),
    ("incoming_phone_numbers", "IncomingPhoneNumbers.json", "incoming_phone_numbers"),
    ("keys", "Keys.json", "keys"),
    ("outgoing_caller_ids", "OutgoingCallerIds.json", "outgoing_caller_ids"),
    ("queues", "Queues.json", "queues"),
    ("transcriptions", "Transcriptions.json", "transcriptions"),
    ("usage_triggers", "Usage/Triggers.json", "usage_triggers"),
    ("notifications", "Notifications.json", "notifications"),
    ("sip_domains", "SIP/Domains.json", "domains"),
    ("sip_credential_lists", "SIP/CredentialLists.json", "credential_lists"),
    ("sip_ip_access_control_lists", "SIP/IpAccessControlLists.json", "ip_access_control_lists"),
    ("short_codes", "SMS/ShortCodes.json", "short_codes"),
    ("signing_keys", "SigningKeys.json", "signing_keys"),
]


def test_expected_matches_paging_for_every_resource(sb):
    s = session(sb)
    for acct in sb.account_sids:
        for res, seg, key in LISTS:
            got, _ = page_all(s, sb, acct_path(sb, seg, acct), key, PageSize=1000)
            assert got == sb.expected(res, acct), res
        confs = []
        for status in ("init", "in-progress", "completed"):
            confs += page_all(s, sb, acct_path(sb, "Conferences.json", acct), "conferences", Status=status)[0]
        exp = sb.expected("conferences", acct)
        assert sorted(c["sid"] for c in confs) == sorted(c["sid"] for c in exp)
        media = []
        for m in sb.expected("messages", acct):
            if m["num_media"] != "0":
                got, _ = page_all(s, sb, acct_path(sb, f"Messages/{m['sid']}/Media.json", acct), "media_list")
                assert len(got) == int(m["num_media"])
                media += got
        assert media == sb.expected("message_media", acct)
        parts = []
        for c in exp:
            path = acct_path(sb, f"Conferences/{c['sid']}/Participants.json", acct)
            parts += page_all(s, sb, path, "participants")[0]
        assert sorted(p["uri"] for p in parts) == sorted(p["uri"] for p in sb.expected("conference_participants", acct))
        deps = []
        for a in sb.expected("addresses", acct):
            deps += page_all(
                s,
                sb,
                acct_path(sb, f"Addresses/{a['sid']}/DependentPhoneNumbers.json", acct),
                "dependent_phone_numbers",
            )[0]
        assert deps == sb.expected("dependent_phone_numbers", acct)
        usage, _ = page_all(
            s,
            sb,
            acct_path(sb, "Usage/Records/Daily.json", acct),
            "usage_records",
            IncludeSubaccounts="false",
            PageSize=200,
        )
        assert usage == sb.expected("usage_records", acct)
        bal = get(s, sb, acct_path(sb, "Balance.json", acct)).json()
        assert [bal] == sb.expected("account_balance", acct)
    accts, _ = page_all(s, sb, f"{V}/Accounts.json", "accounts")
    assert accts == sb.expected("accounts")
    countries = get(s, sb, acct_path(sb, "AvailablePhoneNumbers.json")).json()["countries"]
    assert countries == sb.expected("available_phone_number_countries", sb.main_account_sid)
    for typ, _seg in (("local", "Local"), ("mobile", "Mobile"), ("toll_free", "TollFree")):
        got = []
        for c in countries:
            if typ in c["subresource_uris"]:
                doc = s.get(sb.url + c["subresource_uris"][typ], timeout=10).json()
                assert doc.get("next_page_uri") is None
                got += doc["available_phone_numbers"]
        assert got == sb.expected(f"available_phone_numbers_{typ}")
    alerts = monitor_all(s, sb)
    assert alerts == sb.expected("alerts", sb.main_account_sid)  # the authenticated account's own
    # child lists are realistic: most messages have no media, conferences only have live participants
    assert 0 < len(sb.expected("message_media", sb.main_account_sid)) < 300
    assert sb.expected("conference_participants")
    assert all(
        len(sb.expected(r, sb.main_account_sid)) == n
        for r, n in (
            ("messages", 300),
            ("calls", 200),
            ("recordings", 57),  # 60, of which 3 soft-deleted are listed only with IncludeSoftDeleted=true
            ("conferences", 30),
            ("addresses", 5),
            ("applications", 3),
            ("incoming_phone_numbers", 4),
            ("keys", 2),
            ("outgoing_caller_ids", 2),
            ("queues", 2),
            ("transcriptions", 20),
            ("usage_triggers", 2),
            ("notifications", 25),
            ("sip_domains", 2),
            ("sip_credential_lists", 2),
            ("sip_credentials", 5),
            ("sip_ip_access_control_lists", 2),
            ("sip_ip_addresses", 4),
            ("short_codes", 1),
            ("signing_keys", 2),
        )
    )
    assert len(sb.expected("recordings", sb.main_account_sid, include_soft_deleted=True)) == 60


def test_records_have_every_documented_property(sb):
    spec = {r["name"]: r for r in json.loads(ENDPOINTS.read_text())["resources"]}
    mapping = {
        "accounts": "accounts",
        "account_balance": "balance",
        "addresses": "addresses",
        "dependent_phone_numbers": "dependent_phone_numbers",
        "applications": "applications",
        "available_phone_number_countries": "available_phone_number_countries",
        "available_phone_numbers_local": "available_phone_numbers_local",
        "calls": "calls",
        "conferences": "conferences",
        "conference_participants": "conference_participants",
        "incoming_phone_numbers": "incoming_phone_numbers",
        "keys": "keys",
        "messages": "messages",
        "message_media": "message_media",
        "outgoing_caller_ids": "outgoing_caller_ids",
        "queues": "queues",
        "recordings": "recordings",
        "transcriptions": "transcriptions",
        "usage_records": "usage_records_daily",
        "usage_triggers": "usage_triggers",
        "alerts": "alerts",
        "notifications": "notifications",
        "sip_domains": "sip_domains",
        "sip_credential_lists": "sip_credential_lists",
        "sip_credentials": "sip_credentials",
        "sip_ip_access_control_lists": "sip_ip_access_control_lists",
        "sip_ip_addresses": "sip_ip_addresses",
        "short_codes": "short_codes",
        "signing_keys": "signing_keys",
        "queue_members": "queue_members",
    }
    for ours, theirs in mapping.items():
        recs = sb.expected(ours)
        assert recs, ours
        example = spec[theirs]["example_record"]
        for rec in recs[:50]:
            assert set(rec) == set(example), (ours, set(rec) ^ set(example))
            for k in spec[theirs].get("numeric_strings_in_example", []):
                assert rec[k] is None or isinstance(rec[k], str), (ours, k)
    m = sb.expected("messages")[0]
    assert m["date_created"].endswith(" +0000") and rfc(m["date_created"])
    assert m["subresource_uris"]["media"].endswith("/Media.json")
    a = sb.expected("alerts")[0]
    assert a["date_created"].endswith("Z")


# ------------------------------------------------------------------------------------------------ date filters


def _day_filter(s, sb, res_seg, key, field, **params):
    got, _ = page_all(s, sb, acct_path(sb, res_seg), key, PageSize=1000, **params)
    return {r["sid"] for r in got}


def test_date_filter_inclusive_at_day_boundaries():
    with Sandbox(seed=3, now=NOW, subaccounts=0) as sb:
        s = session(sb)
        midnight = dt.datetime(2026, 10, 5, tzinfo=dt.timezone.utc)
        m = sb.add_record("messages", sb.main_account_sid, date_sent=midnight, date_created=midnight)
        c = sb.add_record(
            "calls",
            sb.main_account_sid,
            start_time=midnight,
            end_time=midnight + dt.timedelta(hours=24),
            date_created=midnight,
        )
        r = sb.add_record("recordings", sb.main_account_sid, date_created=midnight)
        assert m["date_sent"] == "Mon, 05 Oct 2026 00:00:00 +0000"
        for seg, key, field, rec in (
            ("Messages.json", "messages", "DateSent", m),
            ("Calls.json", "calls", "StartTime", c),
            ("Recordings.json", "recordings", "DateCreated", r),
        ):
            sid = rec["sid"]
            assert sid in _day_filter(s, sb, seg, key, field, **{f"{field}>": "2026-10-05"})
            assert sid in _day_filter(s, sb, seg, key, field, **{f"{field}<": "2026-10-05"})
            assert sid in _day_filter(s, sb, seg, key, field, **{field: "2026-10-05"})
            assert sid not in _day_filter(s, sb, seg, key, field, **{f"{field}<": "2026-10-04"})
            assert sid not in _day_filter(s, sb, seg, key, field, **{f"{field}>": "2026-10-06"})
            # a full timestamp counts by its date part
            assert sid in _day_filter(s, sb, seg, key, field, **{f"{field}>": "2026-10-05T23:59:59Z"})
        # calls EndTime: ended at midnight of the 6th
        assert c["sid"] in _day_filter(s, sb, "Calls.json", "calls", "EndTime", **{"EndTime>": "2026-10-06"})
        assert c["sid"] not in _day_filter(s, sb, "Calls.json", "calls", "EndTime", **{"EndTime<": "2026-10-05"})
        # the filter keeps exactly the records of those UTC days
        got, _ = page_all(
            s, sb, acct_path(sb, "Messages.json"), "messages", **{"DateSent>": "2026-10-01", "DateSent<": "2026-10-10"}
        )
        exp = [
            x
            for x in sb.expected("messages")
            if dt.date(2026, 10, 1) <= rfc(x["date_sent"] or x["date_created"]).date() <= dt.date(2026, 10, 10)
        ]
        assert got == exp and exp


def test_calls_end_time_filter_matches_expected(sb):
    s = session(sb)
    got, _ = page_all(
        s, sb, acct_path(sb, "Calls.json"), "calls", **{"EndTime>": "2026-11-01", "EndTime<": "2026-11-10"}
    )
    exp = [
        c
        for c in sb.expected("calls", sb.main_account_sid)
        if dt.date(2026, 11, 1) <= rfc(c["end_time"] or c["date_created"]).date() <= dt.date(2026, 11, 10)
    ]
    assert got == exp and exp


def test_conferences_date_updated_filter(sb):
    s = session(sb)
    got, _ = page_all(
        s, sb, acct_path(sb, "Conferences.json"), "conferences", Status="completed", **{"DateUpdated>": "2026-10-01"}
    )
    exp = [
        c
        for c in sb.expected("conferences", sb.main_account_sid)
        if c["status"] == "completed" and rfc(c["date_updated"]).date() >= dt.date(2026, 10, 1)
    ]
    assert got == exp and exp


def test_null_date_sent_matched_by_date_created():
    with Sandbox(seed=3, now=NOW, subaccounts=0) as sb:
        s = session(sb)
        created = dt.datetime(2026, 10, 7, 15, 0, tzinfo=dt.timezone.utc)
        m = sb.add_record(
            "messages", sb.main_account_sid, status="canceled", date_sent=None, date_created=created, price=None
        )
        assert m["date_sent"] is None
        assert m["sid"] in _day_filter(s, sb, "Messages.json", "messages", "DateSent", DateSent="2026-10-07")
        assert m["sid"] not in _day_filter(s, sb, "Messages.json", "messages", "DateSent", DateSent="2026-10-08")
        # generated history also contains never-sent messages, placed by date_created
        nulls = [x for x in sb.expected("messages") if x["date_sent"] is None]
        assert nulls
        day = rfc(nulls[0]["date_created"]).date().isoformat()
        assert nulls[0]["sid"] in _day_filter(s, sb, "Messages.json", "messages", "DateSent", DateSent=day)


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01", "20261001"])
def test_invalid_date_is_400_20001(sb, value):
    r = get(session(sb), sb, acct_path(sb, "Messages.json"), **{"DateSent>": value})
    assert r.status_code == 400 and r.json()["code"] == 20001


def test_retention_window_20004(sb):
    s = session(sb)
    old = (NOW - dt.timedelta(days=401)).date().isoformat()
    for seg in ("Messages.json", "Recordings.json"):
        field = "DateSent" if seg == "Messages.json" else "DateCreated"
        r = get(s, sb, acct_path(sb, seg), **{f"{field}>": old})
        assert r.status_code == 400 and r.json()["code"] == 20004
        ok = (NOW - dt.timedelta(days=399)).date().isoformat()
        assert get(s, sb, acct_path(sb, seg), **{f"{field}>": ok}).status_code == 200


def test_conferences_default_to_in_progress(sb):
    s = session(sb)
    default, _ = page_all(s, sb, acct_path(sb, "Conferences.json"), "conferences")
    assert default and {c["status"] for c in default} == {"in-progress"}
    completed, _ = page_all(s, sb, acct_path(sb, "Conferences.json"), "conferences", Status="completed")
    assert completed and {c["status"] for c in completed} == {"completed"}
    assert len(default) + len(completed) < len(sb.expected("conferences", sb.main_account_sid))
    # participants: only live conferences have them; primary key uri; conference_sid and call_sid present
    parts = sb.expected("conference_participants", sb.main_account_sid)
    assert parts and all(
        p["conference_sid"] and p["call_sid"] and p["uri"].endswith(p["call_sid"] + ".json") for p in parts
    )
    live = {c["sid"] for c in sb.expected("conferences", sb.main_account_sid) if c["status"] != "completed"}
    assert {p["conference_sid"] for p in parts} <= live


# ------------------------------------------------------------------------------------------------ auth


def test_wrong_auth_401(sb):
    for auth in ((sb.main_account_sid, "0" * 32), ("ACnope", "x"), None):
        s = requests.Session()
        if auth:
            s.auth = auth
        r = s.get(sb.url + acct_path(sb, "Messages.json"), timeout=10)
        assert r.status_code == 401
        assert r.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
        assert "WWW-Authenticate" in r.headers


def test_api_keys(sb):
    std = session(sb, sb.api_keys["standard"])
    main = session(sb, sb.api_keys["main"])
    for path in (f"{V}/Accounts.json", f"{V}/Accounts/{sb.main_account_sid}.json", acct_path(sb, "Keys.json")):
        r = std.get(sb.url + path, timeout=10)
        assert r.status_code == 403 and r.json()["code"] == 20003
        assert main.get(sb.url + path, timeout=10).status_code == 200
    assert std.get(sb.url + acct_path(sb, "Messages.json"), timeout=10).status_code == 200
    assert std.get(sb.url + "/v1/Alerts", timeout=10).status_code == 200
    # a main account's key lists and fetches subaccounts, but reaches only the main account's resources
    sub = sb.account_sids[1]
    assert main.get(sb.url + f"{V}/Accounts/{sub}.json", timeout=10).status_code == 200
    r = main.get(sb.url + acct_path(sb, "Calls.json", sub), timeout=10)
    assert r.status_code == 403 and r.json()["code"] == 20003
    assert (
        session(sb, (sb.main_account_sid, sb.main_auth_token))
        .get(sb.url + acct_path(sb, "Calls.json", sub), timeout=10)
        .status_code
        == 200
    )
    keys = {k["sid"] for k in sb.expected("keys", sb.main_account_sid)}
    assert {sb.api_keys["main"][0], sb.api_keys["standard"][0]} <= keys


def test_subaccount_credentials_and_statuses():
    with Sandbox(seed=5, now=NOW, subaccounts=3, suspended_subaccounts=1) as sb:
        sub1, sub2, sub3 = sb.account_sids[1:]
        tok = next(a["auth_token"] for a in sb.expected("accounts") if a["sid"] == sub1)
        s = session(sb, (sub1, tok))
        accts = get(s, sb, f"{V}/Accounts.json").json()["accounts"]
        assert [a["sid"] for a in accts] == [sub1]
        assert get(s, sb, acct_path(sb, "Messages.json", sub1)).status_code == 200
        assert get(s, sb, acct_path(sb, "Messages.json", sb.main_account_sid)).status_code == 403
        m = session(sb)
        statuses = {a["sid"]: a["status"] for a in get(m, sb, f"{V}/Accounts.json").json()["accounts"]}
        assert statuses[sub3] == "suspended"
        r = get(m, sb, acct_path(sb, "Messages.json", sub3))
        assert r.status_code == 403 and r.json()["code"] == 20005
        sb.update_record("accounts", sub2, status="closed")
        r = get(m, sb, acct_path(sb, "Messages.json", sub2))
        assert r.status_code == 404 and r.json()["code"] == 20404
        assert get(m, sb, f"{V}/Accounts/{sub2}.json").json()["status"] == "closed"
        assert [a["sid"] for a in get(m, sb, f"{V}/Accounts.json", Status="closed").json()["accounts"]] == [sub2]
        sb.forbidden_accounts.add(sub1)
        assert get(m, sb, acct_path(sb, "Calls.json", sub1)).status_code == 403
        assert set(sb.secrets()) >= {sb.main_auth_token, tok, sb.api_keys["main"][1], sb.api_keys["standard"][1]}


# ------------------------------------------------------------------------------------------------ monitor


def monitor_all(s, sb, **params) -> list[dict]:
    r = s.get(sb.url + "/v1/Alerts", params={"PageSize": 7, **params}, timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    out = list(doc["alerts"])
    while doc["meta"]["next_page_url"]:
        url = doc["meta"]["next_page_url"]
        assert url.startswith(sb.url + "/v1/Alerts?"), url
        doc = s.get(url, timeout=10).json()
        assert doc["meta"]["key"] == "alerts"
        out += doc["alerts"]
    return out


def test_monitor_alerts_paging_and_window(sb):
    s = session(sb)
    r = s.get(sb.url + "/v1/Alerts", params={"PageSize": 5}, timeout=10).json()
    meta = r["meta"]
    assert set(meta) == {"page", "page_size", "first_page_url", "previous_page_url", "url", "next_page_url", "key"}
    assert meta["first_page_url"].startswith("http://127.0.0.1:") and meta["next_page_url"].startswith(sb.url)
    alerts = monitor_all(s, sb)
    assert alerts == sb.expected("alerts", sb.main_account_sid)
    cutoff = NOW - dt.timedelta(days=30)
    assert all(dt.datetime.fromisoformat(a["date_created"].replace("Z", "+00:00")) >= cutoff for a in alerts)
    assert 10 < len(alerts) < 40  # some of the 40 generated alerts are older than 30 days
    start = (NOW - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = monitor_all(s, sb, StartDate=start, EndDate=NOW.date().isoformat())
    assert recent == [a for a in alerts if a["date_created"] >= start]
    r = s.get(sb.url + "/v1/Alerts", params={"StartDate": (NOW - dt.timedelta(days=31)).date().isoformat()}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == 20001 and "30 days" in r.json()["message"]
    errors = monitor_all(s, sb, LogLevel="error")
    assert errors and all(a["log_level"] == "error" for a in errors)


def test_set_now_moves_alert_window_and_today_usage():
    with Sandbox(seed=2, now=NOW, subaccounts=0) as sb:
        n0 = len(sb.expected("alerts"))
        s = session(sb)
        today = NOW.date().isoformat()
        row0 = get(s, sb, acct_path(sb, "Usage/Records/Daily.json"), StartDate=today, Category="sms").json()
        sb.set_now(NOW + dt.timedelta(hours=6))
        row1 = get(s, sb, acct_path(sb, "Usage/Records/Daily.json"), StartDate=today, Category="sms").json()
        r0, r1 = row0["usage_records"][0], row1["usage_records"][0]
        assert r0["as_of"] == "2026-11-20T12:30:00+00:00" and r1["as_of"] == "2026-11-20T18:30:00+00:00"
        assert int(r1["count"]) >= int(r0["count"])
        sb.set_now(NOW + dt.timedelta(days=20))
        assert len(sb.expected("alerts")) < n0


# ------------------------------------------------------------------------------------------------ usage


def test_usage_include_subaccounts(sb):
    s = session(sb)
    main = sb.main_account_sid
    params = dict(StartDate="2026-11-01", EndDate="2026-11-05", PageSize=1000)
    own, _ = page_all(
        s, sb, acct_path(sb, "Usage/Records/Daily.json"), "usage_records", IncludeSubaccounts="false", **params
    )
    tot, _ = page_all(s, sb, acct_path(sb, "Usage/Records/Daily.json"), "usage_records", **params)
    assert len(own) == len(tot) == 5 * 5
    assert {r["start_date"] for r in own} == {f"2026-11-0{d}" for d in range(1, 6)}
    assert all(r["start_date"] == r["end_date"] for r in own)
    subs = {}
    for acct in sb.account_sids[1:]:
        rows, _ = page_all(s, sb, acct_path(sb, "Usage/Records/Daily.json", acct), "usage_records", **params)
        rows_f, _ = page_all(
            s,
            sb,
            acct_path(sb, "Usage/Records/Daily.json", acct),
            "usage_records",
            IncludeSubaccounts="false",
            **params,
        )
        assert rows == rows_f  # no difference for a subaccount
        subs[acct] = {(r["start_date"], r["category"]): r for r in rows}
    for o, t in zip(own, tot, strict=True):
        assert (o["start_date"], o["category"]) == (t["start_date"], t["category"])
        k = (o["start_date"], o["category"])
        assert int(t["count"]) == int(o["count"]) + sum(int(x[k]["count"]) for x in subs.values())
        assert abs(float(t["price"]) - float(o["price"]) - sum(float(x[k]["price"]) for x in subs.values())) < 1e-4
    assert any(int(t["count"]) > int(o["count"]) for o, t in zip(own, tot, strict=True))
    assert own[0]["account_sid"] == main and own[0]["as_of"] == "2026-11-06T00:00:00+00:00"
    # start before the account existed -> 404 (like Twilio)
    r = get(s, sb, acct_path(sb, "Usage/Records/Daily.json"), StartDate="2020-01-01")
    assert r.status_code == 404 and r.json()["code"] == 20404


# ------------------------------------------------------------------------------------------------ keyset paging


def test_keyset_paging_stable_when_record_added():
    with Sandbox(seed=4, now=NOW, subaccounts=0) as sb:
        s = session(sb)
        before = [m["sid"] for m in sb.expected("messages")]
        doc = get(s, sb, acct_path(sb, "Messages.json"), PageSize=50).json()
        seen = [m["sid"] for m in doc["messages"]]
        new = sb.add_record("messages", sb.main_account_sid)  # newest record, arrives mid-paging
        sb.add_record("messages", sb.main_account_sid, date_sent=NOW - dt.timedelta(days=80))  # lands in a later page
        while doc["next_page_uri"]:
            doc = s.get(sb.url + doc["next_page_uri"], timeout=10).json()
            seen += [m["sid"] for m in doc["messages"]]
        assert new["sid"] not in seen
        assert [x for x in seen if x in set(before)] == before
        assert len(seen) == len(before) + 1
        assert sb.expected("messages")[0]["sid"] == new["sid"]


def test_update_record_sets_date_updated():
    with Sandbox(seed=4, now=NOW, subaccounts=0) as sb:
        m = sb.expected("messages")[10]
        new = sb.update_record("messages", m["sid"], status="delivered", price="-0.01000")
        assert new["date_updated"] == "Fri, 20 Nov 2026 12:30:00 +0000"
        s = session(sb)
        got = get(s, sb, acct_path(sb, f"Messages/{m['sid']}.json")).json()
        assert got == new
        assert [x["sid"] for x in sb.expected("messages")].count(m["sid"]) == 1
        sid = sb.add_subaccount(friendly_name="late")
        assert sid in sb.account_sids and sb.expected("messages", sid)
        media = sb.add_record("message_media", sb.main_account_sid, parent_sid=m["sid"])
        assert media["parent_sid"] == m["sid"]
        got = page_all(s, sb, acct_path(sb, f"Messages/{m['sid']}/Media.json"), "media_list")[0]
        assert media["sid"] in {x["sid"] for x in got}
        assert len(got) == int(sb.expected("messages")[10]["num_media"])


# ------------------------------------------------------------------------------------------------ faults


def _raw_get(sb, path, auth):
    """A raw HTTP/1.1 GET returning (status line or '', raw bytes) to observe resets and truncation."""
    tok = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    with socket.create_connection(("127.0.0.1", sb.port), timeout=5) as c:
        c.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {tok}\r\n\r\n".encode())
        data = b""
        while True:
            try:
                chunk = c.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            if b"Content-Length:" in head:
                n = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    break
    return data


def test_scripted_faults_each_kind():
    with Sandbox(seed=1, now=NOW, subaccounts=0) as sb:
        s = session(sb)
        path = acct_path(sb, "Calls.json")
        url = sb.url + path

        def script(kind, times=1):
            sb.faults = Faults(scripted=[ScriptedFault("Calls.json", kind, times)])

        for kind, status, code in (
            ("429", 429, 20429),
            ("500", 500, None),
            ("502", 502, None),
            ("503", 503, None),
            ("504", 504, None),
            ("401", 401, 20003),
            ("403", 403, None),
            ("404", 404, 20404),
        ):
            script(kind)
            r = s.get(url, timeout=10)
            assert r.status_code == status, kind
            if code:
                assert r.json()["code"] == code
            assert r.json()["status"] == status
            assert s.get(url, timeout=10).status_code == 200, kind  # only the first matching request
        script("429-retry-after")
        r = s.get(url, timeout=10)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        script("html")
        r = s.get(url, timeout=10)
        assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html") and b"<html>" in r.content
        script("empty")
        r = s.get(url, timeout=10)
        assert r.status_code == 200 and r.content == b""
        script("truncated")
        r = s.get(url, timeout=10)
        assert r.status_code == 200
        with pytest.raises(ValueError):
            r.json()
        script("missing-list-key")
        r = s.get(url, timeout=10)
        assert r.status_code == 200 and "calls" not in r.json() and "next_page_uri" in r.json()
        script("repeat-next")
        doc = s.get(url + "?PageSize=10&DateCreated%3E=2026-01-01", timeout=10).json()
        assert doc["next_page_uri"] == path + "?PageSize=10&DateCreated%3E=2026-01-01"
        script("stall")
        sb.faults.stall_seconds = 0.3
        t = time.perf_counter()
        assert s.get(url, timeout=10).status_code == 200
        assert time.perf_counter() - t >= 0.3
        script("reset")
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url, auth=s.auth, timeout=10)
        sb.faults = Faults(scripted=[ScriptedFault("Alerts", "repeat-next")])
        doc = s.get(sb.url + "/v1/Alerts", params={"PageSize": 3}, timeout=10).json()
        assert doc["meta"]["next_page_url"] == sb.url + "/v1/Alerts?PageSize=3"
        assert sb.stats.faults["reset"] == 1


def test_random_faults_and_half_body_reset():
    with Sandbox(seed=1, now=NOW, subaccounts=0, faults=Faults(rate_reset=1.0, seed=3)) as sb:
        auth = (sb.main_account_sid, sb.main_auth_token)
        # every request is faulted, the very first /Accounts.json included
        first = _raw_get(sb, f"{V}/Accounts.json", auth)
        head, _, body = first.partition(b"\r\n\r\n")
        assert not first or len(body) < int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        # authentication failures are never faulted (their 401 comes first)
        r = requests.get(sb.url + acct_path(sb, "Calls.json"), auth=(sb.main_account_sid, "bad"), timeout=10)
        assert r.status_code == 401
        kinds = set()
        for _ in range(12):
            data = _raw_get(sb, acct_path(sb, "Calls.json"), auth)
            if not data:
                kinds.add("close")
            else:
                head, _, body = data.partition(b"\r\n\r\n")
                n = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
                assert len(body) < n
                kinds.add("half")
        assert kinds == {"close", "half"}
    f = Faults(rate_429=0.3, rate_5xx=0.3, seed=9)
    with Sandbox(seed=1, now=NOW, subaccounts=0, faults=f) as sb:
        s = session(sb)
        codes = [s.get(sb.url + acct_path(sb, "Keys.json"), timeout=10).status_code for _ in range(60)]
        assert {200, 429} <= set(codes) and set(codes) & {500, 502, 503, 504}
        assert sb.stats.by_status[200] == codes.count(200)
    with Sandbox(seed=1, now=NOW, subaccounts=0, faults=Faults(rate_429=0.3, rate_5xx=0.3, seed=9)) as sb2:
        s = session(sb2)
        assert codes == [s.get(sb2.url + acct_path(sb2, "Keys.json"), timeout=10).status_code for _ in range(60)]


def test_concurrency_limit_429():
    with Sandbox(seed=1, now=NOW, subaccounts=1, concurrency_limit=2, latency_ms=150) as sb:
        auth = (sb.main_account_sid, sb.main_auth_token)
        url = sb.url + acct_path(sb, "Queues.json")

        def one(_):
            r = requests.get(url, auth=auth, timeout=10)
            return r.status_code, (r.json().get("code") if r.status_code != 200 else None)

        with ThreadPoolExecutor(6) as ex:
            res = list(ex.map(one, range(6)))
        assert (429, 20429) in res and (200, None) in res
        assert sb.stats.max_in_flight_per_account[sb.main_account_sid] >= 3
        # another account has its own budget
        sb.reset_stats()
        urls = [sb.url + acct_path(sb, "Queues.json", a) for a in sb.account_sids]
        with ThreadPoolExecutor(4) as ex:
            res = list(ex.map(lambda u: requests.get(u, auth=auth, timeout=10).status_code, urls * 2))
        assert res.count(200) == 4 and sb.stats.max_in_flight >= 3


def test_stats_count_requests_per_account_and_the_mean_in_flight():
    """The benchmarks read requests per account and the time-weighted requests in flight from the sandbox."""
    with Sandbox(seed=1, now=NOW, subaccounts=1, latency_ms=200) as sb:
        auth = (sb.main_account_sid, sb.main_auth_token)
        urls = [sb.url + acct_path(sb, "Queues.json", a) for a in sb.account_sids]
        with ThreadPoolExecutor(4) as ex:  # 3 + 1 requests at once: 4 in flight for ~200 ms
            list(ex.map(lambda u: requests.get(u, auth=auth, timeout=10).status_code, [urls[0]] * 3 + [urls[1]]))
        snap = sb.stats.snapshot()
        assert snap["by_account"] == {urls_account: n for urls_account, n in zip(sb.account_sids, (3, 1), strict=True)}
        mean = snap["in_flight_seconds"] / snap["busy_span_s"]
        assert 1.5 < mean <= 4.0, snap  # about 4 (less when the machine starts the threads late)
        sb.reset_stats()  # one request alone: one in flight
        requests.get(urls[1], auth=auth, timeout=10)
        snap = sb.stats.snapshot()
        assert snap["by_account"] == {sb.account_sids[1]: 1}
        assert snap["in_flight_seconds"] / snap["busy_span_s"] == pytest.approx(1.0)


def test_stats_and_tap_config(sb):
    sb.reset_stats()
    s = session(sb)
    get(s, sb, acct_path(sb, "Messages.json"), PageSize=2)
    get(s, sb, acct_path(sb, "Balance.json"))
    st = sb.stats
    assert st.total == 2 and st.by_resource["messages"] == 1 and st.by_resource["account_balance"] == 1
    assert st.by_status[200] == 2
    assert st.requests[0][0] == "GET" and "Messages.json?PageSize=2" in st.requests[0][1]
    cfg = sb.tap_config(start_date="2026-01-01T00:00:00Z")
    assert cfg["api_url"] == sb.url == cfg["monitor_url"] and cfg["start_date"] == "2026-01-01T00:00:00Z"
    assert sb.tap_config()["start_date"] == "2026-08-21T00:00:00Z"


def test_available_numbers(sb):
    s = session(sb)
    countries = get(s, sb, acct_path(sb, "AvailablePhoneNumbers.json")).json()["countries"]
    de = next(c for c in countries if c["country_code"] == "DE")
    assert set(de["subresource_uris"]) == {"local"}
    r = get(s, sb, acct_path(sb, "AvailablePhoneNumbers/DE/Mobile.json"))
    assert r.status_code == 404 and r.json()["code"] == 20404
    nums = get(s, sb, acct_path(sb, "AvailablePhoneNumbers/US/Local.json")).json()["available_phone_numbers"]
    assert nums and all(isinstance(n["latitude"], str) and n["iso_country"] == "US" for n in nums)


def test_deterministic_and_lazy_scale():
    a = Sandbox(seed=11, now=NOW, subaccounts=1)
    b = Sandbox(seed=11, now=NOW, subaccounts=1)
    assert a.expected("messages") == b.expected("messages") and a.secrets() == b.secrets()
    assert Sandbox(seed=12, now=NOW).expected("messages") != a.expected("messages")
    t = time.perf_counter()
    big = Sandbox(seed=1, now=NOW, subaccounts=0, sizes={"messages": 1_000_000}, record_requests=False)
    assert time.perf_counter() - t < 2
    with big:
        s = session(big)
        doc = get(s, big, acct_path(big, "Messages.json"), PageSize=1000, **{"DateSent<": "2026-09-01"}).json()
        assert len(doc["messages"]) == 1000
        assert float(doc and s.get(big.url + doc["uri"], timeout=10).headers["Twilio-Request-Duration"]) < 1.0
        assert rfc(doc["messages"][0]["date_sent"]).date() == dt.date(2026, 9, 1)
        doc2 = s.get(big.url + doc["next_page_uri"], timeout=10).json()
        assert rfc(doc2["messages"][0]["date_sent"]) <= rfc(doc["messages"][-1]["date_sent"])
        assert not {m["sid"] for m in doc["messages"]} & {m["sid"] for m in doc2["messages"]}
        assert big.stats.total == 3 and not big.stats.requests


def test_tie_breaking_many_records_per_second():
    # 3000 messages in ~14 minutes: several share a second; paging must still be exact
    with Sandbox(
        seed=2,
        now=NOW,
        subaccounts=1,
        days=0.01,
        sizes={"messages": 3000},
        account_offsets_days={1: 30},
        account_sizes={1: {"messages": 10}},
    ) as sb:
        s = session(sb)
        got, _ = page_all(s, sb, acct_path(sb, "Messages.json"), "messages", PageSize=97)
        exp = sb.expected("messages", sb.main_account_sid)
        assert got == exp and len({m["sid"] for m in got}) == 3000
        sub = sb.expected("messages", sb.account_sids[1])
        assert len(sub) == 10 and rfc(sub[0]["date_sent"]) < NOW - dt.timedelta(days=29)


def test_cli_parser_and_stop_closes_connections():
    args = build_parser().parse_args(["--port", "0", "--messages", "10", "--rate-429", "0.1", "--write-config", "x"])
    assert args.messages == 10 and args.rate_429 == 0.1 and args.write_config == "x"
    sb = Sandbox(seed=1, now=NOW, subaccounts=0).start()
    url = sb.url + acct_path(sb, "Queues.json")
    s = session(sb)
    assert s.get(url, timeout=5).status_code == 200  # leaves a kept-alive connection in the pool
    sb.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        s.get(url, timeout=5)
