"""Logs a person reads: the SDK's per-partition chatter goes to DEBUG, and no line is longer than a few rows."""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "tap-twilio"
MAX_LINE = 400  # characters of a message at INFO and above (DEBUG keeps everything)
SDK_CHATTER = (  # logged by the SDK once per stream, partition or child stream: detail, not news
    "Beginning sync of ",
    "Starting incremental sync of ",
    "Added '",
    "Skipping parse of env var settings",
    "Skipping deselected stream ",
)
SDK_STREAM_ERROR = "An unhandled error occurred while syncing '%s'"
METRICS_LOGGER = "singer_sdk.metrics"  # METRIC lines are JSON for machines (Meltano parses them): never shortened


class Readable(logging.Filter):
    """A handler filter: demotes the SDK's chatter to DEBUG (dropped unless DEBUG is on) and shortens long lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep, demote, shorten or drop one record."""
        debug = logging.getLogger(LOGGER_NAME).isEnabledFor(logging.DEBUG)
        if record.levelno == logging.INFO and isinstance(record.msg, str) and record.msg.startswith(SDK_CHATTER):
            if not debug:
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        if record.msg == SDK_STREAM_ERROR and isinstance(sys.exc_info()[1], BrokenPipeError):
            return False  # not the stream's fault: the tap's one line says the target stopped reading
        if not debug and record.levelno >= logging.INFO and not record.name.startswith(METRICS_LOGGER):
            message = record.getMessage()
            if len(message) > MAX_LINE:
                cut = len(message) - MAX_LINE + 40
                record.msg, record.args = f"{message[: MAX_LINE - 40]}… ({cut} more characters at DEBUG)", None
        return True


_FILTER = Readable()


def make_readable() -> None:
    """Put the filter on every handler that writes the tap's logs (the SDK's console handler on the root)."""
    for logger in (logging.getLogger(), logging.getLogger(LOGGER_NAME)):
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
