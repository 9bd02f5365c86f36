"""A Singer writer that buffers stdout and flushes on STATE, instead of after every record."""

from __future__ import annotations

import atexit
import datetime as dt
import select
import sys
import time
from typing import Any

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder, serialize_jsonl
from singer_sdk.helpers._state import StateWriter
from singer_sdk.singerlib import Message, SingerMessageType, StateMessage
from typing_extensions import override

FLUSH_BYTES = 1 << 18
# records encoded per call: about 80 kB of messages. A page's megabyte in one call is memory that glibc maps and
# unmaps for every page (more page faults, more CPU).
LINES_AT_ONCE = 64


class RecordLine(msgspec.Struct, gc=False):
    """A RECORD message, encoded byte for byte as msgspec encodes the SDK's RecordMessage (same fields, same order;
    no version when there is none). Many are encoded in one call; framing each encoded record with bytes.replace,
    as before, cost almost as much as encoding it."""

    type: str
    stream: str
    record: Any
    version: Any = msgspec.UNSET
    time_extracted: str = ""


class BufferedMsgSpecWriter(MsgSpecWriter):
    """msgspec encoding (exact Decimals as JSON numbers); a STATE is never ahead of its records.

    Messages wait as the chunks msgspec encoded them (whole lines, LINES_AT_ONCE records to a chunk) and each chunk
    is written out as it is: no copy into one growing buffer, which cost a copy of every byte, reallocations and the
    page faults of a new quarter megabyte after every write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Start with nothing pending, drained at exit whatever happens."""
        super().__init__(*args, **kwargs)
        self._pending: list[bytes] = []  # whole lines, in order
        self._pending_bytes = 0
        self._second, self._extracted_at = -1, ""
        self.records: dict[str, int] = {}  # RECORD messages written per stream (the closing summary)
        self.bytes_written = 0  # everything written out so far
        self._last_state = b""  # the last STATE line written
        atexit.register(self.drain)

    def write_message(self, message: Any) -> None:
        """Write one message; a STATE drains the buffer so a killed run resumes from what was written."""
        self._add(bytes(self.format_message(message)))  # a copy: the SDK encodes every message into one buffer
        if message.type == SingerMessageType.RECORD:
            self.records[message.stream] = self.records.get(message.stream, 0) + 1
        if message.type == SingerMessageType.STATE:
            self._last_state = b""  # written as given: the next write_state compares with nothing
            self.drain()

    def serialize_message(self, message: Message) -> bytearray:
        """As the SDK encodes it; a STATE without the SDK's dataclasses.asdict, which copies the whole state (every
        stream and account) before msgspec encodes it: with hundreds of accounts, that copy cost more than the sync."""
        if isinstance(message, StateMessage):
            return serialize_jsonl({"type": "STATE", "value": message.value})
        return super().serialize_message(message)

    def write_state(self, value: Any) -> int:
        """Write a STATE (draining the records before it) unless it repeats the last one written; returns its size
        in bytes (0: a repeat, not written)."""
        encoded = bytes(self.format_message(StateMessage(value=value)))
        if encoded == self._last_state:
            return 0
        self._last_state = encoded
        self._add(encoded)
        self.drain()
        return len(encoded)

    def write_record(self, stream: str, record: dict[str, Any], version: int | None) -> None:
        """One RECORD message (a record whose child lists are written before the next record)."""
        line = RecordLine("RECORD", stream, record, self._version(version), self._extracted())
        self.records[stream] = self.records.get(stream, 0) + 1
        self._add(encoder.encode_lines((line,)))

    def write_records(self, stream: str, records: list[dict[str, Any]], version: int | None) -> None:
        """A page's RECORD messages, LINES_AT_ONCE to a call."""
        if not records:
            return
        extracted, version_ = self._extracted(), self._version(version)
        lines = [RecordLine("RECORD", stream, r, version_, extracted) for r in records]
        for at in range(0, len(lines), LINES_AT_ONCE):
            self._add(encoder.encode_lines(lines[at : at + LINES_AT_ONCE]))
        self.records[stream] = self.records.get(stream, 0) + len(records)

    def _add(self, lines: bytes) -> None:
        """Whole lines to write out, in turn; written out once a quarter megabyte waits."""
        self._pending.append(lines)
        self._pending_bytes += len(lines)
        if self._pending_bytes >= FLUSH_BYTES:
            self.drain()

    @staticmethod
    def _version(version: int | None) -> Any:
        return msgspec.UNSET if version is None else version

    def _extracted(self) -> str:
        """time_extracted as the SDK writes it (whole seconds), formatted once per second."""
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._extracted_at = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._extracted_at

    def take_pending(self) -> bytes:
        """What waits to be written out, no longer waiting (tests read it instead of stdout)."""
        pending = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        return pending

    def drain(self) -> None:
        """Write out and flush what waits, a chunk at a time (one that failed to be written stays pending)."""
        pending = self._pending
        if not pending:
            return
        stdout = sys.stdout
        out = getattr(stdout, "buffer", None)  # absent when stdout is a StringIO (the SDK's test runner)
        while pending:
            chunk = pending[0]
            if out is None:
                stdout.write(chunk.decode())
            else:
                write_all(out, chunk)
            del pending[0]
            self._pending_bytes -= len(chunk)
            self.bytes_written += len(chunk)
        (out or stdout).flush()


class StateLines(StateWriter):
    """The SDK's StateWriter, comparing encoded lines: the SDK's compares the whole state with a deep copy of the
    last one written and deep-copies it after each write, which with a thousand accounts cost 30 ms a STATE (1.4 CPU s
    of a sync) against 0.5 ms to encode it."""

    def __init__(self, message_writer: BufferedMsgSpecWriter) -> None:
        """Write through `message_writer`, which keeps the last STATE line."""
        super().__init__(message_writer)
        self._writer = message_writer

    @override
    def write_state(self, state: Any) -> None:
        self._writer.write_state(state)


def write_all(out: Any, data: bytes) -> None:
    """Write all of `data`. Under `python -u` or PYTHONUNBUFFERED=1 (set in many images and schedulers), stdout's
    binary layer is the raw file: a write that a signal interrupts (our stop, a scheduler's SIGTERM) takes only part
    of the data, and a non-blocking pipe takes what fits; the rest must be written again, not dropped."""
    at = 0
    while at < len(data):
        with memoryview(data)[at:] as rest:
            written = out.write(rest)
        if written is None:  # a non-blocking pipe is full: wait until the reader makes room
            select.select([], [out], [])
        else:
            at += written
