"""Every stream of the tap, in the order the SDK syncs them (one module per Twilio product family)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tap_twilio.streams.api import API_STREAMS

if TYPE_CHECKING:
    from tap_twilio.client import TwilioStream

STREAM_TYPES: tuple[type[TwilioStream], ...] = (*API_STREAMS,)
