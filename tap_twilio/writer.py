"""A Singer writer that buffers stdout and flushes on STATE, instead of after every record."""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import SingerMessageType


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding (exact Decimals as JSON numbers); a STATE is never ahead of its records."""

    def write_message(self, message: Any) -> None:
        """Write one message; flush when it is a STATE so a killed run resumes from what was written."""
        stdout = sys.stdout
        out = getattr(stdout, "buffer", None)  # absent when stdout is redirected to a StringIO (SDK tests)
        data = self.format_message(message)
        if out is None:
            stdout.write(data.decode())
        else:
            out.write(data)
        if message.type == SingerMessageType.STATE:
            (out or stdout).flush()
