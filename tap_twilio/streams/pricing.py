"""Pricing (pricing v1/v2): the same for every account, so read once per run with the main credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from tap_twilio.client import TwilioStream
from tap_twilio.streams.base import Endpoint

if TYPE_CHECKING:
    from tap_twilio.page import Page


class PricingCountriesStream(TwilioStream):
    """A countries list whose prices are in each country's detail record."""

    product = "pricing"
    list_key = "countries"
    primary_keys = ("iso_country",)
    per_account = False
    state_partitioning_keys = None

    @override
    def records_of(self, page: Page) -> list[dict[str, Any]]:
        main = self.run.settings.account_sid  # the configured account, whose credentials read the prices
        return [{**record, "account_sid": main} for record in super().records_of(page)]


ENDPOINTS = tuple(
    Endpoint(
        name=f"pricing_{kind}_countries",
        path=path,
        detail_path=path + "/{iso_country}",
        primary_keys=("iso_country",),
        base=PricingCountriesStream,
        product="pricing",
        list_key="countries",
    )
    for kind, path in (
        ("voice", "/v2/Voice/Countries"),
        ("messaging", "/v1/Messaging/Countries"),
        ("phone_number", "/v1/PhoneNumbers/Countries"),
    )
)

PRICING_STREAMS: tuple[type[TwilioStream], ...] = tuple(endpoint.stream_class() for endpoint in ENDPOINTS)
