"""TaskRouter v1 in the sandbox: workspaces and their activities, task channels, queues, workers (and their
channels), workflows, live tasks (and their reservations) and the event log.

Like Twilio:

* Per account with its own credentials; the main account (two workspaces) and odd subaccounts (one) use TaskRouter,
  even subaccounts list no workspaces. Lists page like every product API (``meta``, keyset ``PageToken``,
  ``PageSize`` up to 1000), newest first (events by ``event_date``).
* Tasks do not stay: a completed or canceled task is listed for five minutes after it ended, then it is gone, and
  its reservations with it (their list answers 404). Older tasks are only in the event log.
* Events are the history, kept 30 days: ``StartDate``/``EndDate`` (ISO date-time, both inclusive), ``Minutes``, and
  the equality filters ``EventType``, ``TaskSid``, ``WorkerSid``, ``TaskQueueSid``, ``ReservationSid``,
  ``WorkflowSid``, ``TaskChannel``, ``Sid``. **Without ``StartDate`` or ``Minutes`` the list covers only the last
  15 minutes.** A ``StartDate`` before the 30 days answers 400/20001 (a sandbox rule, so a client must clamp).
* ``attributes`` (workers, tasks), ``configuration`` (workflows) and ``addons`` are JSON text, as Twilio sends them;
  ``event_data`` is an object. A task's ``age`` counts seconds to the sandbox clock.

Mutations (at the sandbox clock, see ``Sandbox.set_now``): ``add_task``, ``complete_task``, ``cancel_task`` and
``set_worker_activity`` log their events; ``add_record``/``update_record``/``delete_record`` change the
configuration lists (also through ``Sandbox.add_record`` and friends).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .products import DAY, AccountLike, Params, ProductError, Record, SandboxLike, Served, iso, make_sid, page, rng
from .products import time_param as _time
from .products import to_ts as _ts
from .taskrouter_data import RESOURCES, Space, Store, gen_task, gen_workspace, log_event

RETENTION_DAYS = 30
DEFAULT_MINUTES = 15  # the Events list without StartDate or Minutes
LISTED_AFTER_END = 300  # a completed or canceled task stays listed five minutes
CONFIG = RESOURCES[:7]  # workspaces .. workflows: add_record, update_record, delete_record
_WS = "/v1/Workspaces/{workspace_sid}"
LISTS: dict[str, tuple[str, str]] = {  # resource -> (path, list key)
    "taskrouter_workspaces": ("/v1/Workspaces", "workspaces"),
    "taskrouter_activities": (f"{_WS}/Activities", "activities"),
    "taskrouter_task_channels": (f"{_WS}/TaskChannels", "channels"),
    "taskrouter_task_queues": (f"{_WS}/TaskQueues", "task_queues"),
    "taskrouter_workers": (f"{_WS}/Workers", "workers"),
    "taskrouter_worker_channels": (f"{_WS}/Workers/{{worker_sid}}/Channels", "channels"),
    "taskrouter_workflows": (f"{_WS}/Workflows", "workflows"),
    "taskrouter_tasks": (f"{_WS}/Tasks", "tasks"),
    "taskrouter_task_reservations": (f"{_WS}/Tasks/{{task_sid}}/Reservations", "reservations"),
    "taskrouter_events": (f"{_WS}/Events", "events"),
}
_PATTERNS = [
    (name, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9]+)", path) + "/?$"))
    for name, (path, _) in LISTS.items()
]
_EVENT_FILTERS = {
    "EventType": "event_type",
    "TaskSid": "task_sid",
    "WorkerSid": "worker_sid",
    "TaskQueueSid": "task_queue_sid",
    "ReservationSid": "reservation_sid",
    "WorkflowSid": "workflow_sid",
    "TaskChannel": "task_channel",
    "Sid": "sid",
}
_PARENTS = {
    "workspace_sid": "taskrouter_workspaces",
    "worker_sid": "taskrouter_workers",
    "task_sid": "taskrouter_tasks",
}


class TaskRouter:
    """The TaskRouter product (a ``ProductApi`` handler); ``sb.taskrouter`` for its mutations."""

    def __init__(self, sb: SandboxLike, accounts: Callable[[], Sequence[AccountLike]]) -> None:
        """Bind to a sandbox; ``accounts`` lists its accounts (main first)."""
        self.sb = sb
        self._accounts = accounts
        self._stores: dict[str, Store] = {}
        self._lock = threading.RLock()
        self._added = 0

    def resources(self) -> frozenset[str]:
        """The resources served here."""
        return frozenset(LISTS)

    @staticmethod
    def uses(account: AccountLike) -> bool:
        """Whether an account runs a contact centre: the main account and odd subaccounts."""
        return account.index == 0 or account.index % 2 == 1

    # ------------------------------------------------------------------ serving
    def route(self, product: str, path: str) -> tuple[str, Record] | None:
        """``(resource, route)`` for a TaskRouter list path."""
        if product != "taskrouter":
            return None
        for name, pattern in _PATTERNS:
            if m := pattern.match(path):
                return name, {"kind": "product", "resource": name, "path_params": m.groupdict()}
        return None

    def dispatch(self, route: Record, params: Params, base_url: str, path: str, account: AccountLike) -> Record:
        """A page of the authenticated account's list."""
        resource = route["resource"]
        with self._lock:
            records = self._served(account, resource, route["path_params"], dict(params), path)
        return page(base_url + path, params, LISTS[resource][1], 1000, Served(records))

    def _served(
        self, account: AccountLike, resource: str, where: dict[str, str], p: dict[str, str], path: str
    ) -> list[Record]:
        store, now = self.store(account), self.sb.clock()
        for field, parent in _PARENTS.items():
            if field in where:
                parents = self._tasks(store, now) if parent == "taskrouter_tasks" else store.records[parent]
                if not any(r["sid"] == where[field] for r in parents):  # an ended task's reservations go with it
                    raise ProductError(404, 20404, f"The requested resource {path} was not found")
        if resource == "taskrouter_tasks":
            recs = self._tasks(store, now)
        elif resource == "taskrouter_events":
            recs = self._events(store, p, now)
        else:
            recs = store.records[resource]
        recs = [r for r in recs if all(r.get(k) == v for k, v in where.items())]
        if resource == "taskrouter_tasks" and p.get("AssignmentStatus"):
            wanted = set(p["AssignmentStatus"].split(","))
            recs = [r for r in recs if r["assignment_status"] in wanted]
        key = "event_date" if resource == "taskrouter_events" else "date_created"
        return sorted(recs, key=lambda r: (_ts(r[key]) or 0, r["sid"]), reverse=True)

    @staticmethod
    def _tasks(store: Store, now: int) -> list[Record]:
        out = []
        for task in store.records["taskrouter_tasks"]:
            ended = store.ended.get(task["sid"])
            if ended is None or now - ended < LISTED_AFTER_END:
                out.append({**task, "age": max(0, now - (_ts(task["date_created"]) or 0))})
        return out

    @staticmethod
    def _events(store: Store, p: dict[str, str], now: int) -> list[Record]:
        visible = now - RETENTION_DAYS * DAY
        lo, hi = _time(p, "StartDate", now), _time(p, "EndDate", now, end=True)
        if lo is not None and lo < visible - visible % DAY:
            raise ProductError(400, 20001, "StartDate: Events are kept for 30 days")
        if lo is None:
            minutes = p.get("Minutes") or str(DEFAULT_MINUTES)
            if not minutes.isdigit():
                raise ProductError(400, 20001, f"Invalid Minutes: {minutes}")
            lo = now - int(minutes) * 60
        lo, hi = max(lo, visible), now if hi is None else hi
        wanted = [(field, p[name]) for name, field in _EVENT_FILTERS.items() if p.get(name)]
        out = []
        for event in store.records["taskrouter_events"]:
            if lo <= (_ts(event["event_date"]) or 0) <= hi:
                fields = {**store.hidden.get(event["sid"], {}), **event}
                if all(fields.get(field) == value for field, value in wanted):
                    out.append(event)
        return out

    # ------------------------------------------------------------------ data
    def store(self, account: AccountLike) -> Store:
        """An account's TaskRouter records (generated once, then mutated)."""
        with self._lock:
            found = self._stores.get(account.sid)
            if found is None:
                found = self._stores[account.sid] = Store()
                if self.uses(account):
                    for k in range(2 if account.index == 0 else 1):
                        span = (account.t_start, min(account.t_end, self.sb.clock()))
                        gen_workspace(self.sb.seed, (account.sid, account.index), k, span, found)
            return found

    def expected(self, resource: str, account_sid: str | None) -> list[Record]:
        """Records as served now: every workspace (worker, live task) in list order; events of the last 30 days."""
        now = self.sb.clock()
        params = {"StartDate": iso(now - RETENTION_DAYS * DAY) or ""}
        out: list[Record] = []
        with self._lock:
            for account in self._accounts():
                if account_sid not in (None, account.sid):
                    continue
                for ws in self._served(account, "taskrouter_workspaces", {}, {}, ""):
                    where = {"workspace_sid": ws["sid"]}
                    if resource == "taskrouter_workspaces":
                        out.append(ws)
                    elif resource in ("taskrouter_worker_channels", "taskrouter_task_reservations"):
                        parent, field = (
                            ("taskrouter_workers", "worker_sid")
                            if resource == "taskrouter_worker_channels"
                            else ("taskrouter_tasks", "task_sid")
                        )
                        for rec in self._served(account, parent, where, {}, ""):
                            out += self._served(account, resource, {**where, field: rec["sid"]}, {}, "")
                    else:
                        out += self._served(account, resource, where, params, "")
        return copy.deepcopy(out)

    # ------------------------------------------------------------------ mutations
    def _find(self, resource: str, sid: str) -> tuple[AccountLike, Store, Record]:
        for account in self._accounts():
            store = self.store(account)
            for rec in store.records[resource]:
                if rec["sid"] == sid:
                    return account, store, rec
        raise KeyError(f"{resource} {sid} not found")

    def _account(self, account_sid: str | None) -> AccountLike:
        return next(a for a in self._accounts() if account_sid in (None, a.sid))

    def add_task(self, account_sid: str | None = None, workspace_sid: str | None = None, **fields: Any) -> Record:
        """A new pending task, created now (logs task.created and task-queue.entered)."""
        with self._lock:
            account = self._account(account_sid)
            store = self.store(account)
            ws = workspace_sid or store.records["taskrouter_workspaces"][0]["sid"]
            self._added += 1
            space = Space(self.sb.seed, account.sid, ws, store, rng(self.sb.seed, account.sid, "task", self._added))
            task = gen_task(space, 100_000 + self._added, self.sb.clock(), status="pending")
            task.update(fields)
            return copy.deepcopy(task)

    def _end(self, sid: str, status: str, reason: str) -> Record:
        with self._lock:
            account, store, task = self._find("taskrouter_tasks", sid)
            now = self.sb.clock()
            task.update(assignment_status=status, reason=reason, date_updated=iso(now))
            for reservation in store.records["taskrouter_task_reservations"]:
                if reservation["task_sid"] == sid:
                    state = "completed" if status == "completed" else "canceled"
                    reservation.update(reservation_status=state, date_updated=iso(now))
            store.ended[sid] = now
            space = Space(self.sb.seed, account.sid, task["workspace_sid"], store, rng(sid))
            log_event(space, f"task.{status}", now, f"Task {status}", task=task)
            return copy.deepcopy(task)

    def complete_task(self, sid: str) -> Record:
        """A task completes now; it stays listed five minutes (``set_now`` past that and it is gone)."""
        return self._end(sid, "completed", "Task completed")

    def cancel_task(self, sid: str, reason: str = "Caller hung up") -> Record:
        """A task is canceled now; listed five more minutes, then gone."""
        return self._end(sid, "canceled", reason)

    def set_worker_activity(self, worker_sid: str, activity_name: str) -> Record:
        """A worker changes activity now (logs worker.activity.update)."""
        with self._lock:
            account, store, worker = self._find("taskrouter_workers", worker_sid)
            space = Space(self.sb.seed, account.sid, worker["workspace_sid"], store, rng(worker_sid))
            act = next(a for a in space.of("taskrouter_activities") if a["friendly_name"] == activity_name)
            now = self.sb.clock()
            worker.update(
                activity_sid=act["sid"],
                activity_name=activity_name,
                available=act["available"],
                date_status_changed=iso(now),
                date_updated=iso(now),
            )
            log_event(space, "worker.activity.update", now, f"Worker updated to {activity_name}", worker)
            return copy.deepcopy(worker)

    def add_record(self, resource: str, account_sid: str | None = None, **fields: Any) -> Record:
        """A new configuration record (a copy of the account's first of that list, created now)."""
        if resource not in CONFIG:
            msg = f"add_record does not support {resource!r} (tasks: add_task)"
            raise ValueError(msg)
        with self._lock:
            account = self._account(account_sid)
            records = self.store(account).records[resource]
            rec = copy.deepcopy(records[0])
            self._added += 1
            now = iso(self.sb.clock())
            rec["sid"] = make_sid(rec["sid"][:2], self.sb.seed, account.sid, resource, "added", self._added)
            rec["url"] = rec["url"].rsplit("/", 1)[0] + "/" + rec["sid"]
            rec.update(date_created=now, date_updated=now, **fields)
            records.append(rec)
            return copy.deepcopy(rec)

    def update_record(self, resource: str, sid: str, **fields: Any) -> Record:
        """Change fields of a record; date_updated moves to now unless given."""
        with self._lock:
            _, _, rec = self._find(resource, sid)
            fields.setdefault("date_updated", iso(self.sb.clock()))
            rec.update(fields)
            return copy.deepcopy(rec)

    def delete_record(self, resource: str, sid: str) -> Record:
        """Delete a configuration record (a worker takes its channels with it)."""
        with self._lock:
            _, store, rec = self._find(resource, sid)
            store.records[resource].remove(rec)
            if resource == "taskrouter_workers":
                channels = store.records["taskrouter_worker_channels"]
                channels[:] = [c for c in channels if c["worker_sid"] != sid]
            return copy.deepcopy(rec)
