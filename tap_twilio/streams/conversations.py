"""Conversations (conversations v1): every service's conversations, participants, messages, users and roles."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.streams.base import Endpoint

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

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

    Twilio filters conversations on creation only, so each run lists them all and keeps those updated since the
    account's bookmark; a new message moves its conversation's date_updated (the sandbox's rule; Twilio's docs
    leave it open), so only those conversations get their participants and messages read again.
    """

    name = "conversations"
    product = PRODUCT
    path = "/v1/Services/{chat_service_sid}/Conversations"
    page_size_max = LIST_MAX
    replication_key = "date_updated"
    parent_stream_type = ConversationServices
    state_partitioning_keys = ["account_sid"]  # noqa: RUF012 - the SDK's type

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        # only conversations updated since the bookmark reach here
        return {
            "account_sid": record["account_sid"],
            "chat_service_sid": record["chat_service_sid"],
            "conversation_sid": record["sid"],
        }


ENDPOINTS = (
    Endpoint(
        name="conversation_participants",
        product=PRODUCT,
        path="/v1/Services/{chat_service_sid}/Conversations/{conversation_sid}/Participants",
        list_key="participants",
        page_size_max=LIST_MAX,
        parent=Conversations,
    ),
    Endpoint(
        name="conversation_messages",
        product=PRODUCT,
        path="/v1/Services/{chat_service_sid}/Conversations/{conversation_sid}/Messages",
        list_key="messages",
        page_size_max=LIST_MAX,
        replication_key="date_updated",  # no filters but Order: changed conversations are re-read whole
        parent=Conversations,
    ),
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
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
)
