"""A full sync emits exactly the sandbox's records, typed and converted, and nothing secret."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from tap_twilio.dates import to_iso
from tap_twilio.streams import STREAM_TYPES
from tests.conftest import TapRun, discover, run_tap, select, served

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")
PER_ACCOUNT_COPIES = {  # the same listing is served to every account; the tap keeps one row per account
    "available_phone_number_countries",
    "available_phone_numbers_local",
    "available_phone_numbers_mobile",
    "available_phone_numbers_toll_free",
}


def expected_keys(sandbox: Any, stream: str, key: list[str], start_date: str) -> set[tuple[Any, ...]]:
    """Primary keys the tap must emit for a stream: every visible record from start_date on."""
    rows: list[dict[str, Any]] = []
    if stream in PER_ACCOUNT_COPIES:
        for account in sandbox.account_sids:
            rows += [{**r, "account_sid": account} for r in sandbox.expected(stream, account)]
    else:
        rows = [r for account in sandbox.account_sids for r in served(sandbox, stream, account)]
    if stream == "usage_records":
        rows = [r for r in rows if r["start_date"] >= start_date[:10]]
    return {tuple(r[k] for k in key) for r in rows}


@pytest.fixture
def full_run(sandbox, config, tmp_path) -> TapRun:
    """One full sync of every stream."""
    return run_tap(tmp_path, config)


def test_full_sync_emits_every_record_of_every_stream_once(sandbox, config, full_run):
    assert len(full_run.schemas) == len(STREAM_TYPES)
    for stream, schema in full_run.schemas.items():
        key = schema["key_properties"]
        emitted = full_run.keys(stream)
        assert len(emitted) == len(set(emitted)), f"{stream}: duplicate primary keys"
        expected = expected_keys(sandbox, stream, key, config["start_date"])
        assert set(emitted) == expected, (
            f"{stream}: {len(set(emitted) - expected)} extra, {len(expected - set(emitted))} missing"
        )
        assert emitted, f"{stream}: the sandbox has data, the tap emitted none"


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
    for secret in sandbox.secrets():
        assert secret not in full_run.stdout
        assert secret not in full_run.stderr


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
