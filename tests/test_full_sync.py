"""A full sync emits exactly the sandbox's records, typed and converted, and nothing secret."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from tap_twilio.dates import to_iso
from tap_twilio.streams import STREAM_TYPES
from tests.conftest import TapRun, discover, leaked_secrets, run_tap, select
from tests.exact import assert_exact, hold_clock

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")


@pytest.fixture
def full_run(sandbox, config, tmp_path) -> TapRun:
    """One full sync of every stream, the sandbox's clock held (it serves the same before and after)."""
    hold_clock(sandbox)
    return run_tap(tmp_path, config)


def test_full_sync_emits_every_record_of_every_stream_once_exactly(sandbox, config, full_run):
    assert len(full_run.schemas) == len(STREAM_TYPES)
    emitted = assert_exact(sandbox, full_run.stdout, config["start_date"])
    assert all(emitted[stream] for stream in full_run.schemas)


def test_every_account_and_subaccount_is_synced(sandbox, full_run):
    for stream in ("messages", "calls", "recordings", "conferences", "usage_records", "account_balance"):
        accounts = {r["account_sid"] for r in full_run.records[stream]}
        assert accounts == set(sandbox.account_sids), stream


def test_dates_are_iso_8601_utc_and_match_the_api(sandbox, full_run):
    for stream, schema in full_run.schemas.items():
        date_fields = [k for k, v in schema["schema"]["properties"].items() if v.get("format") == "date-time"]
        for record in full_run.records[stream]:
            for name in date_fields:
                value = record.get(name)
                assert value is None or ISO_UTC.match(value), f"{stream}.{name} = {value!r}"
    raw = {m["sid"]: m for m in sandbox.expected("messages")}
    for record in full_run.records["messages"][:200]:
        assert record["date_created"] == to_iso(raw[record["sid"]]["date_created"])


def test_numeric_strings_are_exact_json_numbers(sandbox, full_run):
    raw = {m["sid"]: m for m in sandbox.expected("calls")}
    for line in full_run.stdout.splitlines():
        message = json.loads(line, parse_float=Decimal)
        if message["type"] != "RECORD" or message["stream"] != "calls":
            continue
        record = message["record"]
        source = raw[record["sid"]]
        for name in ("price", "duration", "queue_time"):
            if source.get(name) in (None, ""):
                assert record[name] is None
            else:
                assert isinstance(record[name], (int, Decimal)), name
                assert Decimal(str(record[name])) == Decimal(source[name])
    assert full_run.schemas["calls"]["schema"]["properties"]["price"]["type"] == ["number", "null"]
    assert all(isinstance(r["subresource_uris"], dict) for r in full_run.records["messages"])


def test_child_records_carry_their_parent_keys(full_run):
    for record in full_run.records["message_media"]:
        assert record["message_sid"][:2] in {"SM", "MM"} and record["account_sid"].startswith("AC")
    for record in full_run.records["conference_participants"]:
        assert record["conference_sid"].startswith("CF")
    for record in full_run.records["dependent_phone_numbers"]:
        assert record["address_sid"].startswith("AD")
    for record in full_run.records["available_phone_numbers_local"]:
        assert record["country_code"] and record["account_sid"].startswith("AC")


def test_auth_tokens_never_reach_the_output(sandbox, full_run):
    assert full_run.records["accounts"]
    assert all("auth_token" not in r for r in full_run.records["accounts"])
    assert "auth_token" not in full_run.schemas["accounts"]["schema"]["properties"]
    assert leaked_secrets(sandbox, full_run.stdout, full_run.stderr) == []


def test_media_is_requested_only_for_messages_with_media(sandbox, config, tmp_path):
    catalog = select(discover(tmp_path, config), {"messages", "message_media"})
    sandbox.reset_stats()
    run = run_tap(tmp_path, config, catalog=catalog)
    with_media = [m for m in sandbox.expected("messages") if m["num_media"] != "0"]
    media_requests = [p for _, p in sandbox.stats.requests if "/Media.json" in p]
    assert len(media_requests) == len(with_media)
    assert len(run.records["message_media"]) == sum(int(m["num_media"]) for m in with_media)


@pytest.mark.parametrize(
    ("selected", "parent"),
    [
        ("message_media", "messages"),
        ("conference_participants", "conferences"),
        ("dependent_phone_numbers", "addresses"),
        ("available_phone_numbers_local", "available_phone_number_countries"),
    ],
)
def test_a_child_selected_alone_is_still_synced(sandbox, config, tmp_path, selected, parent):
    catalog = select(discover(tmp_path, config), {selected})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert set(run.records) == {selected}
    assert run.records[selected]
    assert parent not in run.schemas


def test_discovery_needs_no_network(tmp_path):
    # a bad setting fails discovery as it fails a sync (tests/test_discovery_config.py); a good one needs no request
    config = {"account_sid": "AC" + "0" * 32, "auth_token": "x", "api_url": "http://127.0.0.1:9"}
    catalog = discover(tmp_path, config)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert len(streams) == len(STREAM_TYPES)
    assert streams["usage_records"]["key_properties"] == ["account_sid", "category", "start_date"]
    assert streams["conference_participants"]["key_properties"] == ["uri"]


def test_bad_credentials_give_one_clear_error_and_a_non_zero_exit(sandbox, config, tmp_path):
    bad = {**config, "auth_token": "0123456789abcdef0123456789abcdef"}
    run = run_tap(tmp_path, bad, check=False)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, run.stderr
    assert "rejected the credentials" in errors[0] and "auth_token" in errors[0]
    assert "Traceback" not in run.stderr
    assert bad["auth_token"] not in run.stderr
    assert '"type":"RECORD"' not in run.stdout.replace(" ", "")
