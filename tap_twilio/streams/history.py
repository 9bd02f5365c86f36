"""History Twilio keeps briefly: Voice Insights summaries (30 days), Monitor events (30 days), notifications."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.dates import format_iso, parse_iso
from tap_twilio.stream_base import ALERT_RETENTION
from tap_twilio.streams.base import Endpoint
from tap_twilio.windows import Unit, Window

if TYPE_CHECKING:
    from tap_twilio.http import TwilioAPIError

INSIGHTS_RETENTION = dt.timedelta(days=30)  # Voice Insights keeps call and conference summaries 30 days
# A call lasts up to 4 hours (Twilio's default time limit), has no summary until about 10 minutes after it ends
# and a complete one about 30 minutes after; lists filter on the start: a bookmark stays this far behind a run.
SETTLE = dt.timedelta(hours=4, minutes=30)


class InsightsStream(TwilioStream):
    """A Voice Insights summary list: Advanced Features per account, and summaries that settle late."""

    product = "insights"
    filter_granularity = "timestamp"  # ISO timestamps
    retention: ClassVar[dt.timedelta | None] = INSIGHTS_RETENTION
    feature: ClassVar[str] = "Voice Insights Advanced Features"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Track, per account, the earliest summary of this run that is not complete yet."""
        super().__init__(*args, **kwargs)
        self._unsettled: dict[str, str] = {}

    @override
    def _keep(
        self, records: list[dict[str, Any]], unit: Unit, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> list[dict[str, Any]]:
        kept = super()._keep(records, unit, context, *args, **kwargs)
        account, field = context.get("account_sid", ""), self.filter_field or ""
        for record in kept:
            value = record.get(field)
            if record.get("processing_state") != "complete" and value:
                earliest = self._unsettled.get(account)
                if earliest is None or value < earliest:
                    self._unsettled[account] = value
        return kept

    @override
    def _checkpoint(self, unit: Unit, high_water: str | None) -> None:
        # the bookmark never passes a summary still partial, nor the last SETTLE of the run: both are read again
        window = unit.window
        if window is not None:
            cap = min(
                self._unsettled.get(unit.context.get("account_sid", ""), window.end_iso),
                format_iso(self.run.started_at - SETTLE),
            )
            if cap < window.end_iso:
                end = parse_iso(cap)
                unit = dataclasses.replace(unit, window=Window(min(window.start, end), end))
        super()._checkpoint(unit, high_water)

    @override
    def _skip(self, account: str, exc: TwilioAPIError) -> None:
        self.run.skip(self.name, account, exc.status)
        if account not in self._skipped:
            self._skipped.add(account)
            code = f", Twilio error {exc.code}" if exc.code else ""
            self.logger.warning(
                "Skipping %s for account %s: %s is not enabled for it (HTTP %s%s); other accounts continue",
                self.name,
                account,
                self.feature,
                exc.status,
                code,
            )


class CallSummaries(InsightsStream):
    """One Voice Insights summary per call."""

    name = "call_summaries"
    path = "/v1/Voice/Summaries"
    primary_keys = ("call_sid",)
    replication_key = "start_time"
    date_filter = "StartTime"
    end_filter = "EndTime"
    filter_field = "start_time"
    extra_params: ClassVar[dict[str, str]] = {"ProcessingState": "all"}  # Twilio's default lists complete ones only


class ConferenceSummaries(InsightsStream):
    """One Voice Insights summary per conference; its participant summaries are its children."""

    name = "conference_summaries"
    path = "/v1/Conferences"
    list_key = "conferences"
    primary_keys = ("conference_sid",)
    replication_key = "create_time"
    date_filter = "CreatedAfter"
    end_filter = "CreatedBefore"
    filter_field = "create_time"
    child_key = "conference_sid"
    child_key_field = "conference_sid"


class ConferenceParticipantSummaries(InsightsStream):
    """Who was in a conference, kept after it ended (the 2010 Participants list forgets them)."""

    name = "conference_participant_summaries"
    path = "/v1/Conferences/{conference_sid}/Participants"
    list_key = "participants"
    primary_keys = ("participant_sid",)
    parent_stream_type = ConferenceSummaries
    state_partitioning_keys: ClassVar[list[str] | None] = []  # read again with its conference: no state of its own
    retention = None


ENDPOINTS = (
    Endpoint(
        name="monitor_events",
        product="monitor",
        path="/v1/Events",
        list_key="events",
        replication_key="event_date",
        date_filter="StartDate",
        end_filter="EndDate",
        filter_field="event_date",
        filter_granularity="timestamp",
        retention=ALERT_RETENTION,  # 30 days (13 months on paid editions)
    ),
    Endpoint(
        name="notifications",
        path="/Accounts/{account_sid}/Notifications.json",
        replication_key="message_date",
        date_filter="MessageDate",  # day filters MessageDate>= and MessageDate<=
        filter_field="message_date",
    ),
)

HISTORY_STREAMS: tuple[type[TwilioStream], ...] = (
    CallSummaries,
    ConferenceSummaries,
    ConferenceParticipantSummaries,
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
)
