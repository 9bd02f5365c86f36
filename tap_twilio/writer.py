"""A Singer writer that buffers stdout and flushes on STATE, instead of after every record."""

from __future__ import annotations

import atexit
import datetime as dt
import sys
import time
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder, serialize_jsonl
from singer_sdk.singerlib import Message, SingerMessageType, StateMessage

FLUSH_BYTES = 1 << 18


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding (exact Decimals as JSON numbers); a STATE is never ahead of its records."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Start with an empty buffer, drained at exit whatever happens."""
        super().__init__(*args, **kwargs)
        self._buffer = bytearray()
        self._second = -1
        self._frames: dict[tuple[str, int | None], tuple[bytes, bytes]] = {}
        self.records: dict[str, int] = {}  # RECORD messages written per stream (the closing summary)
        self.bytes_written = 0  # everything written out so far
        atexit.register(self.drain)

    def write_message(self, message: Any) -> None:
        """Write one message; a STATE drains the buffer so a killed run resumes from what was written."""
        self._buffer += self.format_message(message)
        if message.type == SingerMessageType.RECORD:
            self.records[message.stream] = self.records.get(message.stream, 0) + 1
        if message.type == SingerMessageType.STATE or len(self._buffer) >= FLUSH_BYTES:
            self.drain()

    def serialize_message(self, message: Message) -> bytearray:
        """As the SDK encodes it; a STATE without the SDK's dataclasses.asdict, which copies the whole state (every
        stream and account) before msgspec encodes it: with hundreds of accounts, that copy cost more than the sync."""
        if isinstance(message, StateMessage):
            return serialize_jsonl({"type": "STATE", "value": message.value})
        return super().serialize_message(message)

    def write_state(self, value: Any) -> int:
        """Write a STATE (draining the records before it); returns its size in bytes."""
        encoded = self.format_message(StateMessage(value=value))
        self._buffer += encoded
        self.drain()
        return len(encoded)

    def write_record(self, stream: str, record: dict[str, Any], version: int | None) -> None:
        """One RECORD message (a record whose child lists are written before the next record)."""
        head, tail = self._frame(stream, version)
        buffer = self._buffer
        buffer += head
        encoder.encode_into(record, buffer, -1)
        buffer += tail
        self.records[stream] = self.records.get(stream, 0) + 1
        if len(buffer) >= FLUSH_BYTES:
            self.drain()

    def write_records(self, stream: str, records: list[dict[str, Any]], version: int | None) -> None:
        """A page's RECORD messages: the records are encoded in one call, one per line (JSON text never holds a
        raw newline), and each line is framed by replacing the newlines with what closes one message and opens
        the next."""
        if not records:
            return
        head, tail = self._frame(stream, version)
        buffer = self._buffer
        buffer += head
        buffer += encoder.encode_lines(records).replace(b"\n", tail + head)
        del buffer[-len(head) :]
        self.records[stream] = self.records.get(stream, 0) + len(records)
        if len(buffer) >= FLUSH_BYTES:
            self.drain()

    def _frame(self, stream: str, version: int | None) -> tuple[bytes, bytes]:
        """What precedes and follows a record in its RECORD message, byte for byte as msgspec encodes the SDK's
        RecordMessage; built once per stream and second (time_extracted has whole seconds)."""
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._frames.clear()
        frame = self._frames.get((stream, version))
        if frame is None:
            extracted = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            head = b'{"type":"RECORD","stream":' + encoder.encode(stream) + b',"record":'
            tail = (b"" if version is None else b',"version":' + encoder.encode(version)) + (
                b',"time_extracted":' + encoder.encode(extracted) + b"}\n"
            )
            frame = self._frames[stream, version] = (head, tail)
        return frame

    def discard_partial(self) -> None:
        """Drop a message left half-built in the buffer (a sync stopped in the middle of it): whole lines stay."""
        del self._buffer[self._buffer.rfind(b"\n") + 1 :]

    def drain(self) -> None:
        """Write out and flush what is buffered."""
        if not self._buffer:
            return
        stdout = sys.stdout
        out = getattr(stdout, "buffer", None)  # absent when stdout is a StringIO (the SDK's test runner)
        if out is None:
            stdout.write(self._buffer.decode())
        else:
            out.write(self._buffer)
        self.bytes_written += len(self._buffer)
        self._buffer.clear()
        (out or stdout).flush()
