"""TaskRouter records of the sandbox: one workspace's configuration, workers, tasks, reservations and event log."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from .products import DAY, Record, iso, make_sid, rng

HOST = "https://taskrouter.twilio.com/v1"
RESOURCES = (
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
_ACTIVITIES = (("Offline", False), ("Available", True), ("Unavailable", False), ("Break", False))
_CHANNELS = (("default", "Default"), ("voice", "Voice"), ("chat", "Chat"), ("sms", "SMS"), ("video", "Video"))
_LIVE = ("pending", "reserved", "assigned", "wrapping")
_SKILLS = ("billing", "technical", "sales", "returns")
_STEPS = (("accepted", "accepted"), ("wrapup", "wrapping"), ("completed", "completed"))


@dataclass
class Store:
    """One account's TaskRouter records, and what the lists need that records do not show."""

    records: dict[str, list[Record]] = field(default_factory=lambda: {name: [] for name in RESOURCES})
    ended: dict[str, int] = field(default_factory=dict)  # task sid -> when it completed or was canceled
    hidden: dict[str, dict[str, Any]] = field(default_factory=dict)  # event sid -> filter fields (TaskSid, …)


@dataclass
class Space:
    """One workspace while its records are made or changed."""

    seed: Any
    account_sid: str
    sid: str
    store: Store
    r: random.Random

    def of(self, resource: str) -> list[Record]:
        """This workspace's records of a resource."""
        return [rec for rec in self.store.records[resource] if rec.get("workspace_sid") == self.sid]


def ws_url(ws: str) -> str:
    """A workspace's url."""
    return f"{HOST}/Workspaces/{ws}"


def gen_workspace(seed: Any, account: tuple[str, int], k: int, span: tuple[int, int], store: Store) -> None:
    """Workspace k of an account: configuration, workers, 40 days of tasks (a few live at ``span``'s end)."""
    (account_sid, index), (start, end) = account, span
    created = start + k * DAY + 3600
    ws = make_sid("WS", seed, account_sid, "workspace", k)
    space = Space(seed, account_sid, ws, store, rng(seed, account_sid, "taskrouter", k))
    out = store.records
    acts = [_config(space, "activities", "WA", j, created) for j in range(len(_ACTIVITIES))]
    for act, (name, available) in zip(acts, _ACTIVITIES, strict=True):
        act.update(friendly_name=name, available=available)
    base = ws_url(ws)
    lists = ("activities", "task_channels", "task_queues", "workers", "workflows", "tasks", "events", "statistics")
    out["taskrouter_workspaces"].append(
        {
            "account_sid": account_sid,
            "date_created": iso(created),
            "date_updated": iso(created + 60),
            "default_activity_name": "Offline",
            "default_activity_sid": acts[0]["sid"],
            "event_callback_url": "https://example.com/taskrouter/events",
            "events_filter": None,
            "friendly_name": ("Support", "Sales")[k % 2],
            "multi_task_enabled": True,
            "sid": ws,
            "timeout_activity_name": "Offline",
            "timeout_activity_sid": acts[0]["sid"],
            "prioritize_queue_order": "FIFO",
            "url": base,
            "links": {name: f"{base}/{name.title().replace('_', '')}" for name in lists},
        }
    )
    out["taskrouter_activities"] += acts
    channels = [_config(space, "task_channels", "TC", j, created) for j in range(len(_CHANNELS))]
    for channel, (unique, name) in zip(channels, _CHANNELS, strict=True):
        channel.update(unique_name=unique, friendly_name=name, channel_optimized_routing=unique == "chat")
    out["taskrouter_task_channels"] += channels
    queues = [_config(space, "task_queues", "WQ", j, created + 600) for j in range(2)]
    for j, queue in enumerate(queues):
        queue.update(
            friendly_name=_SKILLS[j].title(),
            assignment_activity_sid=acts[2]["sid"],
            assignment_activity_name="Unavailable",
            reservation_activity_sid=None,
            reservation_activity_name=None,
            max_reserved_workers=1,
            target_workers=f"skills HAS '{_SKILLS[j]}'",
            task_order="FIFO",
        )
    out["taskrouter_task_queues"] += queues
    flow = _config(space, "workflows", "WW", 0, created + 900)
    targets = [{"queue": q["sid"], "expression": q["target_workers"]} for q in queues]
    flow.update(
        friendly_name="Default Fifo Workflow",
        assignment_callback_url="https://example.com/taskrouter/assignment",
        fallback_assignment_callback_url=None,
        configuration=json.dumps(
            {"task_routing": {"filters": [{"filter_friendly_name": "skills", "targets": targets}]}}
        ),
        document_content_type="application/json",
        task_reservation_timeout=120,
    )
    out["taskrouter_workflows"].append(flow)
    for j in range(6 if index == 0 else 3):
        gen_worker(space, j, created + 1200 + j * 60, end)
    n_history, n_live = (30, 5) if index == 0 else (10, 2)
    for j in range(n_history):  # ended hours or days ago: gone from the Tasks list, kept in the event log
        at = end - int(space.r.uniform(0.1, 40) * DAY)
        gen_task(space, j, max(at, created + 2000), status=None)
    for j in range(n_live):  # live at the end: every step of theirs before it
        gen_task(space, n_history + j, end - 1800 - 600 * j, status=_LIVE[j % len(_LIVE)])


def _config(space: Space, kind: str, prefix: str, j: int, created: int) -> Record:
    sid = make_sid(prefix, space.seed, space.account_sid, space.sid, kind, j)
    return {
        "account_sid": space.account_sid,
        "sid": sid,
        "workspace_sid": space.sid,
        "friendly_name": kind,
        "date_created": iso(created + j),
        "date_updated": iso(created + j),
        "url": f"{ws_url(space.sid)}/{kind.title().replace('_', '')}/{sid}",
        "links": {"workspace": ws_url(space.sid)},
    }


def gen_worker(space: Space, j: int, created: int, end: int) -> Record:
    """A worker in some activity, with a channel per task channel (and the event of its last activity change)."""
    r, acts = space.r, space.of("taskrouter_activities")
    sid = make_sid("WK", space.seed, space.account_sid, space.sid, "worker", j)
    act = acts[r.randrange(len(acts))]
    changed = min(created + r.randint(60, 5 * DAY), end - 60)
    base = f"{ws_url(space.sid)}/Workers/{sid}"
    worker = {
        "account_sid": space.account_sid,
        "activity_name": act["friendly_name"],
        "activity_sid": act["sid"],
        "attributes": json.dumps({"skills": [_SKILLS[j % 4]], "languages": ["en"], "contact_uri": f"client:agent{j}"}),
        "available": act["available"],
        "date_created": iso(created),
        "date_status_changed": iso(changed),
        "date_updated": iso(changed),
        "friendly_name": f"agent{j}",
        "sid": sid,
        "workspace_sid": space.sid,
        "url": base,
        "links": {"channels": f"{base}/Channels", "activity": act["url"], "workspace": ws_url(space.sid)},
    }
    space.store.records["taskrouter_workers"].append(worker)
    for channel in space.of("taskrouter_task_channels"):
        capacity = 3 if channel["unique_name"] == "chat" else 1
        assigned = r.randint(0, capacity) if act["available"] else 0
        wc = make_sid("WC", space.seed, space.account_sid, sid, channel["sid"])
        space.store.records["taskrouter_worker_channels"].append(
            {
                "account_sid": space.account_sid,
                "assigned_tasks": assigned,
                "available": True,
                "available_capacity_percentage": 100 * (capacity - assigned) // capacity,
                "configured_capacity": capacity,
                "date_created": iso(created),
                "date_updated": iso(created),
                "sid": wc,
                "task_channel_sid": channel["sid"],
                "task_channel_unique_name": channel["unique_name"],
                "worker_sid": sid,
                "workspace_sid": space.sid,
                "url": f"{base}/Channels/{wc}",
            }
        )
    log_event(space, "worker.activity.update", changed, f"Worker agent{j} updated to {act['friendly_name']}", worker)
    return worker


def gen_task(space: Space, j: int, created: int, *, status: str | None) -> Record:
    """A task, its reservation and events; ``status`` None: a task that ended (completed or canceled)."""
    r = space.r
    queues, channels, flows = (space.of(f"taskrouter_{n}") for n in ("task_queues", "task_channels", "workflows"))
    workers = space.of("taskrouter_workers")
    queue, channel, flow = queues[r.randrange(len(queues))], channels[1 + r.randrange(3)], flows[0]
    worker = workers[r.randrange(len(workers))]
    status = status or ("completed" if r.random() < 0.85 else "canceled")
    steps = {"pending": 0, "reserved": 1, "assigned": 2, "wrapping": 3, "completed": 4, "canceled": 0}[status]
    times = [created + k * r.randint(20, 120) for k in range(5)]
    sid = make_sid("WT", space.seed, space.account_sid, space.sid, "task", j, created)
    base = f"{ws_url(space.sid)}/Tasks/{sid}"
    task = {
        "account_sid": space.account_sid,
        "assignment_status": status,
        "attributes": json.dumps({"type": channel["unique_name"], "from": f"+1415555{j % 10000:04d}"}),
        "addons": "{}",
        "date_created": iso(created),
        "date_updated": iso(times[steps]),
        "task_queue_entered_date": iso(created),
        "priority": r.choice((0, 0, 10)),
        "reason": {"completed": "Task completed", "canceled": "Caller hung up"}.get(status),
        "sid": sid,
        "task_queue_sid": queue["sid"],
        "task_queue_friendly_name": queue["friendly_name"],
        "task_channel_sid": channel["sid"],
        "task_channel_unique_name": channel["unique_name"],
        "timeout": 86400,
        "workflow_sid": flow["sid"],
        "workflow_friendly_name": flow["friendly_name"],
        "workspace_sid": space.sid,
        "url": base,
        "links": {
            "reservations": f"{base}/Reservations",
            "task_queue": queue["url"],
            "workflow": flow["url"],
            "workspace": ws_url(space.sid),
        },
        "virtual_start_time": iso(created),
        "ignore_capacity": False,
        "routing_target": None,
    }
    space.store.records["taskrouter_tasks"].append(task)
    if status in ("completed", "canceled"):
        space.store.ended[sid] = times[steps]
    log_event(space, "task.created", created, "Task created", task=task)
    log_event(space, "task-queue.entered", created, f"Task entered queue {queue['friendly_name']}", task=task)
    if steps >= 1:
        reservation = reserve(space, task, worker, times[1])
        for k, (name, state) in enumerate(_STEPS, 2):
            if steps >= k:
                reservation.update(reservation_status=state, date_updated=iso(times[k]))
                log_event(space, f"reservation.{name}", times[k], f"Reservation {state}", task=task, res=reservation)
    if status in ("completed", "canceled"):
        log_event(space, f"task.{status}", times[steps], f"Task {status}", task=task)
    return task


def reserve(space: Space, task: Record, worker: Record, at: int) -> Record:
    """A worker is offered a task."""
    sid = make_sid("WR", space.seed, task["sid"], worker["sid"], at)
    reservation = {
        "account_sid": task["account_sid"],
        "date_created": iso(at),
        "date_updated": iso(at),
        "reservation_status": "pending",
        "sid": sid,
        "task_sid": task["sid"],
        "worker_name": worker["friendly_name"],
        "worker_sid": worker["sid"],
        "workspace_sid": task["workspace_sid"],
        "url": f"{task['url']}/Reservations/{sid}",
        "links": {"task": task["url"], "worker": worker["url"], "workspace": ws_url(task["workspace_sid"])},
    }
    space.store.records["taskrouter_task_reservations"].append(reservation)
    log_event(space, "reservation.created", at, "Reservation created", task=task, res=reservation)
    return reservation


def log_event(
    space: Space,
    kind: str,
    at: int,
    text: str,
    worker: Record | None = None,
    *,
    task: Record | None = None,
    res: Record | None = None,
) -> Record:
    """One entry of the workspace's event log (``event_data`` an object, as Twilio sends it)."""
    subject = res or task or worker or {}
    ws, events = space.sid, space.store.records["taskrouter_events"]
    sid = make_sid("EV", space.seed, subject["sid"], kind, at, len(events))
    data: Record = {"workspace_sid": ws}
    if task is not None:
        data.update(
            task_sid=task["sid"],
            task_attributes=task["attributes"],
            task_queue_sid=task["task_queue_sid"],
            task_assignment_status=task["assignment_status"],
            task_priority=str(task["priority"]),
        )
    if res is not None:
        data.update(reservation_sid=res["sid"], worker_sid=res["worker_sid"], worker_name=res["worker_name"])
    if worker is not None:
        data.update(
            worker_sid=worker["sid"],
            worker_name=worker["friendly_name"],
            worker_activity_sid=worker["activity_sid"],
            worker_activity_name=worker["activity_name"],
            worker_attributes=worker["attributes"],
        )
    event = {
        "account_sid": space.account_sid,
        "actor_sid": ws,
        "actor_type": "workspace",
        "actor_url": ws_url(ws),
        "description": text,
        "event_data": data,
        "event_date": iso(at),
        "event_date_ms": at * 1000 + int(sid[-3:], 16) % 1000,
        "event_type": kind,
        "resource_sid": subject["sid"],
        "resource_type": kind.split(".", maxsplit=1)[0].replace("-", "_"),
        "resource_url": subject["url"],
        "sid": sid,
        "source": "twilio",
        "source_ip_address": "54.0.0.1",
        "url": f"{ws_url(ws)}/Events/{sid}",
        "workspace_sid": ws,
    }
    space.store.hidden[sid] = {
        "task_sid": data.get("task_sid"),
        "worker_sid": data.get("worker_sid"),
        "task_queue_sid": data.get("task_queue_sid"),
        "reservation_sid": data.get("reservation_sid"),
        "workflow_sid": task["workflow_sid"] if task else None,
        "task_channel": task["task_channel_unique_name"] if task else None,
    }
    events.append(event)
    return event
