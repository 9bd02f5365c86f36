"""TaskRouter (taskrouter v1, contact-centre routing): every workspace's configuration, workers, live tasks and the
event log, each account with its own credentials.

No TaskRouter list but Events filters on dates, so every other list is read whole each run and is full table: a row
Twilio deleted (a worker, a queue, a task that ended) leaves the target through ACTIVATE_VERSION. Events are the
history (Twilio keeps 30 days): incremental on event_date, read from the account's bookmark with StartDate/EndDate.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.streams.base import Endpoint

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from tap_twilio.page import Page

PRODUCT = "taskrouter"
EVENT_RETENTION = dt.timedelta(days=30)  # Twilio keeps TaskRouter events 30 days
WORKSPACE = "/v1/Workspaces/{workspace_sid}"


class TaskrouterWorkspaces(TwilioStream):
    """Workspaces; every other TaskRouter list is one workspace's."""

    name = "taskrouter_workspaces"
    product = PRODUCT
    path = "/v1/Workspaces"
    list_key = "workspaces"
    child_key = "workspace_sid"

    @override
    def records_of(self, page: Page) -> list[dict[str, Any]]:
        records = super().records_of(page)
        for record in records:  # like every TaskRouter record, a workspace names its workspace
            record["workspace_sid"] = record.get("sid")
        return records


class TaskrouterWorkspaceChildStream(TwilioStream):
    """A full-table list of one workspace whose records have lists of their own (workers, tasks)."""

    product = PRODUCT
    parent_stream_type = TaskrouterWorkspaces
    state_partitioning_keys: ClassVar[list[str] | None] = []  # read whole with its workspace: no state of its own

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        assert self.child_key is not None
        return {
            "account_sid": record["account_sid"],
            "workspace_sid": record["workspace_sid"],
            self.child_key: record["sid"],
        }


class TaskrouterWorkers(TaskrouterWorkspaceChildStream):
    """Workers (agents) with their current activity; each has a channel per task channel."""

    name = "taskrouter_workers"
    path = f"{WORKSPACE}/Workers"
    list_key = "workers"
    child_key = "worker_sid"


class TaskrouterTasks(TaskrouterWorkspaceChildStream):
    """Live tasks: Twilio deletes a task minutes after it completes or is canceled (its history is in Events)."""

    name = "taskrouter_tasks"
    path = f"{WORKSPACE}/Tasks"
    list_key = "tasks"
    child_key = "task_sid"


ENDPOINTS = (
    *(
        Endpoint(
            name=f"taskrouter_{name}",
            product=PRODUCT,
            path=f"{WORKSPACE}/{part}",
            list_key=key,
            parent=TaskrouterWorkspaces,
        )
        for name, part, key in (
            ("activities", "Activities", "activities"),
            ("task_channels", "TaskChannels", "channels"),
            ("task_queues", "TaskQueues", "task_queues"),
            ("workflows", "Workflows", "workflows"),
        )
    ),
    Endpoint(
        name="taskrouter_worker_channels",
        product=PRODUCT,
        path=f"{WORKSPACE}/Workers/{{worker_sid}}/Channels",
        list_key="channels",
        parent=TaskrouterWorkers,
    ),
    Endpoint(
        name="taskrouter_task_reservations",
        product=PRODUCT,
        path=f"{WORKSPACE}/Tasks/{{task_sid}}/Reservations",
        list_key="reservations",
        parent=TaskrouterTasks,  # of live tasks: a task's reservations go when it does
    ),
)


class TaskrouterEvents(TwilioStream):
    """Every workspace's event log since the account's bookmark (Twilio keeps 30 days)."""

    name = "taskrouter_events"
    product = PRODUCT
    path = f"{WORKSPACE}/Events"
    list_key = "events"
    replication_key = "event_date"
    date_filter = "StartDate"  # always sent: without StartDate or Minutes, Twilio lists the last 15 minutes only
    end_filter = "EndDate"  # inclusive, like StartDate: the run keeps [start, end) and the next one starts at end
    filter_field = "event_date"
    filter_granularity = "timestamp"
    retention = EVENT_RETENTION
    parent_stream_type = TaskrouterWorkspaces
    state_partitioning_keys: ClassVar[list[str] | None] = ["account_sid"]  # one bookmark per account

    @override
    def _advance_child(self, account: str | None) -> None:
        # private TwilioStream hook, called once the account's workspaces were all listed: an account without a
        # workspace has no event to miss either (a workspace created later logs events after this run's start),
        # so it gets a bookmark too, rather than starting (and warning about the 30 days) from start_date each run
        if account not in self._child_read and account not in self._child_failed:
            self._child_read.add(account)
        super()._advance_child(account)


TASKROUTER_STREAMS: tuple[type[TwilioStream], ...] = (
    TaskrouterWorkspaces,
    TaskrouterWorkers,
    TaskrouterTasks,
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
    TaskrouterEvents,
)
