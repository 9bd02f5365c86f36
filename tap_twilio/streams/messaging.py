"""Messaging Services (messaging v1, sender pools) and Elastic SIP Trunking (trunking v1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tap_twilio.client import TwilioStream
from tap_twilio.streams.base import Endpoint

if TYPE_CHECKING:
    pass


class MessagingServices(TwilioStream):
    """Messaging services; each pools its own phone numbers."""

    name = "messaging_services"
    product = "messaging"
    path = "/v1/Services"
    list_key = "services"
    child_key = "service_sid"


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
