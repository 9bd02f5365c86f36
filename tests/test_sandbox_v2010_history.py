"""The sandbox's 2010-API lists of issue 13: notifications, SIP, short codes, signing keys, queue members, deletes."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import pathlib
import re
import subprocess
import sys

import pytest
import requests
from twilio_sandbox import Sandbox
from twilio_sandbox.__main__ import build_parser

NOW = dt.datetime(2026, 11, 20, 12, 30, 0, tzinfo=dt.timezone.utc)
V = "/2010-04-01"
ENDPOINTS = pathlib.Path(__file__).resolve().parent.parent / "vendor" / "twilio" / "twilio-endpoints.json"

TOP_LISTS = [
    # resource, path below the account, list key
    ("notifications", "Notifications.json", "notifications"),
    ("sip_domains", "SIP/Domains.json", "domains"),
    ("sip_credential_lists", "SIP/CredentialLists.json", "credential_lists"),
    ("sip_ip_access_control_lists", "SIP/IpAccessControlLists.json", "ip_access_control_lists"),
    ("short_codes", "SMS/ShortCodes.json", "short_codes"),
    ("signing_keys", "SigningKeys.json", "signing_keys"),
]
CHILD_LISTS = [
    # child, parent, child segment, list key
    ("sip_credentials", "sip_credential_lists", "SIP/CredentialLists/{}/Credentials.json", "credentials"),
    ("sip_ip_addresses", "sip_ip_access_control_lists", "SIP/IpAccessControlLists/{}/IpAddresses.json", "ip_addresses"),
    ("queue_members", "queues", "Queues/{}/Members.json", "queue_members"),
]


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=7, now=NOW, subaccounts=2) as s:
        yield s


def fresh(**kwargs) -> Sandbox:
    return Sandbox(seed=3, now=NOW, subaccounts=1, **kwargs).start()


def session(sb: Sandbox, auth: tuple[str, str] | None = None) -> requests.Session:
    s = requests.Session()
    s.auth = auth or (sb.main_account_sid, sb.main_auth_token)
    return s


def path(sb: Sandbox, rest: str, acct: str | None = None) -> str:
    return f"{V}/Accounts/{acct or sb.main_account_sid}/{rest}"


def page_all(sb: Sandbox, rest: str, key: str, acct: str | None = None, **params: str | int) -> list[dict]:
    s = session(sb)
    r = s.get(sb.url + path(sb, rest, acct), params=params or None, timeout=10)
    assert r.status_code == 200, r.text
    doc = r.json()
    out = list(doc[key])
    while doc["next_page_uri"]:
        assert doc["next_page_uri"].startswith(V)
        doc = s.get(sb.url + doc["next_page_uri"], timeout=10).json()
        out += doc[key]
    return out


def rfc(value: str) -> dt.datetime:
    return email.utils.parsedate_to_datetime(value)


def sids(recs: list[dict]) -> list[str]:
    return [r["sid"] for r in recs]


# ------------------------------------------------------------------------------------------------ lists


@pytest.mark.parametrize(("res", "rest", "key"), TOP_LISTS)
def test_each_list_pages_exactly_what_expected_says(sb, res, rest, key):
    for acct in sb.account_sids:
        exp = sb.expected(res, acct)
        assert exp, (res, acct)
        assert page_all(sb, rest, key, acct, PageSize=1) == exp
        assert page_all(sb, rest, key, acct) == exp


@pytest.mark.parametrize(("child", "parent", "rest", "key"), CHILD_LISTS)
def test_children_list_under_their_parent(sb, child, parent, rest, key):
    for acct in sb.account_sids:
        got = []
        for p in sb.expected(parent, acct):
            kids = page_all(sb, rest.format(p["sid"]), key, acct, PageSize=1)
            got += kids
            if child == "queue_members":
                assert [k["position"] for k in kids] == list(range(1, p["current_size"] + 1))
                assert all(k["queue_sid"] == p["sid"] for k in kids)
        assert got == sb.expected(child, acct)
    assert sb.expected(child)  # every child list has entries somewhere


def test_children_belong_to_an_older_parent_and_fetch_by_uri(sb):
    s = session(sb)
    for child, parent, field in (
        ("sip_credentials", "sip_credential_lists", "credential_list_sid"),
        ("sip_ip_addresses", "sip_ip_access_control_lists", "ip_access_control_list_sid"),
    ):
        parents = {p["sid"]: p for p in sb.expected(parent)}
        for kid in sb.expected(child):
            mine = parents[kid[field]]
            assert rfc(kid["date_created"]) >= rfc(mine["date_created"])
            (listing,) = mine["subresource_uris"].values()
            assert kid["uri"] == listing[: -len(".json")] + f"/{kid['sid']}.json"
            assert s.get(sb.url + kid["uri"], timeout=10).json() == kid
        for p in parents.values():
            assert s.get(sb.url + p["uri"], timeout=10).json() == p
    member = sb.expected("queue_members")[0]
    assert s.get(sb.url + member["uri"], timeout=10).json() == member


def test_unknown_parent_is_404(sb):
    s = session(sb)
    for rest in (
        "SIP/CredentialLists/CL00000000000000000000000000000000/Credentials.json",
        "SIP/IpAccessControlLists/AL00000000000000000000000000000000/IpAddresses.json",
        "Queues/QU00000000000000000000000000000000/Members.json",
    ):
        r = s.get(sb.url + path(sb, rest), timeout=10)
        assert r.status_code == 404 and r.json()["code"] == 20404


def test_records_match_the_documented_types_and_sid_patterns(sb):
    spec = {r["name"]: r for r in json.loads(ENDPOINTS.read_text())["resources"]}
    types = {"string": str, "integer": int, "boolean": bool, "object": dict}
    for res in [r for r, _, _ in TOP_LISTS] + [c for c, _, _, _ in CHILD_LISTS] + ["recordings"]:
        props = spec[res]["properties"]
        for rec in sb.expected(res, include_soft_deleted=True):
            assert set(rec) == set(props), res
            for name, prop in props.items():
                value = rec[name]
                if value is None:
                    assert prop["nullable"], (res, name)
                    continue
                if prop.get("type") in types:
                    assert type(value) is types[prop["type"]], (res, name, value)
                if prop.get("pattern"):
                    assert re.match(prop["pattern"], value), (res, name, value)
                if prop.get("enum"):
                    assert value in prop["enum"], (res, name, value)
                if prop.get("format") == "date-time-rfc-2822":
                    assert value.endswith(" +0000") and rfc(value) <= NOW, (res, name, value)


def test_sizes_are_configurable_per_resource_and_account():
    sb = Sandbox(
        seed=5,
        now=NOW,
        subaccounts=1,
        sizes={"notifications": 7, "sip_credential_lists": 3, "sip_credentials": 9, "short_codes": 2},
        account_sizes={1: {"sip_ip_access_control_lists": 0, "sip_ip_addresses": 4}},
    )
    main, sub = sb.account_sids
    assert len(sb.expected("notifications", main)) == 7
    assert len(sb.expected("sip_credentials", main)) == 9
    assert len({c["credential_list_sid"] for c in sb.expected("sip_credentials", main)}) > 1
    assert len(sb.expected("short_codes", sub)) == 2
    assert sb.expected("sip_ip_addresses", sub) == []  # no access control list, so no addresses
    again = Sandbox(seed=5, now=NOW, subaccounts=1, sizes={"notifications": 7})
    assert again.expected("notifications") == sb.expected("notifications")


# ------------------------------------------------------------------------------------------------ notifications


def test_notifications_newest_first_by_message_date(sb):
    recs = sb.expected("notifications", sb.main_account_sid)
    dates = [rfc(r["message_date"]) for r in recs]
    assert dates == sorted(dates, reverse=True)
    assert {r["log"] for r in recs} == {"0", "1"}
    assert all(rfc(r["date_created"]) >= rfc(r["message_date"]) for r in recs)
    assert any(r["call_sid"] is None for r in recs) and any(r["call_sid"] for r in recs)


def test_notifications_message_date_filters_are_inclusive_days(sb):
    recs = sb.expected("notifications", sb.main_account_sid)
    day = rfc(recs[len(recs) // 2]["message_date"]).date()

    def on(pred) -> list[str]:
        return [r["sid"] for r in recs if pred(rfc(r["message_date"]).date())]

    iso = day.isoformat()
    assert sids(page_all(sb, "Notifications.json", "notifications", **{"MessageDate>": iso})) == on(lambda d: d >= day)
    assert sids(page_all(sb, "Notifications.json", "notifications", **{"MessageDate<": iso})) == on(lambda d: d <= day)
    assert sids(page_all(sb, "Notifications.json", "notifications", MessageDate=iso)) == on(lambda d: d == day)
    both = page_all(sb, "Notifications.json", "notifications", **{"MessageDate>": iso, "MessageDate<": iso})
    assert sids(both) == on(lambda d: d == day) != []
    doc = session(sb).get(sb.url + path(sb, "Notifications.json"), params={"MessageDate>": iso, "PageSize": 2}).json()
    assert "MessageDate%3E=" + iso in doc["next_page_uri"]


def test_notifications_log_filter(sb):
    recs = sb.expected("notifications", sb.main_account_sid)
    for log in ("0", "1"):
        got = page_all(sb, "Notifications.json", "notifications", Log=log, PageSize=3)
        assert sids(got) == [r["sid"] for r in recs if r["log"] == log]
    r = session(sb).get(sb.url + path(sb, "Notifications.json"), params={"Log": "errors"}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == 20001
    r = session(sb).get(sb.url + path(sb, "Notifications.json"), params={"MessageDate>": "2026-13-01"}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == 20001


def test_short_code_filters(sb):
    code = sb.expected("short_codes", sb.main_account_sid)[0]
    assert page_all(sb, "SMS/ShortCodes.json", "short_codes", ShortCode=code["short_code"]) == [code]
    assert page_all(sb, "SMS/ShortCodes.json", "short_codes", ShortCode="00000") == []


def test_subaccount_credentials_reach_only_their_own_lists(sb):
    sub = sb.accounts[1]
    own = session(sb, (sub.sid, sub.auth_token))
    assert own.get(sb.url + path(sb, "SIP/Domains.json", sub.sid), timeout=10).status_code == 200
    r = own.get(sb.url + path(sb, "SIP/Domains.json"), timeout=10)
    assert r.status_code == 403 and r.json()["code"] == 20003
    assert session(sb).get(sb.url + path(sb, "Notifications.json", sub.sid), timeout=10).status_code == 200


# ------------------------------------------------------------------------------------------------ recordings


def test_soft_deleted_recordings_listed_only_on_request(sb):
    plain = page_all(sb, "Recordings.json", "recordings")
    every = page_all(sb, "Recordings.json", "recordings", IncludeSoftDeleted="true", PageSize=7)
    deleted = [r for r in every if r["status"] == "deleted"]
    assert len(deleted) == 3 and all(r["status"] != "deleted" for r in plain)
    assert [r for r in every if r["status"] != "deleted"] == plain
    assert every == sb.expected("recordings", sb.main_account_sid, include_soft_deleted=True)
    assert page_all(sb, "Recordings.json", "recordings", IncludeSoftDeleted="false") == plain
    for r in deleted:
        assert rfc(r["date_updated"]) > rfc(r["date_created"]) >= NOW - dt.timedelta(days=30)
    s = session(sb)
    assert s.get(sb.url + deleted[0]["uri"], timeout=10).status_code == 404
    assert s.get(sb.url + deleted[0]["uri"], params={"IncludeSoftDeleted": "true"}, timeout=10).json() == deleted[0]
    r = s.get(sb.url + path(sb, "Recordings.json"), params={"IncludeSoftDeleted": "maybe"}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == 20001


def test_delete_recording_is_soft_and_kept_40_days():
    with fresh() as sb:
        victim = sb.expected("recordings", sb.main_account_sid)[5]
        sb.set_now(NOW + dt.timedelta(hours=2))
        before = sb.delete_record("recordings", victim["sid"])
        assert before == victim
        assert victim["sid"] not in sids(page_all(sb, "Recordings.json", "recordings"))
        every = page_all(sb, "Recordings.json", "recordings", IncludeSoftDeleted="true")
        gone = next(r for r in every if r["sid"] == victim["sid"])
        assert gone["status"] == "deleted" and gone["date_created"] == victim["date_created"]
        assert rfc(gone["date_updated"]) == NOW + dt.timedelta(hours=2)
        assert sids(every) == sids(sb.expected("recordings", include_soft_deleted=True, account_sid=None)[: len(every)])
        day = rfc(victim["date_created"]).date().isoformat()
        window = page_all(sb, "Recordings.json", "recordings", IncludeSoftDeleted="true", **{"DateCreated>": day})
        assert victim["sid"] in sids(window)  # deleting does not move date_created
        with pytest.raises(KeyError):
            sb.delete_record("recordings", victim["sid"])
        sb.set_now(NOW + dt.timedelta(days=41))
        every = page_all(sb, "Recordings.json", "recordings", IncludeSoftDeleted="true")
        assert victim["sid"] not in sids(every)
        assert victim["sid"] not in sids(sb.expected("recordings", include_soft_deleted=True))


# ------------------------------------------------------------------------------------------------ hard deletes


@pytest.mark.parametrize(
    ("res", "rest", "key"),
    [
        ("incoming_phone_numbers", "IncomingPhoneNumbers.json", "incoming_phone_numbers"),
        ("addresses", "Addresses.json", "addresses"),
        ("sip_domains", "SIP/Domains.json", "domains"),
        ("short_codes", "SMS/ShortCodes.json", "short_codes"),
        ("notifications", "Notifications.json", "notifications"),
    ],
)
def test_hard_delete_removes_from_list_and_fetch(res, rest, key):
    with fresh() as sb:
        recs = sb.expected(res, sb.main_account_sid)
        doomed = recs[len(recs) // 2]
        assert sb.delete_record(res, doomed["sid"]) == doomed
        left = page_all(sb, rest, key, PageSize=1)
        assert left == [r for r in recs if r["sid"] != doomed["sid"]] == sb.expected(res, sb.main_account_sid)
        r = session(sb).get(sb.url + path(sb, rest[:-5] + "/" + doomed["sid"] + ".json"), timeout=10)
        assert r.status_code == 404
        with pytest.raises(KeyError):
            sb.delete_record(res, doomed["sid"])
        added = sb.add_record(res, sid=doomed["sid"])  # the same sid can come back (e.g. a re-added record)
        assert doomed["sid"] in sids(sb.expected(res, sb.main_account_sid)) and added["sid"] == doomed["sid"]


def test_hard_delete_keeps_paging_with_a_token_of_the_deleted_record():
    with fresh(sizes={"notifications": 30}) as sb:
        s = session(sb)
        doc = s.get(sb.url + path(sb, "Notifications.json"), params={"PageSize": 10}, timeout=10).json()
        sb.delete_record("notifications", doc["notifications"][-1]["sid"])  # the record the next token names
        nxt = s.get(sb.url + doc["next_page_uri"], timeout=10).json()
        exp = sb.expected("notifications", sb.main_account_sid)
        assert sids(nxt["notifications"]) == sids(exp[9:19])


def test_sip_credentials_add_update_delete_and_cascade():
    with fresh() as sb:
        lists = sb.expected("sip_credential_lists", sb.main_account_sid)
        cl = lists[0]["sid"]
        rest = f"SIP/CredentialLists/{cl}/Credentials.json"
        before = page_all(sb, rest, "credentials")
        added = sb.add_record("sip_credentials", credential_list_sid=cl, username="new-phone")
        assert added["sid"].startswith("CR") and added["credential_list_sid"] == cl
        assert added["uri"] == path(sb, f"SIP/CredentialLists/{cl}/Credentials/{added['sid']}.json")
        assert rfc(added["date_created"]) == NOW
        assert page_all(sb, rest, "credentials") == [added, *before]
        changed = sb.update_record("sip_credentials", added["sid"], username="renamed")
        assert changed["username"] == "renamed" and page_all(sb, rest, "credentials")[0] == changed
        sb.delete_record("sip_credentials", added["sid"])
        assert page_all(sb, rest, "credentials") == before
        if before:
            sb.delete_record("sip_credentials", before[0]["sid"])
            assert page_all(sb, rest, "credentials") == before[1:]
        with pytest.raises(KeyError):
            sb.add_record("sip_credentials", credential_list_sid="CL00000000000000000000000000000000")
        # deleting a list deletes its credentials
        sb.add_record("sip_credentials", credential_list_sid=cl)
        sb.delete_record("sip_credential_lists", cl)
        assert session(sb).get(sb.url + path(sb, rest), timeout=10).status_code == 404
        assert all(c["credential_list_sid"] != cl for c in sb.expected("sip_credentials"))
        assert cl not in sids(page_all(sb, "SIP/CredentialLists.json", "credential_lists"))


def test_sip_ip_addresses_follow_their_list():
    with fresh() as sb:
        acl = sb.add_record("sip_ip_access_control_lists", friendly_name="new office")
        ip = sb.add_record("sip_ip_addresses", parent_sid=acl["sid"], ip_address="203.0.113.9")
        rest = f"SIP/IpAccessControlLists/{acl['sid']}/IpAddresses.json"
        assert page_all(sb, rest, "ip_addresses") == [ip] and ip["ip_access_control_list_sid"] == acl["sid"]
        assert session(sb).get(sb.url + ip["uri"], timeout=10).json() == ip
        sb.delete_record("sip_ip_addresses", ip["sid"])
        assert page_all(sb, rest, "ip_addresses") == []
        assert session(sb).get(sb.url + ip["uri"], timeout=10).status_code == 404


def test_deleted_key_no_longer_authenticates():
    with fresh(sizes={"keys": 3}) as sb:
        sid, secret = sb.api_keys["standard"]
        assert session(sb, (sid, secret)).get(sb.url + path(sb, "Calls.json"), timeout=10).status_code == 200
        sb.delete_record("keys", sid)
        assert session(sb, (sid, secret)).get(sb.url + path(sb, "Calls.json"), timeout=10).status_code == 401
        assert sid not in sids(sb.expected("keys", sb.main_account_sid))


def test_unsupported_delete_is_an_error(sb):
    with pytest.raises(ValueError, match="usage_records"):
        sb.delete_record("usage_records", "x")


# ------------------------------------------------------------------------------------------------ queue members


def test_queue_members_join_wait_and_leave():
    with fresh(sizes={"queues": 3}) as sb:
        queue = sb.expected("queues", sb.main_account_sid)[0]
        rest = f"Queues/{queue['sid']}/Members.json"
        waiting = page_all(sb, rest, "queue_members")
        assert len(waiting) == queue["current_size"]
        assert all(m["wait_time"] == (NOW - rfc(m["date_enqueued"])).total_seconds() for m in waiting)
        joined = sb.add_record("queue_members", queue_sid=queue["sid"])
        assert joined["position"] == len(waiting) + 1 and joined["wait_time"] == 0
        assert joined["call_sid"].startswith("CA") and "sid" not in joined
        assert page_all(sb, rest, "queue_members", PageSize=1) == [*waiting, joined]
        assert sb.expected("queues", sb.main_account_sid)[0]["current_size"] == len(waiting) + 1
        sb.set_now(NOW + dt.timedelta(seconds=30))
        assert page_all(sb, rest, "queue_members")[-1]["wait_time"] == 30
        sb.delete_record("queue_members", (waiting or [joined])[0]["call_sid"])
        after = page_all(sb, rest, "queue_members")
        assert [m["position"] for m in after] == list(range(1, len(after) + 1))
        assert len(after) == len(waiting) and after == sb.expected("queue_members", sb.main_account_sid)[: len(after)]
        assert sb.update_record("queue_members", after[0]["call_sid"], position=9)["position"] == 9
        with pytest.raises(KeyError):
            sb.delete_record("queue_members", "CA00000000000000000000000000000000")


# ------------------------------------------------------------------------------------------------ CLI


def test_print_env_quiet_prints_only_exports(tmp_path):
    env_file = tmp_path / "env.sh"
    script = (
        "import sys, threading, signal, os\n"
        "from twilio_sandbox.__main__ import main\n"
        "threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for quiet in (True, False):
        args = ["--port", "0", "--subaccounts", "0", "--days", "3", "--print-env"] + (["--quiet"] if quiet else [])
        proc = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60, check=True
        )
        lines = proc.stdout.splitlines()
        assert len(lines) == 6 and all(re.fullmatch(r"export TAP_TWILIO_[A-Z_]+=\S+", line) for line in lines)
        assert ("listening on" in proc.stderr) is not quiet
        env_file.write_text(proc.stdout)
        shell = subprocess.run(
            ["bash", "-c", f"set -e; source {env_file}; echo $TAP_TWILIO_API_URL"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert shell.stdout.startswith("http://127.0.0.1:")


def test_cli_size_sets_any_resource():
    args = build_parser().parse_args(["--size", "notifications=5", "--size", "sip_credentials=12"])
    assert args.size == [("notifications", 5), ("sip_credentials", 12)]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--size", "notifications"])
