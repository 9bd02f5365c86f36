"""The sandbox's TaskRouter and per-account alerts behave as Twilio's docs say (see twilio_sandbox.taskrouter)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from twilio_sandbox import Sandbox

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=31, subaccounts=2, days=40, now=NOW) as sandbox:
        yield sandbox


def get(sb: Sandbox, path: str, account: int = 0) -> tuple[int, Any]:
    """(status, JSON body) of a GET with an account's own sid and auth token."""
    sid = sb.account_sids[account]
    token = sb.accounts_by_sid[sid].record["auth_token"]
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    request = urllib.request.Request(sb.url + path, headers={"Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_each_account_sees_its_own_workspaces_and_alerts(sb: Sandbox) -> None:
    for index, sid in enumerate(sb.account_sids):
        _, page = get(sb, "/taskrouter/v1/Workspaces?PageSize=1000", index)
        assert [w["sid"] for w in page["workspaces"]] == [w["sid"] for w in sb.expected("taskrouter_workspaces", sid)]
        assert all(w["account_sid"] == sid for w in page["workspaces"])
        _, alerts = get(sb, "/monitor/v1/Alerts?PageSize=1000", index)
        assert alerts["alerts"]
        assert {a["account_sid"] for a in alerts["alerts"]} == {sid}
    assert not sb.expected("taskrouter_workspaces", sb.account_sids[2])  # an even subaccount: no contact centre
    sub_ws = sb.expected("taskrouter_workspaces", sb.account_sids[1])[0]["sid"]
    status, body = get(sb, f"/taskrouter/v1/Workspaces/{sub_ws}/Workers", 0)  # the main account's credentials
    assert (status, body["code"]) == (404, 20404)


def test_events_default_to_15_minutes_and_keep_30_days(sb: Sandbox) -> None:
    ws = sb.expected("taskrouter_workspaces")[0]["sid"]
    events = f"/taskrouter/v1/Workspaces/{ws}/Events?PageSize=1000"
    task = sb.taskrouter.add_task(workspace_sid=ws)
    _, recent = get(sb, events)
    assert {e["event_data"]["task_sid"] for e in recent["events"]} == {task["sid"]}
    _, hour = get(sb, events + "&Minutes=60")
    assert len(hour["events"]) >= len(recent["events"])
    _, month = get(sb, events + f"&StartDate={stamp(NOW - dt.timedelta(days=29))}")
    assert len(month["events"]) > len(hour["events"])
    assert all(isinstance(e["event_data"], dict) for e in month["events"])
    status, body = get(sb, events + f"&StartDate={stamp(NOW - dt.timedelta(days=31))}")
    assert (status, body["code"]) == (400, 20001)
    # both ends inclusive, and the equality filters
    at = month["events"][5]["event_date"]
    _, exact = get(sb, events + f"&StartDate={at}&EndDate={at}")
    assert month["events"][5]["sid"] in {e["sid"] for e in exact["events"]}
    _, created = get(sb, events + f"&StartDate={stamp(NOW - dt.timedelta(days=29))}&EventType=task.created")
    assert created["events"]
    assert {e["event_type"] for e in created["events"]} == {"task.created"}
    _, of_task = get(sb, events + f"&Minutes=5&TaskSid={task['sid']}")
    assert {e["event_type"] for e in of_task["events"]} == {"task.created", "task-queue.entered"}


def test_a_task_that_ended_is_listed_five_minutes_then_gone_with_its_reservations(sb: Sandbox) -> None:
    ws = sb.expected("taskrouter_workspaces")[0]["sid"]
    task = next(t for t in sb.expected("taskrouter_tasks") if t["assignment_status"] == "assigned")
    reservations = f"/taskrouter/v1/Workspaces/{ws}/Tasks/{task['sid']}/Reservations"
    assert get(sb, reservations)[1]["reservations"]
    sb.taskrouter.complete_task(task["sid"])
    sb.set_now(NOW + dt.timedelta(minutes=4))
    _, listed = get(sb, f"/taskrouter/v1/Workspaces/{ws}/Tasks?PageSize=1000")
    done = next(t for t in listed["tasks"] if t["sid"] == task["sid"])
    assert done["assignment_status"] == "completed"
    assert done["age"] == int((NOW + dt.timedelta(minutes=4)).timestamp()) - int(
        dt.datetime.fromisoformat(done["date_created"].replace("Z", "+00:00")).timestamp()
    )
    sb.set_now(NOW + dt.timedelta(minutes=6))
    _, listed = get(sb, f"/taskrouter/v1/Workspaces/{ws}/Tasks?PageSize=1000")
    assert task["sid"] not in {t["sid"] for t in listed["tasks"]}
    assert get(sb, reservations)[0] == 404
    assert task["sid"] not in {r["task_sid"] for r in sb.expected("taskrouter_task_reservations")}
