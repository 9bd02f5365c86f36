"""The 2010 API and Monitor alerts (Stitch's 23 tables): a few classes with hooks, then the ENDPOINTS table."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.dates import format_iso
from tap_twilio.stream_base import ALERT_RETENTION, MESSAGE_RETENTION, WHOLE_STREAM
from tap_twilio.streams.base import Endpoint
from tap_twilio.windows import Unit

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Iterator

    from singer_sdk.helpers.types import Context, Record

    from tap_twilio.page import Page
    from tap_twilio.windows import Split

CONFERENCE_STATUSES = ({"Status": "init"}, {"Status": "in-progress"}, {"Status": "completed"})
NUMBER_TYPES = {"local": "Local", "mobile": "Mobile", "toll_free": "TollFree"}


class Accounts(TwilioStream):
    """The main account and its subaccounts, from the listing the tap already made."""

    name = "accounts"
    path = "/Accounts.json"
    per_account = False
    state_partitioning_keys = None

    @override
    def planned_lanes(self) -> Iterator[tuple[Hashable, Callable[[], Iterable[Page | Split]]]]:
        return iter(())  # no list of its own to read ahead (it was read again, and its page held till the end)

    @override
    def record_batches(self, ctx: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        if self.run.done(self.tap_state, self.name, WHOLE_STREAM):
            return
        yield [self._convert(dict(record)) for record in self.run.accounts.records]
        self.run.mark_done(self.tap_state, self.name, WHOLE_STREAM)


class Alerts(TwilioStream):
    """Monitor alerts of every account, each read with that account's own credentials (Monitor answers with the
    alerts of the account that authenticates); Monitor keeps 30 days."""

    name = "alerts"
    product = "monitor"
    path = "/v1/Alerts"
    replication_key = "date_updated"
    date_filter = "StartDate"
    end_filter = "EndDate"
    filter_field = "date_created"
    filter_granularity = "timestamp"  # Monitor takes full timestamps
    retention = ALERT_RETENTION

    @override
    def bookmark(self, context: dict[str, Any] | None) -> tuple[str | None, bool]:
        # Versions before per-account alerts read the main account only: a stream-level bookmark (theirs, or
        # singer-io's/Stitch's) is the main account's. A subaccount without its own starts at start_date (or the
        # 30 days Monitor keeps), not at the main account's bookmark.
        state = self._peek_state(context)
        own = state.get("replication_key") == self.replication_key and state.get("replication_key_value")
        if not own and (context or {}).get("account_sid") != self.run.settings.account_sid:
            return None, False
        return super().bookmark(context)


class Messages(TwilioStream):
    """Messages; only those with media get a media request."""

    name = "messages"
    path = "/Accounts/{account_sid}/Messages.json"
    replication_key = "date_updated"
    date_filter = "DateSent"  # the only server-side filter; late updates come from the lookback
    filter_field = "date_sent"
    newest_first = True  # "sorted by the DateSent field, with the most recent messages appearing first"
    retention = MESSAGE_RETENTION

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        if not record.get("num_media"):  # 0 after conversion: no request for messages without media
            return None
        return {"account_sid": record["account_sid"], "message_sid": record["sid"]}


class Conferences(TwilioStream):
    """Conferences of every status (Twilio lists only in-progress ones unless Status is given)."""

    name = "conferences"
    path = "/Accounts/{account_sid}/Conferences.json"
    replication_key = "date_updated"
    date_filter = "DateUpdated"  # the only date_updated filter in v2010
    filter_field = "date_updated"
    param_sets = CONFERENCE_STATUSES

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        if record.get("status") == "completed":  # Twilio lists participants of live conferences only
            return None
        return {"account_sid": record["account_sid"], "conference_sid": record["sid"]}


class Recordings(TwilioStream):
    """Recordings, deleted ones included, re-read far enough back for a deletion to reach the warehouse."""

    name = "recordings"
    path = "/Accounts/{account_sid}/Recordings.json"
    replication_key = "date_created"
    date_filter = "DateCreated"
    filter_field = "date_created"
    retention = MESSAGE_RETENTION
    # listed with status "deleted" for 40 days; deleting moves date_updated, never date_created
    extra_params: ClassVar[dict[str, str]] = {"IncludeSoftDeleted": "true"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Per account, where this run's regular read starts when it also reads further back for deletions."""
        super().__init__(*args, **kwargs)
        self._changed_since: dict[str, str] = {}

    @override
    def start_time(self, context: dict[str, Any]) -> dt.datetime:
        start = super().start_time(context)
        value, resuming = self.bookmark(context)
        back = self.run.settings.deleted_recordings_lookback
        if not value or resuming or not back:
            return start
        account = context.get("account_sid")
        floor = max(self.run.started_at - back, self.run.start_date, self.run.accounts.created(account))
        if floor >= start:
            return start
        self._changed_since[account or ""] = format_iso(start)
        return floor

    @override
    def _keep(
        self, records: list[dict[str, Any]], unit: Unit, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> list[dict[str, Any]]:
        kept = super()._keep(records, unit, context, *args, **kwargs)
        since = self._changed_since.get(context.get("account_sid", ""))
        if since is None or unit.window is None or unit.window.start_iso >= since:
            return kept
        # read only for deletions: what changed since the regular read's start (a delete moves date_updated)
        return [r for r in kept if (r.get("date_created") or "") >= since or (r.get("date_updated") or "") >= since]


class Addresses(TwilioStream):
    """Addresses; each may have phone numbers that depend on it."""

    name = "addresses"
    path = "/Accounts/{account_sid}/Addresses.json"
    replication_key = "date_updated"
    child_key = "address_sid"


class AvailablePhoneNumberCountries(TwilioStream):
    """Countries with numbers for sale; a country lists only the number types it offers."""

    name = "available_phone_number_countries"
    path = "/Accounts/{account_sid}/AvailablePhoneNumbers.json"
    list_key = "countries"
    primary_keys = ("account_sid", "country_code")  # Stitch's country_code alone collapses accounts

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        offered = [kind for kind in NUMBER_TYPES if kind in (record.get("subresource_uris") or {})]
        return {
            "account_sid": record["account_sid"],
            "country_code": record["country_code"],
            "offers": ",".join(offered),
        }


class AvailablePhoneNumbersStream(TwilioStream):
    """Numbers for sale of one type, requested only from countries that offer it."""

    number_type: ClassVar[str]
    list_key = "available_phone_numbers"
    primary_keys = ("account_sid", "iso_country", "phone_number")
    parent_stream_type = AvailablePhoneNumberCountries
    missing_is_empty = True  # some countries answer 404 for a type

    @override
    def wants(self, context: dict[str, Any]) -> bool:
        return self.number_type in context.get("offers", "").split(",")


ENDPOINTS = (
    Endpoint(
        name="account_balance",
        path="/Accounts/{account_sid}/Balance.json",
        primary_keys=("account_sid",),
        single_object=True,  # one object, not a page
    ),
    Endpoint(
        name="dependent_phone_numbers",
        path="/Accounts/{account_sid}/Addresses/{address_sid}/DependentPhoneNumbers.json",
        parent=Addresses,
    ),
    Endpoint(name="applications", path="/Accounts/{account_sid}/Applications.json", replication_key="date_updated"),
    *(
        Endpoint(
            name=f"available_phone_numbers_{kind}",
            path=f"/Accounts/{{account_sid}}/AvailablePhoneNumbers/{{country_code}}/{suffix}.json",
            list_key="available_phone_numbers",
            primary_keys=("account_sid", "iso_country", "phone_number"),
            parent=AvailablePhoneNumberCountries,
            base=AvailablePhoneNumbersStream,
            number_type=kind,
        )
        for kind, suffix in NUMBER_TYPES.items()
    ),
    Endpoint(
        name="calls",
        path="/Accounts/{account_sid}/Calls.json",
        replication_key="date_updated",
        date_filter="StartTime",  # the only useful server-side filter; late updates come from the lookback
        filter_field="start_time",
    ),
    Endpoint(
        name="conference_participants",
        path="/Accounts/{account_sid}/Conferences/{conference_sid}/Participants.json",
        list_key="participants",
        primary_keys=("uri",),  # Stitch's key; a participant has no sid
        parent=Conferences,
    ),
    Endpoint(
        name="incoming_phone_numbers",
        path="/Accounts/{account_sid}/IncomingPhoneNumbers.json",
        replication_key="date_updated",
    ),
    Endpoint(name="keys", path="/Accounts/{account_sid}/Keys.json", replication_key="date_updated"),
    Endpoint(
        name="message_media",
        path="/Accounts/{account_sid}/Messages/{message_sid}/Media.json",
        list_key="media_list",  # Twilio's key is not the stream name here
        parent=Messages,
    ),
    Endpoint(
        name="outgoing_caller_ids",
        path="/Accounts/{account_sid}/OutgoingCallerIds.json",
        replication_key="date_updated",
    ),
    Endpoint(name="queues", path="/Accounts/{account_sid}/Queues.json", replication_key="date_updated"),
    Endpoint(
        name="transcriptions",
        path="/Accounts/{account_sid}/Transcriptions.json",
        replication_key="date_updated",
    ),
    Endpoint(
        name="usage_records",
        path="/Accounts/{account_sid}/Usage/Records/Daily.json",
        list_key="usage_records",
        primary_keys=("account_sid", "category", "start_date"),
        replication_key="start_date",
        date_filter="StartDate",
        filter_field="start_date",
        filter_granularity="date",  # StartDate/EndDate are inclusive dates
        extra_params=(("IncludeSubaccounts", "false"),),  # each account's own usage: no double counting
    ),
    Endpoint(
        name="usage_triggers",
        path="/Accounts/{account_sid}/Usage/Triggers.json",
        replication_key="date_updated",
    ),
)

API_STREAMS: tuple[type[TwilioStream], ...] = (
    Accounts,
    Addresses,
    Alerts,
    AvailablePhoneNumberCountries,
    Conferences,
    Messages,
    Recordings,
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
)
