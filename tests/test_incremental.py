"""Incremental syncs never lose or duplicate a row: per-account state, gapless windows, lookback, resume."""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import time
from pathlib import Path
from typing import Any

from twilio_sandbox import Sandbox

from tap_twilio.dates import format_iso, to_iso
from tests.conftest import FAST_RETRIES, TAP, TapRun, discover, parse_output, run_tap, select
from tests.exact import assert_exact, committed, hold_clock

UTC = dt.timezone.utc


def messages_catalog(tmp_path: Path, config: dict[str, Any], *extra: str) -> dict[str, Any]:
    return select(discover(tmp_path, config), {"messages", *extra})


def partition_values(state: dict[str, Any], stream: str) -> dict[str, str]:
    """account_sid -> bookmark of one stream."""
    return {
        p["context"]["account_sid"]: p["replication_key_value"]
        for p in state["bookmarks"][stream].get("partitions", [])
        if "replication_key_value" in p
    }


def test_accounts_with_disjoint_history_are_each_synced_in_full(tmp_path):
    # the subaccount's data ends 60 days before the main account's starts
    with Sandbox(seed=3, subaccounts=1, days=30, account_offsets_days={1: 60}) as sb:
        config = sb.tap_config(start_date=format_iso(sb.now - dt.timedelta(days=120)), **FAST_RETRIES)
        catalog = messages_catalog(tmp_path, config, "calls")
        # the main account alone first: its bookmark is now
        first = run_tap(tmp_path, {**config, "account_sids": [sb.main_account_sid]}, catalog=catalog)
        assert {r["account_sid"] for r in first.records["messages"]} == {sb.main_account_sid}
        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        sub = sb.account_sids[1]
        for stream in ("messages", "calls"):
            expected = {r["sid"] for r in sb.expected(stream, sub)}
            got = {r["sid"] for r in second.records[stream] if r["account_sid"] == sub}
            assert got == expected, stream
        bookmarks = partition_values(second.state, "messages")
        assert set(bookmarks) == set(sb.account_sids)


def test_records_on_window_boundaries_and_at_midnight_are_emitted_once(tmp_path):
    with Sandbox(seed=4, subaccounts=0, days=20, sizes={"messages": 50, "calls": 20}) as sb:
        today = sb.now.replace(hour=0, minute=0, second=0, microsecond=0)
        boundary_sids = []
        for days_back in range(1, 15):
            midnight = today - dt.timedelta(days=days_back)
            for moment in (midnight, midnight - dt.timedelta(seconds=1), midnight + dt.timedelta(seconds=1)):
                rec = sb.add_record("messages", date_sent=moment, date_created=moment, date_updated=moment)
                boundary_sids.append(rec["sid"])
        config = sb.tap_config(date_window_days=1, max_concurrency=4, **FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=messages_catalog(tmp_path, config))
        sids = [r["sid"] for r in run.records["messages"]]
        assert len(sids) == len(set(sids))
        assert set(boundary_sids) <= set(sids)
        assert set(sids) == {m["sid"] for m in sb.expected("messages")}


def test_a_message_not_yet_sent_is_emitted(tmp_path):
    with Sandbox(seed=5, subaccounts=0, days=10, sizes={"messages": 20}) as sb:
        queued = sb.add_record("messages", date_sent=None, status="queued", date_created=sb.now - dt.timedelta(hours=2))
        config = sb.tap_config(**FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=messages_catalog(tmp_path, config))
        matches = [r for r in run.records["messages"] if r["sid"] == queued["sid"]]
        assert len(matches) == 1 and matches[0]["date_sent"] is None


def test_second_run_picks_up_new_and_changed_records_and_nothing_older_than_the_lookback(tmp_path):
    with Sandbox(seed=6, subaccounts=1, days=60) as sb:
        config = sb.tap_config(lookback_days=2, **FAST_RETRIES)
        streams = {"messages", "calls", "recordings", "conferences", "usage_records", "addresses"}
        catalog = select(discover(tmp_path, config), streams)
        hold_clock(sb)  # today's usage moves with the clock: served = compared
        first = run_tap(tmp_path, config, catalog=catalog)
        assert_exact(sb, first.stdout, config["start_date"])
        hold_clock(sb)  # changes are stamped after the first run started
        now = dt.datetime.now(UTC)
        sub = sb.account_sids[1]
        # late changes to recent records (inside the lookback)
        recent = [
            m
            for m in sb.expected("messages", sub)
            if m["date_sent"]
            and dt.datetime.strptime(m["date_sent"], "%a, %d %b %Y %H:%M:%S %z") > now - dt.timedelta(days=1)
        ]
        assert recent, "the sandbox should have messages from the last day"
        changed_message = sb.update_record("messages", recent[0]["sid"], status="delivered", price="-0.00790")
        recent_calls = [
            c
            for c in sb.expected("calls")
            if c["start_time"]
            and dt.datetime.strptime(c["start_time"], "%a, %d %b %Y %H:%M:%S %z") > now - dt.timedelta(days=1)
        ]
        changed_call = sb.update_record("calls", recent_calls[0]["sid"], status="completed", duration="61")
        # an old conference that changed: Conferences filter on DateUpdated, so any age is found
        old_conference = sb.expected("conferences")[-1]
        changed_conference = sb.update_record("conferences", old_conference["sid"], status="completed")
        arrived = sb.now - dt.timedelta(minutes=1)  # shows up in the API after run 1 read that minute
        new_message = sb.add_record("messages", sub, date_sent=arrived, date_created=arrived, date_updated=sb.now)
        new_address = sb.add_record("addresses", sb.main_account_sid)
        time.sleep(1.1)  # a run reads up to its start second; changes made in that second are next run's

        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        assert_exact(sb, second.stdout, config["start_date"], every=False)  # each record as the sandbox has it now
        by_sid = {r["sid"]: r for r in second.records["messages"]}
        assert by_sid[changed_message["sid"]]["status"] == "delivered"
        assert str(by_sid[changed_message["sid"]]["price"]) == "-0.0079"
        assert new_message["sid"] in by_sid
        calls = {r["sid"]: r for r in second.records["calls"]}
        assert calls[changed_call["sid"]]["duration"] == 61
        conferences = {r["sid"]: r for r in second.records["conferences"]}
        assert conferences[changed_conference["sid"]]["status"] == "completed"
        # client-filtered streams: only records at or after the bookmark ("at": the newest one again)
        address_bookmark = partition_values(first.state, "addresses")[sb.main_account_sid]
        addresses = second.records["addresses"]
        assert new_address["sid"] in {r["sid"] for r in addresses}
        assert all(r["date_updated"] >= address_bookmark for r in addresses)
        assert len(addresses) < len(first.records["addresses"])
        # nothing unchanged from before the lookback comes back
        floor = format_iso(
            dt.datetime.fromisoformat(min(partition_values(first.state, "messages").values())) - dt.timedelta(days=2)
        )
        assert all(r["date_sent"] is None or r["date_sent"] >= floor for r in second.records["messages"])
        assert len(second.records["messages"]) < len(first.records["messages"]) / 5
        # usage: trailing days re-read, never the whole history
        days = {r["start_date"] for r in second.records["usage_records"]}
        assert 1 <= len(days) <= 4
        # bookmarks per account, moved forward, capped at the sync start
        before, after = partition_values(first.state, "messages"), partition_values(second.state, "messages")
        assert set(after) == set(sb.account_sids)
        assert all(after[a] >= before[a] for a in before)
        assert all(v <= format_iso(dt.datetime.now(UTC)) for v in after.values())


def test_usage_records_are_each_accounts_own(tmp_path):
    with Sandbox(seed=8, subaccounts=2, days=15) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"usage_records"}))
        usage_requests = [p for _, p in sb.stats.requests if "/Usage/Records/Daily.json" in p]
        assert usage_requests and all("IncludeSubaccounts=false" in p for p in usage_requests)
        main_rows = {(r["category"], r["start_date"]): r for r in sb.expected("usage_records", sb.main_account_sid)}
        for record in run.records["usage_records"]:
            if record["account_sid"] == sb.main_account_sid:
                source = main_rows[(record["category"], record["start_date"])]
                assert str(record["count"]) == source["count"]


def test_a_subaccount_added_between_runs_is_synced_from_start_date(tmp_path):
    with Sandbox(seed=9, subaccounts=1, days=40) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        catalog = messages_catalog(tmp_path, config)
        first = run_tap(tmp_path, config, catalog=catalog)
        new_sid = sb.add_subaccount(offset_days=5)
        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        got = {r["sid"] for r in second.records["messages"] if r["account_sid"] == new_sid}
        start = config["start_date"].replace("Z", "+00:00")
        expected = {
            m["sid"] for m in sb.expected("messages", new_sid) if not m["date_sent"] or to_iso(m["date_sent"]) >= start
        }
        assert got == expected
        assert got
        assert new_sid in partition_values(second.state, "messages")


def test_singer_io_state_is_migrated(tmp_path):
    with Sandbox(seed=10, subaccounts=1, days=60) as sb:
        config = sb.tap_config(lookback_days=1, **FAST_RETRIES)
        bookmark = sb.now - dt.timedelta(days=10)
        stitch_state = {"bookmarks": {"messages": bookmark.strftime("%Y-%m-%dT%H:%M:%SZ")}}
        run = run_tap(tmp_path, config, catalog=messages_catalog(tmp_path, config), state=stitch_state)
        floor = format_iso(bookmark - dt.timedelta(days=1))
        sent = [r["date_sent"] for r in run.records["messages"] if r["date_sent"]]
        assert sent and min(sent) >= floor
        expected = {m["sid"] for m in sb.expected("messages") if m["date_sent"] and to_iso(m["date_sent"]) >= floor}
        assert expected <= {r["sid"] for r in run.records["messages"]}
        assert set(partition_values(run.state, "messages")) == set(sb.account_sids)


WINDOWED = {"messages": "date_sent", "calls": "start_time"}  # stream -> the field its date filter reads


def largest_window(run: TapRun, start_date: str, days: int) -> dict[tuple[str, str], int]:
    """(stream, account) -> records in its fullest window, the windows as the tap cuts them (`days` long from
    start_date's UTC midnight; the first from start_date)."""
    first_midnight = dt.datetime.fromisoformat(start_date.replace("Z", "+00:00")).replace(hour=0, minute=0, second=0)
    counts: dict[tuple[str, str, int], int] = {}
    for stream, field in WINDOWED.items():
        for r in run.records.get(stream, []):
            ts = dt.datetime.fromisoformat((r[field] or r["date_created"]).replace("Z", "+00:00"))
            key = (stream, r["account_sid"], (ts - first_midnight) // dt.timedelta(days=days))
            counts[key] = counts.get(key, 0) + 1
    out: dict[tuple[str, str], int] = {}
    for (stream, account, _window), n in counts.items():
        out[(stream, account)] = max(out.get((stream, account), 0), n)
    return out


def _run_until(
    tmp_path: Path,
    config_path: Path,
    catalog_path: Path,
    state: dict | None,
    stop_after: int,
    *,
    stop_at_resume: bool = False,
) -> TapRun:
    """Run the tap and kill it after `stop_after` records, or (`stop_at_resume`) right after the first STATE that
    marks a partition as resumable (windows finish in any order, so a record count cannot say when that is), or let
    it finish; a killed run keeps what a target commits (its output up to its last STATE) in stdout, records and
    states."""
    cmd = [*TAP, "--config", str(config_path), "--catalog", str(catalog_path)]
    if state is not None:
        state_path = tmp_path / "resume-state.json"
        state_path.write_text(json.dumps(state))
        cmd += ["--state", str(state_path)]
    lines, records = [], 0
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith('{"type":"RECORD"'):
                records += 1
                if records >= stop_after:
                    proc.kill()
                    break
            elif stop_at_resume and line.startswith('{"type":"STATE"') and '"resume":true' in line.replace(" ", ""):
                proc.kill()
                break
        proc.stdout.close()
        proc.wait()
    kept = committed("".join(line for line in lines if line.endswith("\n")))
    return parse_output(kept, TapRun(proc.returncode, kept, f"{records} records printed"))


def test_killed_runs_resume_from_the_last_state_and_lose_nothing(tmp_path):
    with Sandbox(seed=11, subaccounts=2, days=60, sizes={"messages": 400, "calls": 300}) as sb:
        hold_clock(sb)
        config = sb.tap_config(date_window_days=7, lookback_days=1, page_size=50, max_concurrency=4, **FAST_RETRIES)
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(select(discover(tmp_path, config), {"messages", "calls", "message_media"})))
        clean = _run_until(tmp_path, config_path, catalog_path, None, 10**9)
        assert clean.returncode == 0
        rng = random.Random(42)
        state, union, runs, outputs = None, {}, 0, []
        done: set[tuple[str, str]] = set()  # what earlier runs' targets committed
        reread: dict[tuple[str, str], int] = {}  # (stream, account) -> most committed records one run emitted again
        while True:
            runs += 1
            run = _run_until(tmp_path, config_path, catalog_path, state, rng.randint(150, 900))
            outputs.append(run.stdout)
            again: dict[tuple[str, str], int] = {}
            for stream, records in run.records.items():
                for r in records:
                    if (stream, r["sid"]) in done and stream in WINDOWED:
                        part = (stream, r["account_sid"])
                        again[part] = again.get(part, 0) + 1
                    union[(stream, r["sid"])] = r
            done |= {(stream, r["sid"]) for stream, records in run.records.items() for r in records}
            for part, n in again.items():
                reread[part] = max(reread.get(part, 0), n)
            if run.states:
                state = run.states[-1]
            if run.returncode == 0:
                break
            assert runs < 40, "never finished"
        assert runs > 2
        clean_keys = {(s, r["sid"]) for s, recs in clean.records.items() for r in recs}
        assert set(union) == clean_keys
        # what the targets committed over all runs: every record, each exactly as the sandbox serves it
        assert_exact(sb, "\n".join(outputs), config["start_date"], every=True, once=False)
        # docs/incremental.md: a resumed run re-reads at most the windows that were being read when the run stopped
        # (a partition's windows are read at once, at most one per request in flight), not the history. So what one
        # run emits again of what earlier runs committed (records before their last STATE; what came after it a
        # target never saw) is, per windowed partition, at most that many of its largest windows of the clean run
        largest = largest_window(clean, config["start_date"], days=7)
        in_flight = config["max_concurrency"]
        assert all(n <= largest[part] * in_flight for part, n in reread.items()), (reread, largest)


def test_a_resumed_run_continues_at_the_last_window_without_the_lookback(tmp_path):
    with Sandbox(seed=12, subaccounts=0, days=60, sizes={"messages": 400}) as sb:
        config = sb.tap_config(date_window_days=7, lookback_days=3, max_concurrency=2, **FAST_RETRIES)
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(messages_catalog(tmp_path, config)))
        killed = _run_until(tmp_path, config_path, catalog_path, None, 10**9, stop_at_resume=True)
        assert killed.returncode != 0
        (partition,) = killed.states[-1]["bookmarks"]["messages"]["partitions"]
        assert partition["resume"] is True
        sb.reset_stats()
        resumed = _run_until(tmp_path, config_path, catalog_path, killed.states[-1], 10**9)
        assert resumed.returncode == 0
        # windows are fetched concurrently: the earliest day asked for, not the first request, tells where it resumed
        earliest = min(p.split("DateSent%3E=")[1][:10] for _, p in sb.stats.requests if "/Messages.json" in p)
        assert earliest == partition["replication_key_value"][:10]
        assert "resume" not in resumed.states[-1]["bookmarks"]["messages"]["partitions"][0]
