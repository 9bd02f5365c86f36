"""Endpoint: a stream that differs from TwilioStream only in data, written as one row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tap_twilio.client import TwilioStream


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """A stream that differs from TwilioStream only in data."""

    name: str
    path: str
    product: str = "api"  # the Twilio product (host) serving the list
    page_size_max: int = 1000  # Twilio's largest PageSize for this list
    list_key: str | None = None
    primary_keys: tuple[str, ...] = ("sid",)
    replication_key: str | None = None
    date_filter: str | None = None
    end_filter: str | None = None
    filter_field: str | None = None
    filter_granularity: str = "day"
    extra_params: tuple[tuple[str, str], ...] = ()
    parent: type[TwilioStream] | None = None
    base: type[TwilioStream] = TwilioStream
    single_object: bool = False
    retention: dt.timedelta | None = None
    number_type: str | None = None
    detail_path: str | None = None  # each listed item's detail endpoint is the record (pricing countries)

    def stream_class(self) -> type[TwilioStream]:
        """Build the class the SDK instantiates."""
        attrs: dict[str, Any] = {
            "name": self.name,
            "path": self.path,
            "product": self.product,
            "page_size_max": self.page_size_max,
            "list_key": self.list_key,
            "primary_keys": self.primary_keys,
            "replication_key": self.replication_key,
            "date_filter": self.date_filter,
            "end_filter": self.end_filter,
            "filter_field": self.filter_field,
            "filter_granularity": self.filter_granularity,
            "extra_params": dict(self.extra_params),
            "single_object": self.single_object,
            "retention": self.retention,
            "detail_path": self.detail_path,
            "__doc__": f"Twilio {self.name}.",
        }
        if self.parent is not None:
            attrs["parent_stream_type"] = self.parent
            # full-table children: no per-parent state; incremental ones: one bookmark per account
            attrs["state_partitioning_keys"] = ["account_sid"] if self.replication_key else []
        if self.number_type is not None:
            attrs["number_type"] = self.number_type
        class_name = "".join(part.title() for part in self.name.split("_"))
        return type(class_name, (self.base,), attrs)
