"""History streams: Voice Insights summaries, Monitor events, notifications, SIP lists, short codes, signing keys and
queue members sync exactly, full and incremental; Insights skips an account without Advanced Features with one
warning, clamps to what Twilio keeps, and re-reads summaries until they are complete."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pytest
from twilio_sandbox import Sandbox
from twilio_sandbox.insights import call_summary, conference_summary, participant_summaries

from tap_twilio.dates import format_iso, to_iso
from tests import exact
from tests.conftest import FAST_RETRIES, HISTORY_FULL_TABLE, TapRun, discover, run_tap, select

UTC = dt.timezone.utc
INSIGHTS = ("call_summaries", "conference_summaries")
WINDOWED = {  # stream -> field its windows filter on
    "call_summaries": "start_time",
    "conference_summaries": "create_time",
    "monitor_events": "event_date",
    "notifications": "message_date",
}
FULL_TABLE = HISTORY_FULL_TABLE
STREAMS = {*WINDOWED, "conference_participant_summaries", *FULL_TABLE}
RETENTION_LINE = re.compile(r"(\w+): Twilio keeps 30 days; reading from (\S+) instead of (\S+)")


def floors(run: TapRun) -> dict[str, str]:
    """stream -> where the run read from after clamping to Twilio's 30 days (from its one warning)."""
    return {m.group(1): m.group(2) for m in RETENTION_LINE.finditer(run.stderr)}


def iso(value: Any) -> str:
    return to_iso(value) or ""


def insights_expected(sb: Sandbox, stream: str, floor: str, since: dict[str, str] | None = None) -> set[Any]:
    """Keys of the summaries (and participants) Twilio serves from `floor` (or an account's `since`) on."""
    now, enabled = sb.clock(), sb.account_sids[:2]  # the second subaccount has no Advanced Features
    out: set[Any] = set()
    for account in enabled:
        start = max(floor, (since or {}).get(account, floor))
        if stream == "call_summaries":
            for call in sb.expected("calls", account):
                summary = call_summary(call, now)
                if summary and iso(summary["start_time"]) >= start:
                    out.add((summary["call_sid"],))
            continue
        for conference in sb.expected("conferences", account):
            summary = conference_summary(conference, now)
            if iso(summary["create_time"]) < start:
                continue
            if stream == "conference_summaries":
                out.add((summary["conference_sid"],))
            else:
                out |= {(p["participant_sid"],) for p in participant_summaries(conference, now)}
    return out


def expected_keys(sb: Sandbox, stream: str, key: list[str], floor: dict[str, str], since: Any = None) -> set[Any]:
    """Keys a run must emit: everything listed, windowed streams from their floor (or bookmark - lookback)."""
    if stream in (*INSIGHTS, "conference_participant_summaries"):
        return insights_expected(sb, stream, floor.get(stream) or floor["call_summaries"], since)
    out = set()
    for account in sb.account_sids:
        start = max(floor.get(stream, ""), (since or {}).get(account, ""))
        for record in sb.expected(stream, account):
            field = WINDOWED.get(stream)
            if field and iso(record[field]) < start:
                continue
            out.add(tuple(record[k] for k in key))
    return out


def assert_exact(sb: Sandbox, run: TapRun, floor: dict[str, str], since: dict[str, dict[str, str]] | None = None):
    """Each record as the sandbox serves it (the shared comparison), and exactly the keys the run must read."""
    exact.assert_exact(sb, run.stdout, "", streams=sorted(STREAMS), every=False)
    problems = []
    for stream in sorted(STREAMS):
        key = run.schemas[stream]["key_properties"]
        emitted = run.keys(stream)
        if len(emitted) != len(set(emitted)):
            problems.append(f"{stream}: duplicates")
        want = expected_keys(sb, stream, key, floor, (since or {}).get(stream))
        if set(emitted) != want:
            problems.append(f"{stream}: {len(set(emitted) - want)} extra, {len(want - set(emitted))} missing")
        if not want:
            problems.append(f"{stream}: the sandbox should have rows")
    assert not problems, "\n".join(problems)


def bookmarks(state: dict[str, Any], stream: str) -> dict[str, str]:
    return {
        p["context"]["account_sid"]: p["replication_key_value"]
        for p in state["bookmarks"][stream].get("partitions", [])
        if "replication_key_value" in p
    }


@pytest.fixture
def catalog(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    return select(discover(tmp_path, config), STREAMS)


def test_full_then_incremental_sync_is_exact(sandbox: Sandbox, config: dict[str, Any], catalog, tmp_path: Path):
    config = {**config, "lookback_days": 1}
    exact.hold_clock(sandbox)  # Insights' processing states move with the clock: served = compared
    first = run_tap(tmp_path, config, catalog=catalog)
    floor = floors(first)
    assert set(floor) == {"call_summaries", "conference_summaries", "monitor_events"}
    assert_exact(sandbox, first, floor)
    for stream in ("call_summaries", "monitor_events"):
        accounts = {r["account_sid"] for r in first.records[stream]}
        assert accounts == (set(sandbox.account_sids[:2]) if stream in INSIGHTS else set(sandbox.account_sids))
    summaries = {r["call_sid"]: r for r in first.records["call_summaries"]}
    sid = next(iter(summaries))
    assert summaries[sid]["processing_state"] in ("partial", "complete")

    # changes between the runs
    exact.hold_clock(sandbox)
    now = sandbox.now - dt.timedelta(seconds=2)
    main, sub = sandbox.account_sids[0], sandbox.account_sids[1]
    new_notification = sandbox.add_record("notifications", sub, message_date=now, date_created=now)
    new_event = sandbox.add_record("monitor_events", main)
    new_credential = sandbox.add_record("sip_credentials", sub)
    queue = sandbox.expected("queues", main)[0]
    new_member = sandbox.add_record("queue_members", main, queue_sid=queue["sid"])
    time.sleep(1.1)  # a run reads up to its start second

    second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
    since = {
        stream: {a: format_iso(dt.datetime.fromisoformat(v) - dt.timedelta(days=1)) for a, v in marks.items()}
        for stream in WINDOWED
        if (marks := bookmarks(first.state, stream))
    }
    since["conference_participant_summaries"] = since["conference_summaries"]
    assert_exact(sandbox, second, floors(second), since)
    assert new_notification["sid"] in {r["sid"] for r in second.records["notifications"]}
    assert new_event["sid"] in {r["sid"] for r in second.records["monitor_events"]}
    assert new_credential["sid"] in {r["sid"] for r in second.records["sip_credentials"]}
    assert (queue["sid"], new_member["call_sid"]) in set(second.keys("queue_members"))
    for stream in WINDOWED:
        assert len(second.records[stream]) < len(first.records[stream]), stream
        old, new = bookmarks(first.state, stream), bookmarks(second.state, stream)
        assert all(new[a] >= old[a] for a in old), stream


def test_an_account_without_insights_is_skipped_with_one_warning(sandbox, config, catalog, tmp_path):
    run = run_tap(tmp_path, config, catalog=catalog)
    disabled = sandbox.account_sids[2]
    for stream in INSIGHTS:
        lines = [
            line
            for line in run.stderr.splitlines()
            if "WARNING" in line and f"Skipping {stream} for account {disabled}" in line
        ]
        assert len(lines) == 1, lines
        assert "Voice Insights Advanced Features is not enabled" in lines[0]
        assert disabled not in {r["account_sid"] for r in run.records[stream]}
    assert "ERROR" not in run.stderr


def test_insights_and_monitor_are_clamped_to_30_days_with_one_warning(sandbox, config, catalog, tmp_path):
    sandbox.reset_stats()
    run = run_tap(tmp_path, config, catalog=catalog)
    floor = floors(run)
    for stream in ("call_summaries", "conference_summaries", "monitor_events"):
        assert run.stderr.count(f"{stream}: Twilio keeps 30 days") == 1
        assert floor[stream] >= format_iso(dt.datetime.now(UTC) - dt.timedelta(days=30))
    stats = sandbox.stats.snapshot()
    assert 400 not in stats["by_status"]  # no list asked for more than Twilio keeps
    starts = [
        re.search(r"(StartTime|CreatedAfter|StartDate)=([^&]+)", path)
        for _, path in stats["requests"]
        if "/insights/" in path or "/Events" in path
    ]
    assert all(m is None or m.group(2).replace("%3A", ":") >= floor["call_summaries"][:10] for m in starts)


def test_a_partial_summary_is_read_again_until_it_is_complete(tmp_path):
    # the sandbox's clock 6 h behind: its newest calls are older than the tap's settling margin, so only the
    # partial-summary rule can hold the bookmark back
    real_now = dt.datetime.now(UTC).replace(microsecond=0)
    with Sandbox(seed=11, subaccounts=0, days=5, now=real_now - dt.timedelta(hours=6)) as sb:
        ended = sb.now - dt.timedelta(minutes=15)  # partial: 10 to 30 minutes after the call ended
        call = sb.add_record("calls", start_time=ended - dt.timedelta(minutes=3), end_time=ended, status="completed")
        conference = sb.add_record(
            "conferences", status="completed", date_created=ended - dt.timedelta(minutes=20), date_updated=ended
        )
        config = sb.tap_config(lookback_days=0, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), {"call_summaries", "conference_summaries"})
        first = run_tap(tmp_path, config, catalog=catalog)
        calls = {r["call_sid"]: r for r in first.records["call_summaries"]}
        conferences = {r["conference_sid"]: r for r in first.records["conference_summaries"]}
        assert calls[call["sid"]]["processing_state"] == "partial"
        assert conferences[conference["sid"]]["processing_state"] == "in_progress"
        # the bookmark stays at (or before) the summary still settling, though the run read 6 h beyond it
        assert bookmarks(first.state, "call_summaries")[sb.main_account_sid] <= calls[call["sid"]]["start_time"]
        assert (
            bookmarks(first.state, "conference_summaries")[sb.main_account_sid]
            <= conferences[conference["sid"]]["create_time"]
        )

        sb.set_now(sb.now + dt.timedelta(minutes=30))  # both settle
        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        calls = {r["call_sid"]: r for r in second.records["call_summaries"]}
        conferences = {r["conference_sid"]: r for r in second.records["conference_summaries"]}
        assert calls[call["sid"]]["processing_state"] == "complete"
        assert conferences[conference["sid"]]["processing_state"] == "complete"
        # once nothing is settling, the bookmark moves on to the settling margin of the run
        margin = format_iso(dt.datetime.now(UTC) - dt.timedelta(hours=4, minutes=30))
        assert calls[call["sid"]]["start_time"] < bookmarks(second.state, "call_summaries")[sb.main_account_sid]
        assert bookmarks(second.state, "call_summaries")[sb.main_account_sid] <= margin
