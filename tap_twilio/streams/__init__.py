"""Every stream of the tap, in the order the SDK syncs them (one module per Twilio product family)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tap_twilio.streams.api import API_STREAMS
from tap_twilio.streams.configuration import CONFIGURATION_STREAMS
from tap_twilio.streams.conversations import CONVERSATIONS_STREAMS
from tap_twilio.streams.history import HISTORY_STREAMS
from tap_twilio.streams.messaging import MESSAGING_STREAMS
from tap_twilio.streams.pricing import PRICING_STREAMS
from tap_twilio.streams.studio import STUDIO_STREAMS
from tap_twilio.streams.taskrouter import TASKROUTER_STREAMS
from tap_twilio.streams.verify import VERIFY_STREAMS

if TYPE_CHECKING:
    from tap_twilio.client import TwilioStream

STREAM_TYPES: tuple[type[TwilioStream], ...] = (
    *API_STREAMS,
    *HISTORY_STREAMS,
    *CONFIGURATION_STREAMS,
    *CONVERSATIONS_STREAMS,
    *STUDIO_STREAMS,
    *VERIFY_STREAMS,
    *MESSAGING_STREAMS,
    *PRICING_STREAMS,
    *TASKROUTER_STREAMS,
)
