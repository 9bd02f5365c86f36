"""Conversations (conversations v1): every service's conversations, participants, messages, users and roles."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from tap_twilio.children import WRITER
from tap_twilio.client import TwilioStream
from tap_twilio.dates import to_iso
from tap_twilio.http import TwilioError
from tap_twilio.streams.base import Endpoint
from tap_twilio.windows import Window

if TYPE_CHECKING:
    from collections.abc import Iterator

    from singer_sdk import Tap
    from singer_sdk.helpers.types import Context, Record

    from tap_twilio.page import Page
    from tap_twilio.prefetch import Ticket
    from tap_twilio.run import SyncRun

Key = tuple[tuple[str, Any], ...]  # a child context, as prefetches are keyed

PRODUCT = "conversations"
LIST_MAX = 100  # Services, Conversations, Participants and Messages lists
SMALL_LIST_MAX = 50  # Users and Roles lists


class ConversationServices(TwilioStream):
    """Conversations services; each has its own conversations, users and roles."""

    name = "conversation_services"
    product = PRODUCT
    path = "/v1/Services"
    list_key = "services"
    page_size_max = LIST_MAX
    child_key = "chat_service_sid"


class Conversations(TwilioStream):
    """Conversations of every service (/v1/Conversations covers the default service only).

    Twilio filters conversations on creation only, so each run lists them all and emits those updated since the
    account's bookmark. Every conversation reaches the child streams, which decide from its state and date_updated
    what to read (see ConversationMessages and ConversationParticipants).
    """

    name = "conversations"
    product = PRODUCT
    path = "/v1/Services/{chat_service_sid}/Conversations"
    page_size_max = LIST_MAX
    replication_key = "date_updated"
    parent_stream_type = ConversationServices
    state_partitioning_keys = ["account_sid"]  # noqa: RUF012 - the SDK's type
    children_of_unchanged = True  # a new message need not move its conversation's date_updated

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        timers = record.get("timers") or {}
        closed_at = to_iso(timers.get("date_closed")) if isinstance(timers, dict) else None
        return {
            "account_sid": record["account_sid"],
            "chat_service_sid": record["chat_service_sid"],
            "conversation_sid": record["sid"],
            # what the children decide on; no field of theirs, so never written into their records
            "conversation_state": record.get("state"),
            "conversation_updated": max(_changed_at(record) or "", closed_at or ""),
            "conversation_changed": self.changed(record, context),
        }


class ConversationMessages(TwilioStream):
    """Messages, newest first (Order=desc), down to the account's bookmark less the lookback.

    Twilio's Messages list has no date filter, and its docs do not say that a new message moves the conversation's
    date_updated. So every conversation that can still receive messages (not closed) is read each run, a page at a
    time, until a page ends with a message created before the bound (usually one request per conversation); a
    closed conversation is read once more when it closed (its date_updated moved) since the bookmark, then not
    again (Twilio: a closed conversation cannot be reopened or take messages). The bookmark is the start of the run
    that read the account. With `conversation_date_tracks_messages`, only conversations whose date_updated moved
    since the bookmark are read.
    """

    name = "conversation_messages"
    product = PRODUCT
    path = "/v1/Services/{chat_service_sid}/Conversations/{conversation_sid}/Messages"
    list_key = "messages"
    page_size_max = LIST_MAX
    replication_key = "date_updated"
    extra_params: ClassVar[dict[str, str]] = {"Order": "desc"}
    parent_stream_type = Conversations
    state_partitioning_keys = ["account_sid"]  # noqa: RUF012 - the SDK's type

    def __init__(self, tap: Tap, run: SyncRun) -> None:
        """Per-run counts of what was read, for the closing summary."""
        super().__init__(tap, run)
        self._since: dict[Any, str] = {}  # per account: the bookmark itself (conversations changed from here on)
        self._brought: dict[Key, bool] = {}  # conversation -> this run found a message since the bookmark
        self._lists_read = 0
        self._pages_read = 0
        self._closed_skipped = 0
        run.summaries.append(self.cost_summary)

    @override
    def _child_window(self, context: dict[str, Any]) -> Window | None:
        # every list is read from the account's bookmark less the lookback; fixed once per account on the writer's
        # thread (TwilioStream._prepare_child_windows), as windowed children are
        account = context.get("account_sid")
        window = self._child_windows.get(account)
        if window is None:
            window = self._child_windows[account] = Window(self.start_time(context), self.run.started_at)
            self._since[account] = self.bookmark(context)[0] or ""
        return window

    @override
    def window_params(self, window: Window) -> dict[str, str]:
        return {}  # no date filter on this list: Order=desc and the early stop bound it

    @override
    def wants(self, context: dict[str, Any]) -> bool:
        self._child_window(context)
        moved = str(context.get("conversation_updated") or "") >= self._since.get(context.get("account_sid"), "")
        if moved or self.run.settings.conversation_date_tracks_messages:
            return moved
        return context.get("conversation_state") != "closed"

    @override
    def record_batches(self, ctx: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        if not self.wants(ctx) and ctx.get("conversation_state") == "closed":
            self._closed_skipped += 1  # the writer's thread: once per conversation
        yield from super().record_batches(ctx)

    @override
    def _fetch_all(self, context: dict[str, Any], params: dict[str, Any] | None) -> list[Page]:
        if params is None:
            return []
        window = self._child_window(context)
        assert window is not None
        bound, since = window.start_iso, self._since.get(context.get("account_sid"), "")
        brought, pages = False, []
        for page in self.iter_pages(context, params):
            pages.append(page)
            records = self.records_of(page)
            brought = brought or any((to_iso(_changed_at(r)) or "") >= since for r in records)
            oldest = to_iso(records[-1].get("date_created")) if records else None
            if oldest and oldest < bound:
                break  # newest first: every later page is older still (its next_page_url is not followed)
        with self._prefetch_lock:
            self._brought[_key(context)] = brought
            self._lists_read += 1
            self._pages_read += len(pages)
        return pages

    @override
    def _in_window(self, records: list[dict[str, Any]], window: Window, seen_null: set[Any]) -> list[dict[str, Any]]:
        # created or edited from the bound on; also those edited after the run started (the newest text wins)
        start = window.start_iso
        return [r for r in records if (v := _changed_at(r)) is None or v >= start]

    @override
    def _advance_child(self, account: str | None) -> None:
        read = account in self._child_read and account not in self._child_failed
        super()._advance_child(account)
        if read:  # every open conversation was read up to this run's start: the next run starts there
            state = self.get_context_state({"account_sid": account})
            if (state.get("replication_key_value") or "") < self.run.started_iso:
                state["replication_key"] = self.replication_key
                state["replication_key_value"] = self.run.started_iso
        with self._prefetch_lock:
            for key in [k for k in self._brought if ("account_sid", account) in k]:
                del self._brought[key]

    def ticket_of(self, context: dict[str, Any]) -> Ticket[list[Page]] | None:
        """The download of a conversation's messages this stream queued (None when it did not)."""
        with self._prefetch_lock:
            return self._prefetched.get(_key(context))

    def brought(self, context: dict[str, Any], ticket: Ticket[list[Page]] | None) -> bool:
        """Whether this run's read of a conversation (`ticket`, if queued) found a message since the bookmark;
        True when unknown."""
        key = _key(context)
        if ticket is not None:
            try:
                self.run.prefetch.wait(ticket)
            except TwilioError:
                return True  # the messages' own sync reports it
        with self._prefetch_lock:
            return self._brought.pop(key, True)

    def cost_summary(self) -> str | None:
        """What reading the conversations' messages cost this run (the closing summary's line)."""
        if not self._lists_read and not self._closed_skipped:
            return None
        per = self._pages_read / self._lists_read if self._lists_read else 0.0
        return (
            f"conversation_messages: {self._pages_read} requests for {self._lists_read} conversations read newest "
            f"first ({per:.2f} per conversation); {self._closed_skipped} closed conversations not read again"
        )


class ConversationParticipants(TwilioStream):
    """Participants of a conversation that changed since the bookmark, or in which this run found new messages.

    The list has no filter: it is read whole. A conversation whose record did not change is read only when this
    run's read of its messages (queued first, waited for) found one created or edited since the bookmark: a
    participant who joins and writes comes with the message. Without conversation_messages selected, every
    conversation that is not closed is read.
    """

    name = "conversation_participants"
    product = PRODUCT
    path = "/v1/Services/{chat_service_sid}/Conversations/{conversation_sid}/Participants"
    list_key = "participants"
    page_size_max = LIST_MAX
    parent_stream_type = Conversations
    state_partitioning_keys: ClassVar[list[str] | None] = []  # full table per conversation: no state

    def __init__(self, tap: Tap, run: SyncRun) -> None:
        """Per-run counts of what was read, for the closing summary."""
        super().__init__(tap, run)
        self._lists_read = 0
        self._lists_spared = 0
        self._waits: dict[Key, Ticket[list[Page]]] = {}  # a conversation's messages read, which decides its list
        run.summaries.append(self.cost_summary)

    @cached_property
    def _messages(self) -> ConversationMessages | None:
        return next((s for s in self.run.streams if isinstance(s, ConversationMessages) and s.selected), None)

    @override
    def wants(self, context: dict[str, Any]) -> bool:
        if context.get("conversation_changed"):
            return True
        if self._messages is not None:
            return self._messages.wants(context)
        return not self.run.settings.conversation_date_tracks_messages and context.get("conversation_state") != "closed"

    @override
    def prefetch(self, context: dict[str, Any], order: tuple[int, ...] = WRITER) -> None:
        if self._messages is not None and not context.get("conversation_changed"):
            # queued before this list's task, which waits for it: run.prefetch starts it first
            self._messages.prefetch(context, order)
            ticket = self._messages.ticket_of(context)
            if ticket is not None:
                with self._prefetch_lock:
                    self._waits[_key(context)] = ticket
        super().prefetch(context, order)

    @override
    def _fetch_all(self, context: dict[str, Any], params: dict[str, Any] | None) -> list[Page]:
        messages = self._messages
        with self._prefetch_lock:
            ticket = self._waits.pop(_key(context), None)
        spared = (
            messages is not None and not context.get("conversation_changed") and not messages.brought(context, ticket)
        )
        with self._prefetch_lock:
            if spared:
                self._lists_spared += 1
            else:
                self._lists_read += 1
        return [] if spared else super()._fetch_all(context, params)

    def cost_summary(self) -> str | None:
        """What reading participants cost this run (the closing summary's line)."""
        if not self._lists_read and not self._lists_spared:
            return None
        return (
            f"conversation_participants: {self._lists_read} conversations read (changed, or new messages), "
            f"{self._lists_spared} open conversations without new messages not read"
        )


def _key(context: dict[str, Any]) -> Key:
    return tuple(sorted(context.items()))


def _changed_at(record: dict[str, Any]) -> str | None:
    """When a record last changed: date_updated, or date_created where Twilio leaves it null (a message that was
    never edited)."""
    value = record.get("date_updated") or record.get("date_created")
    return str(value) if value else None


ENDPOINTS = (
    Endpoint(
        name="conversation_users",
        product=PRODUCT,
        path="/v1/Services/{chat_service_sid}/Users",
        list_key="users",
        page_size_max=SMALL_LIST_MAX,
        replication_key="date_updated",  # no filters: read whole, kept if updated since the bookmark
        parent=ConversationServices,
    ),
    Endpoint(
        name="conversation_roles",
        product=PRODUCT,
        path="/v1/Services/{chat_service_sid}/Roles",
        list_key="roles",
        page_size_max=SMALL_LIST_MAX,
        parent=ConversationServices,
    ),
)

CONVERSATIONS_STREAMS: tuple[type[TwilioStream], ...] = (
    ConversationServices,
    Conversations,
    ConversationParticipants,
    ConversationMessages,
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
)
