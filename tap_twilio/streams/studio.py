"""Studio (studio v2; v1 is legacy): flows, their executions and each execution's steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.streams.base import Endpoint

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

PRODUCT = "studio"


class StudioFlows(TwilioStream):
    """Flows; every flow's executions are read, also of flows that did not change."""

    name = "studio_flows"
    product = PRODUCT
    path = "/v2/Flows"
    list_key = "flows"
    replication_key = "date_updated"  # no filters: read whole, kept if updated since the bookmark
    children_of_unchanged = True  # a new or ended execution does not move its flow's date_updated
    child_key = "flow_sid"


class StudioExecutions(TwilioStream):
    """Executions created since the account's bookmark less the lookback (they end later: date_updated moves)."""

    name = "studio_executions"
    product = PRODUCT
    path = "/v2/Flows/{flow_sid}/Executions"
    list_key = "executions"
    replication_key = "date_updated"
    date_filter = "DateCreatedFrom"
    end_filter = "DateCreatedTo"
    filter_field = "date_created"
    filter_granularity = "timestamp"
    parent_stream_type = StudioFlows
    state_partitioning_keys = ["account_sid"]  # noqa: RUF012 - the SDK's type

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        # steps of an unchanged, ended execution were read by an earlier run
        if record.get("status") != "active" and not self.changed(record, context):
            return None
        return {"account_sid": record["account_sid"], "flow_sid": record["flow_sid"], "execution_sid": record["sid"]}


ENDPOINTS = (
    Endpoint(
        name="studio_execution_steps",
        product=PRODUCT,
        path="/v2/Flows/{flow_sid}/Executions/{execution_sid}/Steps",
        list_key="steps",
        parent=StudioExecutions,
    ),
)

STUDIO_STREAMS: tuple[type[TwilioStream], ...] = (
    StudioFlows,
    StudioExecutions,
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
)
