"""Twilio's product APIs (Conversations, Studio, Verify, Messaging, Trunking, Pricing) for every account."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio_sandbox import Sandbox

from tap_twilio.dates import format_iso, to_iso
from tests.conftest import FAST_RETRIES, TapRun, discover, leaked_secrets, run_tap, select

# stream -> (primary key, replication key, Twilio's largest PageSize) as issue 12 and Twilio's docs say
STREAMS: dict[str, tuple[list[str], str | None, int]] = {
    "conversation_services": (["sid"], None, 100),
    "conversations": (["sid"], "date_updated", 100),
    "conversation_participants": (["sid"], None, 100),
    "conversation_messages": (["sid"], "date_updated", 100),
    "conversation_users": (["sid"], "date_updated", 50),
    "conversation_roles": (["sid"], None, 50),
    "studio_flows": (["sid"], "date_updated", 1000),
    "studio_executions": (["sid"], "date_updated", 1000),
    "studio_execution_steps": (["sid"], None, 1000),
    "verify_services": (["sid"], None, 1000),
    "verify_attempts": (["sid"], "date_updated", 1000),
    "messaging_services": (["sid"], None, 1000),
    "messaging_service_phone_numbers": (["sid"], None, 1000),
    "trunks": (["sid"], None, 1000),
    "pricing_voice_countries": (["iso_country"], None, 1000),
    "pricing_messaging_countries": (["iso_country"], None, 1000),
    "pricing_phone_number_countries": (["iso_country"], None, 1000),
}
# the sandbox path of each list (placeholders are sids), to tell requests apart
LISTS = {
    "conversation_services": r"/conversations/v1/Services",
    "conversations": r"/conversations/v1/Services/IS\w+/Conversations",
    "conversation_participants": r"/conversations/v1/Services/IS\w+/Conversations/CH\w+/Participants",
    "conversation_messages": r"/conversations/v1/Services/IS\w+/Conversations/CH\w+/Messages",
    "conversation_users": r"/conversations/v1/Services/IS\w+/Users",
    "conversation_roles": r"/conversations/v1/Services/IS\w+/Roles",
    "studio_flows": r"/studio/v2/Flows",
    "studio_executions": r"/studio/v2/Flows/FW\w+/Executions",
    "studio_execution_steps": r"/studio/v2/Flows/FW\w+/Executions/FN\w+/Steps",
    "verify_services": r"/verify/v2/Services",
    "verify_attempts": r"/verify/v2/Attempts",
    "messaging_services": r"/messaging/v1/Services",
    "messaging_service_phone_numbers": r"/messaging/v1/Services/MG\w+/PhoneNumbers",
    "trunks": r"/trunking/v1/Trunks",
    "pricing_voice_countries": r"/pricing/v2/Voice/Countries",
    "pricing_messaging_countries": r"/pricing/v1/Messaging/Countries",
    "pricing_phone_number_countries": r"/pricing/v1/PhoneNumbers/Countries",
}
PATTERNS = {stream: re.compile(f"^{path}$") for stream, path in LISTS.items()}
DETAIL = re.compile(r"^/pricing/v\d/\w+/Countries/[A-Z]{2}$")
USES = {  # which sandbox account uses which product: 0 main, odd and even subaccounts
    "conversations": {0, 1, 2},
    "studio": {0, 1},
    "verify": {0, 1},
    "messaging": {0, 2},
    "trunking": {0, 2},
}
TOP_LEVEL = (
    "conversation_services",
    "studio_flows",
    "verify_services",
    "verify_attempts",
    "messaging_services",
    "trunks",
)


def product_of(stream: str) -> str:
    return {"conversation": "conversations", "messaging": "messaging", "trunks": "trunking"}.get(
        stream.split("_", maxsplit=1)[0], stream.split("_", maxsplit=1)[0]
    )


def list_of(path: str) -> str | None:
    """The stream whose list a request path reads (None for detail requests)."""
    return next((stream for stream, pattern in PATTERNS.items() if pattern.match(path)), None)


def requests_by_list(sb: Sandbox) -> dict[str, list[str]]:
    """Request targets (path and query) per list, in order."""
    result: dict[str, list[str]] = {}
    for _, target in sb.stats.requests:
        stream = list_of(urlsplit(target).path)
        if stream:
            result.setdefault(stream, []).append(target)
    return result


def expected(sb: Sandbox, stream: str, schema: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The sandbox's records converted the way the tap converts them (ISO-8601 UTC dates), by primary key."""
    dates = [name for name, prop in schema["schema"]["properties"].items() if prop.get("format") == "date-time"]
    result = {}
    for record in sb.expected(stream):
        converted = {k: (to_iso(v) if k in dates and v else v) for k, v in record.items()}
        if stream.startswith("pricing_"):  # the same for every account: read once, with the main account's sid
            converted["account_sid"] = sb.main_account_sid
        result[tuple(converted[k] for k in schema["key_properties"])] = converted
    return result


def assert_exact(sb: Sandbox, run: TapRun, stream: str) -> None:
    emitted = run.keys(stream)
    assert len(emitted) == len(set(emitted)), f"{stream}: duplicate keys"
    want = expected(sb, stream, run.schemas[stream])
    got = dict(zip(emitted, run.records[stream], strict=True))
    assert set(got) == set(want), f"{stream}: {len(set(got) - set(want))} extra, {len(set(want) - set(got))} missing"
    for key, record in want.items():
        assert got[key] == record, f"{stream} {key}"


def partition_values(state: dict[str, Any], stream: str) -> dict[str, str]:
    """account_sid -> bookmark of one stream."""
    return {
        p["context"]["account_sid"]: p["replication_key_value"]
        for p in state["bookmarks"][stream].get("partitions", [])
        if "replication_key_value" in p
    }


def catalog_of(tmp_path: Path, config: dict[str, Any], streams: set[str] | None = None) -> dict[str, Any]:
    return select(discover(tmp_path, config), streams or set(STREAMS))


# ------------------------------------------------------------------------------------------- full sync


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, TapRun]:
    """One full sync of every product stream at DEBUG: main account + an odd and an even subaccount."""
    tmp_path = tmp_path_factory.mktemp("products")
    with Sandbox(seed=12, subaccounts=2, days=30) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        catalog = catalog_of(tmp_path, config)
        sb.reset_stats()
        run = run_tap(tmp_path, config, catalog=catalog, env={"TAP_TWILIO_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"})
        yield sb, run


def test_discovery_has_each_product_streams_keys_and_replication(tmp_path):
    catalog = discover(tmp_path, {"account_sid": "AC" + "0" * 32, "auth_token": "x"})
    entries = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    for stream, (key, replication_key, _) in STREAMS.items():
        entry = entries[stream]
        top = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        assert entry["key_properties"] == key, stream
        assert top.get("valid-replication-keys", [None])[0] == replication_key, stream
        assert "account_sid" in entry["schema"]["properties"], stream


@pytest.mark.parametrize("stream", list(STREAMS))
def test_full_sync_emits_exactly_the_sandbox_records_of_every_account(full, stream):
    sb, run = full
    assert_exact(sb, run, stream)
    accounts = {r["account_sid"] for r in run.records[stream]}
    if stream.startswith("pricing_"):
        assert accounts == {sb.main_account_sid}
    else:
        users = {sb.account_sids[i] for i in USES[product_of(stream)]}
        assert accounts == users, f"{stream}: an account that uses the product is missing, or one that does not"


def test_every_service_is_read_not_only_the_default_one(full):
    sb, run = full
    services = sb.expected("conversation_services")
    assert all(sum(s["account_sid"] == a for s in services) >= 2 for a in sb.account_sids)
    assert {r["chat_service_sid"] for r in run.records["conversations"]} == {s["sid"] for s in services}
    assert {r["chat_service_sid"] for r in run.records["conversation_users"]} == {s["sid"] for s in services}


def test_child_records_carry_their_parent_keys(full):
    _, run = full
    parents = {
        "conversations": ("chat_service_sid",),
        "conversation_participants": ("chat_service_sid", "conversation_sid"),
        "conversation_messages": ("chat_service_sid", "conversation_sid"),
        "conversation_users": ("chat_service_sid",),
        "conversation_roles": ("chat_service_sid",),
        "studio_executions": ("flow_sid",),
        "studio_execution_steps": ("flow_sid", "execution_sid"),
        "messaging_service_phone_numbers": ("service_sid",),
    }
    for stream, keys in parents.items():
        for record in run.records[stream]:
            assert record["account_sid"].startswith("AC"), stream
            assert all(record[k] for k in keys), stream
    assert all(isinstance(r["permissions"], list) for r in run.records["conversation_roles"])
    assert all(isinstance(r["context"], dict) for r in run.records["studio_executions"])


def test_every_list_asks_for_its_largest_page_size_and_none_is_refused(full):
    sb, _ = full
    assert set(sb.stats.by_status) == {200}
    # each list exactly once: one per account for top-level lists, one per parent record for child lists
    accounts = len(sb.account_sids)
    parents = {
        "conversations": "conversation_services",
        "conversation_users": "conversation_services",
        "conversation_roles": "conversation_services",
        "conversation_participants": "conversations",
        "conversation_messages": "conversations",
        "studio_executions": "studio_flows",
        "studio_execution_steps": "studio_executions",
        "messaging_service_phone_numbers": "messaging_services",
    }
    counts = Counter(list_of(urlsplit(t).path) for _, t in sb.stats.requests)
    for stream in STREAMS:
        if stream in parents:
            assert counts[stream] == len(sb.expected(parents[stream])), stream
        elif stream.startswith("pricing_"):
            assert counts[stream] == 1, stream
        elif stream != "verify_attempts":  # windows
            assert counts[stream] == accounts, stream
    by_list = requests_by_list(sb)
    assert set(by_list) == set(STREAMS)
    for stream, targets in by_list.items():
        for target in targets:
            assert parse_qs(urlsplit(target).query)["PageSize"] == [str(STREAMS[stream][2])], target


def test_pricing_is_read_once_per_run_with_each_countrys_detail(full):
    sb, run = full
    by_list = requests_by_list(sb)
    details = [t for _, t in sb.stats.requests if DETAIL.match(urlsplit(t).path)]
    for stream in ("pricing_voice_countries", "pricing_messaging_countries", "pricing_phone_number_countries"):
        assert len(by_list[stream]) == 1
        assert all(r["price_unit"] == "USD" for r in run.records[stream])
    assert len(details) == sum(len(run.records[s]) for s in STREAMS if s.startswith("pricing_"))
    assert run.records["pricing_voice_countries"][0]["outbound_prefix_prices"]


def test_subaccount_tokens_never_reach_output_state_or_debug_logs(full):
    sb, run = full
    assert " DEBUG " in run.stderr or "DEBUG" in run.stderr
    assert leaked_secrets(sb, run.stdout, run.stderr, json.dumps(run.states)) == []


# --------------------------------------------------------------------------------------------- paging


def test_every_product_list_is_followed_to_its_last_page(tmp_path):
    with Sandbox(seed=15, subaccounts=1, days=10) as sb:
        config = sb.tap_config(page_size=3, **FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=catalog_of(tmp_path, config))
        for stream in STREAMS:
            assert_exact(sb, run, stream)
        tokens = Counter(list_of(urlsplit(t).path) for _, t in sb.stats.requests if "PageToken=" in t)
        for stream in (
            "conversations",
            "conversation_messages",
            "conversation_users",
            "studio_executions",
            "verify_attempts",
            "pricing_voice_countries",
        ):
            assert tokens[stream], f"{stream}: never read past the first page"
        assert set(sb.stats.by_status) == {200}


# ---------------------------------------------------------------------------------------- incremental


@pytest.mark.parametrize("moves", [True, False], ids=["message-moves-conversation", "message-keeps-conversation"])
def test_second_run_emits_every_change_and_rereads_only_changed_child_lists(tmp_path, moves):
    with Sandbox(seed=13, subaccounts=2, days=30) as sb:
        sb.products.messages_move_conversation = moves
        main, odd, even = sb.account_sids
        config = sb.tap_config(lookback_days=2, **FAST_RETRIES)
        catalog = catalog_of(tmp_path, config)
        # an execution still running when the first run reads it
        running = sb.expected("studio_executions", main)[0]
        sb.update_record("studio_executions", running["sid"], status="active", date_updated=running["date_created"])
        sb.reset_stats()
        first = run_tap(tmp_path, config, catalog=catalog)
        first_requests = requests_by_list(sb)
        assert {r["status"] for r in first.records["studio_executions"] if r["sid"] == running["sid"]} == {"active"}

        # changes: new messages in a main and an odd subaccount's conversation (not of the default service),
        # a renamed user, an ended execution, a renamed flow, a new Verify attempt, a renamed trunk
        chats = []
        for account in (main, odd):
            second_service = sb.expected("conversation_services", account)[-2]["sid"]  # newest first
            chats.append(
                next(
                    c
                    for c in sb.expected("conversations", account)
                    if c["chat_service_sid"] == second_service and c["state"] != "closed"
                )
            )
        new_messages = [sb.products.add_conversation_message(c["sid"], body="late reply") for c in chats]
        user = sb.update_record(
            "conversation_users", sb.expected("conversation_users", even)[-1]["sid"], friendly_name="Lee"
        )
        ended = sb.products.end_execution(running["sid"])
        flow = sb.products.rename_flow(sb.expected("studio_flows", odd)[-1]["sid"], "IVR v2")
        attempt = sb.products.add_verify_attempt(odd)
        trunk = sb.update_record("trunks", sb.expected("trunks", even)[0]["sid"], friendly_name="PBX annex")
        time.sleep(1.1)  # a run reads up to its start second; changes made in that second are the next run's

        sb.reset_stats()
        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        second_requests = requests_by_list(sb)

        def sids(stream: str) -> set[str]:
            return {r["sid"] for r in second.records[stream]}

        assert sids("conversations") == ({c["sid"] for c in chats} if moves else set())
        # the new messages, and those of the lookback before the bookmark (the start of the first run)
        floors = {
            a: format_iso(dt.datetime.fromisoformat(v) - dt.timedelta(days=2))
            for a, v in partition_values(first.state, "conversation_messages").items()
        }
        assert {m["sid"] for m in new_messages} <= sids("conversation_messages")
        assert all(r["date_updated"] >= floors[r["account_sid"]] for r in second.records["conversation_messages"])
        assert sids("conversation_participants") == {
            p["sid"]
            for p in sb.expected("conversation_participants")
            if p["conversation_sid"] in {c["sid"] for c in chats}
        }
        assert sids("conversation_users") == {user["sid"]}
        # a top-level list filtered on the client re-emits the newest record at the bookmark, as 2010 lists do
        flow_bookmarks = partition_values(first.state, "studio_flows")
        assert flow["sid"] in sids("studio_flows")
        assert all(r["date_updated"] >= flow_bookmarks[r["account_sid"]] for r in second.records["studio_flows"])
        assert len(second.records["studio_flows"]) < len(first.records["studio_flows"])
        executions = {r["sid"]: r for r in second.records["studio_executions"]}
        assert executions[ended["sid"]]["status"] == "ended"
        assert attempt["sid"] in sids("verify_attempts")
        assert {r["friendly_name"] for r in second.records["trunks"] if r["sid"] == trunk["sid"]} == {"PBX annex"}
        for stream in STREAMS:  # every record emitted is as the API serves it now
            want = expected(sb, stream, second.schemas[stream])
            assert all(want[k] == r for k, r in zip(second.keys(stream), second.records[stream], strict=True))

        # child lists: messages of every conversation not closed (newest first, one page each), participants of
        # those with new messages, steps of the changed or running execution
        def parents(stream: str, pattern: str) -> set[str]:
            return {re.search(pattern, t).group(0) for t in second_requests.get(stream, [])}  # type: ignore[union-attr]

        open_chats = {c["sid"] for c in sb.expected("conversations") if c["state"] != "closed"}
        assert parents("conversation_messages", r"CH\w{32}") == open_chats
        assert len(second_requests["conversation_messages"]) == len(open_chats)
        assert all("Order=desc" in t for t in second_requests["conversation_messages"])
        assert parents("conversation_participants", r"CH\w{32}") == {c["sid"] for c in chats}
        assert parents("studio_execution_steps", r"FN\w{32}") == {running["sid"]}
        # executions are listed per flow, from the bookmark less the lookback only
        bookmarks = [p["replication_key_value"] for p in first.state["bookmarks"]["studio_executions"]["partitions"]]
        floor = (dt.datetime.fromisoformat(min(bookmarks)) - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        starts = {parse_qs(urlsplit(t).query)["DateCreatedFrom"][0] for t in second_requests["studio_executions"]}
        assert min(starts) >= floor
        first_total = sum(len(v) for v in first_requests.values())
        first_by = {k: len(v) for k, v in first_requests.items()}
        second_total = sum(len(v) for v in second_requests.values())
        per_list = {k: len(v) for k, v in second_requests.items()}
        print(f"requests: first run {first_total} {first_by}, second run {second_total} {per_list}")
        # docs/incremental.md: besides one page of each open conversation's messages, fewer than a fifth of the
        # first run's requests
        assert second_total - len(open_chats) < first_total / 5

        # a third run without changes re-reads no child list but each open conversation's newest messages
        time.sleep(1.1)
        sb.reset_stats()
        third = run_tap(tmp_path, config, catalog=catalog, state=second.state)
        third_requests = requests_by_list(sb)
        for stream in ("conversation_participants", "studio_execution_steps"):
            assert stream not in third_requests, stream
        assert len(third_requests["conversation_messages"]) == len(open_chats)
        for stream in ("conversations", "conversation_users", "conversation_participants"):
            assert not third.records[stream], stream
        floors = {  # messages: only those of the lookback come again
            a: format_iso(dt.datetime.fromisoformat(v) - dt.timedelta(days=2))
            for a, v in partition_values(second.state, "conversation_messages").items()
        }
        assert all(r["date_updated"] >= floors[r["account_sid"]] for r in third.records["conversation_messages"])
        bookmarks = third.state["bookmarks"]
        for stream in (
            "conversations",
            "conversation_messages",
            "conversation_users",
            "studio_flows",
            "studio_executions",
            "verify_attempts",
        ):
            accounts = {
                p["context"]["account_sid"] for p in bookmarks[stream]["partitions"] if "replication_key_value" in p
            }
            users = {sb.account_sids[i] for i in USES[product_of(stream)]}
            assert users <= accounts, stream


# ---------------------------------------------------------------------------------------------- access


def test_a_product_answering_403_skips_that_account_with_one_warning(tmp_path):
    with Sandbox(seed=16, subaccounts=2, days=10) as sb:
        odd = sb.account_sids[1]
        sb.forbidden_accounts.add(odd)
        config = sb.tap_config(**FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=catalog_of(tmp_path, config))
        for stream in TOP_LEVEL:
            lines = [line for line in run.stderr.splitlines() if f"Skipping {stream} for account {odd}" in line]
            assert len(lines) == 1, (stream, lines)
        skipped = [line for line in run.stderr.splitlines() if "Skipping" in line and odd in line]
        assert len(skipped) == len(TOP_LEVEL)
        for stream in STREAMS:
            assert odd not in {r["account_sid"] for r in run.records[stream]}
            if not stream.startswith("pricing_"):
                others = {r["sid"] for r in run.records[stream]}
                assert others == {r["sid"] for r in sb.expected(stream) if r["account_sid"] != odd}, stream
