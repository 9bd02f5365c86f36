"""Messaging Services (messaging v1, sender pools) and Elastic SIP Trunking (trunking v1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.streams.base import Endpoint

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record


class MessagingServices(TwilioStream):
    """Messaging services; each pools its own phone numbers."""

    name = "messaging_services"
    product = "messaging"
    path = "/v1/Services"
    list_key = "services"

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        return {"account_sid": record["account_sid"], "service_sid": record["sid"]}


ENDPOINTS = (
    Endpoint(
        name="messaging_service_phone_numbers",
        product="messaging",
        path="/v1/Services/{service_sid}/PhoneNumbers",
        list_key="phone_numbers",
        parent=MessagingServices,
    ),
    Endpoint(name="trunks", product="trunking", path="/v1/Trunks"),  # no filters
)

MESSAGING_STREAMS: tuple[type[TwilioStream], ...] = (
    MessagingServices,
    *(endpoint.stream_class() for endpoint in ENDPOINTS),
)
