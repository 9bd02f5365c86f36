"""End to end: TaskRouter and every account's alerts through `tap-twilio | target-postgres`, row contents checked
with SQL after a full run, an incremental run after changes, and a run after a task ended and left Twilio."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from test_postgres_e2e import pg_query, pg_schema, pg_target_config, pipe, stream_info
from test_taskrouter import LOOKBACK, TASKROUTER, converted
from twilio_sandbox import Sandbox

from tap_twilio.dates import format_iso, parse_iso
from tests.conftest import FAST_RETRIES, discover, select

pytestmark = [pytest.mark.postgres, pytest.mark.heavy(seconds=25)]
__all__ = ["pg_schema"]  # the fixture, used by name
WINDOWED = {"taskrouter_events": "event_date", "alerts": "date_created"}


def loaded(schema: str, table: str) -> dict[str, dict[str, Any]]:
    """sid -> the row as JSON (timestamps as PostgreSQL prints them), the Singer metadata columns included."""
    return {row["sid"]: row for (row,) in pg_query(f'SELECT to_jsonb(t) FROM "{schema}"."{table}" t')}


def same(row: dict[str, Any], record: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Fields of a loaded row that differ from the record the sandbox served."""
    diffs = []
    for name, prop in schema["properties"].items():
        want, got = record.get(name), row.get(name)
        if prop.get("format") == "date-time" and want is not None:
            want = str(want)[:19]
            got = None if got is None else str(got)[:19]
        elif want is not None and "number" in prop["type"]:
            want, got = float(want), None if got is None else float(got)
        if want != got:
            diffs.append(f"{name}: {got!r} != {want!r}")
    return diffs


def served_now(sb: Sandbox, stream: str, schema: dict[str, Any], window: tuple[str, str] | None) -> dict[str, Any]:
    out = {}
    for raw in sb.expected(stream):
        record = converted(raw, schema)
        if stream == "taskrouter_workspaces":
            record["workspace_sid"] = record["sid"]
        if window is not None and not window[0] <= record[WINDOWED[stream]] < window[1]:
            continue
        out[record["sid"]] = record
    return out


def assert_tables(schema: str, sb: Sandbox, info: dict[str, Any], windows: dict[str, tuple[str, str]]) -> None:
    """Each full-table table's live rows are what Twilio lists now (contents included); the windowed ones hold
    every record served in their window."""
    problems = []
    for stream in (*TASKROUTER, "alerts"):
        rows = loaded(schema, stream)
        if stream not in WINDOWED:
            rows = {sid: row for sid, row in rows.items() if row["_sdc_deleted_at"] is None}
        want = served_now(sb, stream, info[stream]["schema"], windows.get(stream))
        if set(rows) != set(want):
            problems.append(f"{stream}: {len(set(rows) - set(want))} extra, {len(set(want) - set(rows))} missing")
            continue
        problems += [f"{stream} {sid} {d}" for sid in want for d in same(rows[sid], want[sid], info[stream]["schema"])]
    assert not problems, "\n".join(problems[:20])


def test_taskrouter_and_alerts_in_postgres_full_incremental_and_a_task_that_left(
    tmp_path: Path, pg_schema: str
) -> None:
    real = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with Sandbox(seed=24, subaccounts=2, days=40, now=real - dt.timedelta(hours=1)) as sb:
        config = sb.tap_config(lookback_days=LOOKBACK.days, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), {*TASKROUTER, "alerts"})
        info = stream_info(catalog)
        target = pg_target_config(pg_schema)
        state1 = pipe(tmp_path, config, "target-postgres", target, catalog=catalog, name="first")
        end1 = max(p["replication_key_value"] for p in state1["bookmarks"]["alerts"]["partitions"])
        floor = format_iso(parse_iso(end1) - dt.timedelta(days=30, hours=-1))
        assert_tables(pg_schema, sb, info, dict.fromkeys(WINDOWED, (floor, end1)))

        sb.set_now(real - dt.timedelta(minutes=50))
        main, sub = sb.account_sids[0], sb.account_sids[1]
        task = next(t for t in sb.expected("taskrouter_tasks", main) if t["assignment_status"] == "assigned")
        sb.taskrouter.complete_task(task["sid"])
        sb.taskrouter.add_task(sub)
        sb.taskrouter.set_worker_activity(sb.expected("taskrouter_workers", sub)[0]["sid"], "Available")
        worker = sb.expected("taskrouter_workers", main)[-1]["sid"]
        sb.delete_record("taskrouter_workers", worker)
        sb.add_record("alerts", sub)
        time.sleep(1.1)  # a run reads up to its start second, exclusive
        state2 = pipe(tmp_path, config, "target-postgres", target, catalog=catalog, state=state1, name="second")
        end2 = max(p["replication_key_value"] for p in state2["bookmarks"]["alerts"]["partitions"])
        assert_tables(pg_schema, sb, info, dict.fromkeys(WINDOWED, (floor, end2)))
        flagged = pg_query(f'SELECT sid FROM "{pg_schema}".taskrouter_workers WHERE _sdc_deleted_at IS NOT NULL')
        assert flagged == [(worker,)]
        status = f'SELECT assignment_status, _sdc_deleted_at FROM "{pg_schema}".taskrouter_tasks WHERE sid = %s'
        assert pg_query(status, task["sid"]) == [("completed", None)]

        sb.set_now(real - dt.timedelta(minutes=40))  # ten minutes after it ended, Twilio no longer lists the task
        state3 = pipe(tmp_path, config, "target-postgres", target, catalog=catalog, state=state2, name="third")
        end3 = max(p["replication_key_value"] for p in state3["bookmarks"]["alerts"]["partitions"])
        assert_tables(pg_schema, sb, info, dict.fromkeys(WINDOWED, (floor, end3)))
        (row,) = pg_query(status, task["sid"])
        assert row[0] == "completed"
        assert row[1] is not None, "the task that left Twilio is flagged deleted, its last state kept"
        reservations = pg_query(
            f'SELECT count(*) FILTER (WHERE _sdc_deleted_at IS NULL) FROM "{pg_schema}".taskrouter_task_reservations '
            "WHERE task_sid = %s",
            task["sid"],
        )
        assert reservations == [(0,)]
        completed = pg_query(
            f"SELECT count(*) FROM \"{pg_schema}\".taskrouter_events WHERE event_type = 'task.completed' "
            "AND event_data->>'task_sid' = %s",
            task["sid"],
        )
        assert completed == [(1,)], "the history of the task stays in the event log"
