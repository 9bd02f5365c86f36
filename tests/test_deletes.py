"""Deletes: soft-deleted recordings are emitted with status "deleted" (and seen when deleted after they were synced,
at a measured request cost); full-table streams end with one ACTIVATE_VERSION per run, only when every account's
list was read completely, so a target can drop or flag rows gone from Twilio."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from twilio_sandbox import Sandbox

from tap_twilio.dates import format_iso, to_iso
from tests.conftest import FAST_RETRIES, HISTORY_FULL_TABLE, TapRun, discover, run_tap, select

UTC = dt.timezone.utc
FULL_TABLE = set(HISTORY_FULL_TABLE)
NEVER_VERSIONED = {"notifications", "conference_summaries", "conference_participant_summaries", "addresses"}


def messages(run: TapRun) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run.stdout.splitlines()]


def activated(run: TapRun) -> dict[str, list[int]]:
    """stream -> versions of its ACTIVATE_VERSION messages."""
    out: dict[str, list[int]] = {}
    for message in messages(run):
        if message["type"] == "ACTIVATE_VERSION":
            out.setdefault(message["stream"], []).append(message["version"])
    return out


def recordings_catalog(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    return select(discover(tmp_path, config), {"recordings"})


def test_soft_deleted_recordings_are_emitted_with_status_deleted(sandbox, config, tmp_path):
    run = run_tap(tmp_path, config, catalog=recordings_catalog(tmp_path, config))
    expected = sandbox.expected("recordings", include_soft_deleted=True)
    deleted = {r["sid"] for r in expected if r["status"] == "deleted"}
    assert len(deleted) == 3 * len(sandbox.account_sids)
    assert {r["sid"] for r in run.records["recordings"]} == {r["sid"] for r in expected}
    assert {r["sid"] for r in run.records["recordings"] if r["status"] == "deleted"} == deleted
    assert "recordings" not in activated(run)  # incremental: rows are never removed, deleted ones are marked


def test_a_recording_deleted_after_it_was_synced_is_seen_and_what_it_costs(tmp_path):
    with Sandbox(seed=21, subaccounts=1, days=60) as sb:
        config = sb.tap_config(lookback_days=3, **FAST_RETRIES)
        catalog = recordings_catalog(tmp_path, config)
        first = run_tap(tmp_path, config, catalog=catalog)
        # a recording made 20 days ago, long before the lookback, is deleted now: date_created stays
        old = next(
            r
            for r in sb.expected("recordings", sb.account_sids[1])
            if r["status"] != "deleted"
            and dt.timedelta(days=15) < sb.now - dt.datetime.fromisoformat(to_iso(r["date_created"]) or "")
        )
        sb.delete_record("recordings", old["sid"])
        time.sleep(1.1)

        cost = {}
        runs = {}
        for name, days in (("with", 40), ("without", 0)):
            sb.reset_stats()
            runs[name] = run_tap(
                tmp_path, {**config, "deleted_recordings_lookback_days": days}, catalog=catalog, state=first.state
            )
            cost[name] = sb.stats.snapshot()["by_resource"].get("recordings", 0)
        print(
            f"\nrecordings requests of the second run, 2 accounts: {cost['with']} re-reading 40 days for deletions, "
            f"{cost['without']} without; records emitted: {len(runs['with'].records['recordings'])} vs "
            f"{len(runs['without'].records['recordings'])}"
        )
        with_deletes = {r["sid"]: r for r in runs["with"].records["recordings"]}
        assert with_deletes[old["sid"]]["status"] == "deleted"
        assert old["sid"] not in {r["sid"] for r in runs["without"].records["recordings"]}
        # the second run emits exactly the lookback's recordings plus those changed since (the deletion)
        marks = {
            p["context"]["account_sid"]: p["replication_key_value"]
            for p in first.state["bookmarks"]["recordings"]["partitions"]
        }
        want = set()
        for account in sb.account_sids:
            since = format_iso(dt.datetime.fromisoformat(marks[account]) - dt.timedelta(days=3))
            for r in sb.expected("recordings", account, include_soft_deleted=True):
                if (to_iso(r["date_created"]) or "") >= since or (to_iso(r["date_updated"]) or "") >= since:
                    want.add(r["sid"])
        assert set(with_deletes) == want
        # one more window per account (date_window_days 30 over 40 days), never more than twice the cost
        assert cost["without"] < cost["with"] <= 2 * cost["without"]


@pytest.fixture
def versions_catalog(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    return select(discover(tmp_path, config), FULL_TABLE | NEVER_VERSIONED)


def test_full_table_streams_end_with_one_version_for_all_accounts(sandbox, config, versions_catalog, tmp_path):
    run = run_tap(tmp_path, config, catalog=versions_catalog)
    versions = activated(run)
    assert set(versions) == FULL_TABLE  # never incremental streams, nor children of incremental parents
    (version,) = {v for vs in versions.values() for v in vs}
    assert all(len(vs) == 1 for vs in versions.values())
    seen_activation: set[str] = set()
    for message in messages(run):
        if message["type"] == "ACTIVATE_VERSION":
            seen_activation.add(message["stream"])
        elif message["type"] == "RECORD":
            stream = message["stream"]
            assert stream not in seen_activation, f"{stream}: a record after its ACTIVATE_VERSION"
            assert message.get("version") == (version if stream in FULL_TABLE else None), stream
    accounts = {r["account_sid"] for r in run.records["sip_credentials"]}
    assert accounts == set(sandbox.account_sids)


def test_no_version_is_activated_when_an_account_was_not_read(tmp_path):
    with Sandbox(seed=22, subaccounts=2) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        catalog = select(discover(tmp_path, config), FULL_TABLE)
        sb.forbidden_accounts.add(sb.account_sids[2])  # 403 for everything of one subaccount
        run = run_tap(tmp_path, config, catalog=catalog)
        assert run.records["sip_domains"], "the other accounts are still synced"
        assert activated(run) == {}


def test_a_resumed_run_activates_only_streams_it_read_for_every_account(sandbox, config, tmp_path):
    catalog = select(discover(tmp_path, config), {"sip_domains", "short_codes"})
    first = run_tap(tmp_path, config, catalog=catalog)
    # an interrupted run had completed sip_domains for the main account
    state = {**first.state, "progress": {"started": format_iso(dt.datetime.now(UTC)), "done": {}}}
    state["progress"]["done"]["sip_domains"] = [sandbox.main_account_sid]
    resumed = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert sandbox.main_account_sid not in {r["account_sid"] for r in resumed.records["sip_domains"]}
    assert set(activated(resumed)) == {"short_codes"}


def test_a_run_limited_to_some_accounts_activates_no_version(sandbox, config, tmp_path):
    catalog = select(discover(tmp_path, config), {"sip_domains"})
    run = run_tap(tmp_path, {**config, "account_sids": [sandbox.main_account_sid]}, catalog=catalog)
    assert run.records["sip_domains"]
    assert activated(run) == {}
    assert "rows deleted in Twilio are not reported to the target (account_sids" in run.stderr


def test_the_setting_turns_versions_off(sandbox, config, tmp_path):
    catalog = select(discover(tmp_path, config), {"sip_domains"})
    run = run_tap(tmp_path, {**config, "emit_activate_version_messages": False}, catalog=catalog)
    assert activated(run) == {}
    assert all("version" not in m for m in messages(run) if m["type"] == "RECORD")
