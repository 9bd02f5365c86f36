"""TaskRouter for every account, and every account's Monitor alerts: exact full and incremental syncs, retention,
the Events filters, tasks that end, and state written before alerts were per account."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio_sandbox import Sandbox

from tap_twilio.dates import format_iso, parse_iso, to_iso
from tests.conftest import FAST_RETRIES, TapRun, discover, run_tap, select

TASKROUTER = (
    "taskrouter_workspaces",
    "taskrouter_activities",
    "taskrouter_task_channels",
    "taskrouter_task_queues",
    "taskrouter_workers",
    "taskrouter_worker_channels",
    "taskrouter_workflows",
    "taskrouter_tasks",
    "taskrouter_task_reservations",
    "taskrouter_events",
)
WINDOWED = {"taskrouter_events": "event_date", "alerts": "date_created"}  # stream -> the field its window is on
LOOKBACK = dt.timedelta(days=1)


def converted(record: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A sandbox record the way the tap emits it: ISO-8601 UTC dates, numeric text as exact numbers."""
    out = dict(record)
    for name, prop in schema["properties"].items():
        value = out.get(name)
        if isinstance(value, str) and value and prop.get("format") == "date-time":
            out[name] = to_iso(value)
        elif isinstance(value, str) and "number" in prop["type"]:
            out[name] = int(value) if value.isdigit() else Decimal(value)
    return out


def started(run: TapRun) -> str:
    """When the run started (its windows end there): the bookmark a complete window saves."""
    return max(p["replication_key_value"] for p in run.state["bookmarks"]["alerts"]["partitions"])


def expected(sb: Sandbox, run: TapRun, stream: str, since: dict[str, str] | None = None) -> dict[str, Any]:
    """sid -> record the run must have emitted: every record served now; for windowed streams those in
    [since (per account) or 30 days less the tap's hour of margin, the run's start)."""
    schema = run.schemas[stream]["schema"]
    end = started(run)
    floor = format_iso(parse_iso(end) - dt.timedelta(days=30) + dt.timedelta(hours=1))
    out = {}
    for account in sb.account_sids:
        for raw in sb.expected(stream, account):
            record = converted(raw, schema)
            if stream == "taskrouter_workspaces":
                record["workspace_sid"] = record["sid"]
            if stream in WINDOWED:
                value = record[WINDOWED[stream]]
                if not max(floor, (since or {}).get(account, floor)) <= value < end:
                    continue
            out[record["sid"]] = record
    return out


def assert_exact(sb: Sandbox, run: TapRun, stream: str, since: dict[str, str] | None = None) -> None:
    emitted = [r["sid"] for r in run.records[stream]]
    assert len(emitted) == len(set(emitted)), f"{stream}: a record emitted twice"
    want = expected(sb, run, stream, since)
    got = {r["sid"]: r for r in run.records[stream]}
    assert set(got) == set(want), f"{stream}: {len(set(got) - set(want))} extra, {len(set(want) - set(got))} missing"
    for sid, record in want.items():
        assert got[sid] == record, f"{stream} {sid}"


def since_of(run: TapRun, stream: str) -> dict[str, str]:
    """account -> where the next run reads from: the bookmark less the lookback."""
    return {
        p["context"]["account_sid"]: format_iso(parse_iso(p["replication_key_value"]) - LOOKBACK)
        for p in run.state["bookmarks"][stream]["partitions"]
    }


def activated(run: TapRun) -> set[str]:
    """Streams the run sent ACTIVATE_VERSION for."""
    return {m["stream"] for m in map(json.loads, run.stdout.splitlines()) if m["type"] == "ACTIVATE_VERSION"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Three runs of every TaskRouter stream and alerts, the sandbox changing between them (its clock an hour behind
    the tap's, so everything it stamps is already in the past for the tap)."""
    tmp = tmp_path_factory.mktemp("taskrouter")
    real = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with Sandbox(seed=21, subaccounts=2, days=45, now=real - dt.timedelta(hours=1)) as sb:
        config = sb.tap_config(lookback_days=LOOKBACK.days, **FAST_RETRIES)
        catalog = select(discover(tmp, config), {*TASKROUTER, "alerts"})
        first = run_tap(tmp, config, catalog=catalog, env={"TAP_TWILIO_LOGLEVEL": "DEBUG"})
        snapshot1 = {s: expected(sb, first, s) for s in (*TASKROUTER, "alerts")}

        sb.set_now(real - dt.timedelta(minutes=50))
        main, sub = sb.account_sids[0], sb.account_sids[1]
        live = sb.expected("taskrouter_tasks", main)
        ended = sb.taskrouter.complete_task(next(t for t in live if t["assignment_status"] == "assigned")["sid"])
        added = sb.taskrouter.add_task(sub)
        worker = sb.expected("taskrouter_workers", sub)[0]
        sb.taskrouter.set_worker_activity(worker["sid"], "Break")
        queue = sb.expected("taskrouter_task_queues", main)[0]
        sb.update_record("taskrouter_task_queues", queue["sid"], friendly_name="Billing (EMEA)")
        gone = sb.expected("taskrouter_workers", main)[-1]
        sb.delete_record("taskrouter_workers", gone["sid"])
        new_alert = sb.add_record("alerts", sub)
        sb.reset_stats()
        time.sleep(1.1)  # a run reads up to its start second, exclusive
        second = run_tap(tmp, config, catalog=catalog, state=first.state)
        requests2 = list(sb.stats.requests)

        sb.set_now(real - dt.timedelta(minutes=40))  # the completed task ended ten minutes ago: gone
        third = run_tap(tmp, config, catalog=catalog, state=second.state)
        yield {
            "sb": sb,
            "first": first,
            "second": second,
            "third": third,
            "snapshot1": snapshot1,
            "ended": ended,
            "added": added,
            "worker": worker,
            "queue": queue,
            "gone": gone,
            "alert": new_alert,
            "requests2": requests2,
        }


@pytest.mark.parametrize("stream", [*TASKROUTER, "alerts"])
def test_a_full_sync_emits_exactly_what_every_account_serves(runs: dict[str, Any], stream: str) -> None:
    first = runs["first"]
    got = {r["sid"]: r for r in first.records[stream]}
    assert got == runs["snapshot1"][stream]
    assert len(got) == len(first.records[stream])
    users = {runs["sb"].account_sids[i] for i in ((0, 1, 2) if stream == "alerts" else (0, 1))}
    assert {r["account_sid"] for r in got.values()} == users, "an account is missing (or one without TaskRouter)"
    if stream != "alerts":
        assert all(r["workspace_sid"].startswith("WS") for r in got.values())


@pytest.mark.parametrize("stream", [*TASKROUTER, "alerts"])
def test_an_incremental_sync_after_changes_is_exact(runs: dict[str, Any], stream: str) -> None:
    sb, first, second = runs["sb"], runs["first"], runs["second"]
    if stream in WINDOWED:
        sb_now = sb.now
        sb.set_now(sb_now - dt.timedelta(minutes=10))  # what the second run saw
        try:
            assert_exact(sb, second, stream, since_of(first, stream))
        finally:
            sb.set_now(sb_now)
    else:
        assert stream in activated(second)  # a full-table stream, read whole again


def test_the_second_run_saw_each_change(runs: dict[str, Any]) -> None:
    second = runs["second"]
    tasks = {r["sid"]: r for r in second.records["taskrouter_tasks"]}
    assert tasks[runs["ended"]["sid"]]["assignment_status"] == "completed"  # still listed five minutes
    assert tasks[runs["added"]["sid"]]["assignment_status"] == "pending"
    workers = {r["sid"]: r for r in second.records["taskrouter_workers"]}
    assert workers[runs["worker"]["sid"]]["activity_name"] == "Break"
    assert runs["gone"]["sid"] not in workers
    assert runs["gone"]["sid"] not in {r["worker_sid"] for r in second.records["taskrouter_worker_channels"]}
    queues = {r["sid"]: r for r in second.records["taskrouter_task_queues"]}
    assert queues[runs["queue"]["sid"]]["friendly_name"] == "Billing (EMEA)"
    kinds = {(r["event_type"], r["event_data"].get("task_sid")) for r in second.records["taskrouter_events"]}
    assert ("task.completed", runs["ended"]["sid"]) in kinds
    assert ("task.created", runs["added"]["sid"]) in kinds
    assert runs["alert"]["sid"] in {r["sid"] for r in second.records["alerts"]}
    # the full-table lists as Twilio serves them after the changes (the sandbox clock of the second run)
    sb = runs["sb"]
    sb_now = sb.now
    sb.set_now(sb_now - dt.timedelta(minutes=10))
    try:
        for stream in TASKROUTER:
            if stream not in WINDOWED:
                assert_exact(sb, second, stream)
    finally:
        sb.set_now(sb_now)


def test_a_task_that_ended_leaves_the_list_and_the_target_is_told(runs: dict[str, Any]) -> None:
    sb, third = runs["sb"], runs["third"]
    ended = runs["ended"]["sid"]
    assert ended not in {r["sid"] for r in third.records["taskrouter_tasks"]}
    assert ended not in {r["task_sid"] for r in third.records["taskrouter_task_reservations"]}
    for stream in TASKROUTER:
        if stream not in WINDOWED:
            assert_exact(sb, third, stream)
    assert activated(third) == set(TASKROUTER) - {"taskrouter_events"}
    # its history stays in the event log, which is never versioned away
    assert any(r["event_data"].get("task_sid") == ended for r in third.records["taskrouter_events"])


def test_events_are_always_asked_for_with_both_dates_from_the_bookmark(runs: dict[str, Any]) -> None:
    first, second = runs["first"], runs["second"]
    since, end = since_of(first, "taskrouter_events"), started(second)
    events = [urlsplit(t) for _, t in runs["requests2"] if urlsplit(t).path.endswith("/Events")]
    assert events
    for target in events:
        query = parse_qs(target.query)
        assert set(query) >= {"StartDate", "EndDate"}, target  # never Twilio's 15-minute default
        assert "Minutes" not in query
        assert query["EndDate"] == [end.replace("+00:00", "Z")]
        assert query["StartDate"][0] in {v.replace("+00:00", "Z") for v in since.values()}


def test_alerts_and_taskrouter_read_each_account_with_its_own_credentials_and_leak_none(runs: dict[str, Any]) -> None:
    sb = runs["sb"]
    for run in (runs["first"], runs["second"], runs["third"]):
        assert set(sb.stats.by_status) <= {200}
        state = json.dumps(run.states)
        for secret in sb.secrets():
            assert secret not in run.stdout
            assert secret not in run.stderr
            assert secret not in state
    assert {p["context"]["account_sid"] for p in runs["first"].state["bookmarks"]["alerts"]["partitions"]} == set(
        sb.account_sids
    )


def test_the_sandbox_lists_the_last_15_minutes_without_a_start() -> None:
    """Why the tap always sends StartDate: the same list without it holds only the last 15 minutes."""
    with Sandbox(seed=22, subaccounts=0, days=10) as sb:
        ws = sb.expected("taskrouter_workspaces")[0]["sid"]
        sb.taskrouter.add_task(workspace_sid=ws)
        auth = base64.b64encode(f"{sb.main_account_sid}:{sb.main_auth_token}".encode()).decode()

        def events(query: str) -> list[dict[str, Any]]:
            url = f"{sb.url}/taskrouter/v1/Workspaces/{ws}/Events?PageSize=1000{query}"
            request = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
            with urllib.request.urlopen(request) as response:
                return json.loads(response.read())["events"]  # type: ignore[no-any-return]

        recent = events("")
        assert {e["event_type"] for e in recent} == {"task.created", "task-queue.entered"}
        start = format_iso(sb.now - dt.timedelta(days=29)).replace("+00:00", "Z")
        assert len(events(f"&StartDate={start}")) > len(recent)


@pytest.mark.parametrize(
    "legacy",
    [
        lambda value: {"alerts": {"replication_key": "date_updated", "replication_key_value": value}},
        lambda value: {"alerts": value.replace("+00:00", "Z")},  # singer-io / Stitch
    ],
    ids=["stream-level", "singer-io"],
)
def test_a_stream_level_alerts_bookmark_is_the_main_accounts_and_subaccounts_start_at_start_date(
    tmp_path: Path, legacy: Any
) -> None:
    with Sandbox(seed=23, subaccounts=2, days=60) as sb:
        config = sb.tap_config(lookback_days=0, **FAST_RETRIES)  # start_date 61 days back: clamped to 30
        bookmark = format_iso(sb.now - dt.timedelta(days=5))
        catalog = select(discover(tmp_path, config), {"alerts"})
        run = run_tap(tmp_path, config, catalog=catalog, state={"bookmarks": legacy(bookmark)})
        main = sb.main_account_sid
        assert_exact(sb, run, "alerts", since={main: bookmark})
        by_account = {a: [r for r in run.records["alerts"] if r["account_sid"] == a] for a in sb.account_sids}
        assert all(by_account.values()), "every account's alerts"
        assert all(r["date_created"] >= bookmark for r in by_account[main])
        assert any(r["date_created"] < bookmark for a in sb.account_sids[1:] for r in by_account[a])
        warnings = [line for line in run.stderr.splitlines() if "alerts: Twilio keeps 30 days" in line]
        assert len(warnings) == 1
        assert set(sb.stats.by_status) == {200}
        partitions = run.state["bookmarks"]["alerts"]["partitions"]
        assert {p["context"]["account_sid"] for p in partitions} == set(sb.account_sids)


def test_the_30_days_are_clamped_with_one_warning_on_a_first_run_only(runs: dict[str, Any]) -> None:
    def warnings(run: TapRun) -> list[str]:
        return [line for line in run.stderr.splitlines() if "taskrouter_events: Twilio keeps 30 days" in line]

    assert len(warnings(runs["first"])) == 1
    assert warnings(runs["second"]) == warnings(runs["third"]) == []
    # an account without a workspace gets its bookmark too: it has no event to miss, and nothing to warn about
    partitions = runs["first"].state["bookmarks"]["taskrouter_events"]["partitions"]
    assert {p["context"]["account_sid"] for p in partitions} == set(runs["sb"].account_sids)
