"""Verify (verify v2): services and verification attempts (what one-time passcodes cost)."""

from __future__ import annotations

from tap_twilio.client import TwilioStream
from tap_twilio.streams.base import Endpoint

ENDPOINTS = (
    Endpoint(name="verify_services", product="verify", path="/v2/Services", list_key="services"),
    Endpoint(
        name="verify_attempts",
        product="verify",
        path="/v2/Attempts",
        list_key="attempts",
        replication_key="date_updated",  # conversion moves it; late conversions come from the lookback
        date_filter="DateCreatedAfter",
        end_filter="DateCreatedBefore",
        filter_field="date_created",
        filter_granularity="timestamp",
    ),
)

VERIFY_STREAMS: tuple[type[TwilioStream], ...] = tuple(endpoint.stream_class() for endpoint in ENDPOINTS)
