"""TwilioStream: the SDK hooks of every Twilio list, delegating to the parts it is built from (stream_base, bookmarks,
children, versions, lists)."""

from __future__ import annotations

import copy
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import SchemaDirectory, Stream, StreamSchema
from singer_sdk.mapper import SameRecordTransform
from typing_extensions import override

from tap_twilio.lists import ListsStream
from tap_twilio.stop import StopSignalError

if TYPE_CHECKING:
    from collections.abc import Generator, Iterable

    from singer_sdk.helpers.types import Context, Record

    from tap_twilio.writer import BufferedMsgSpecWriter


def _schema_dir() -> Any:
    """Schemas ship inside the wheel; an editable install reads the repo's top-level schemas/."""
    packaged = resources.files("tap_twilio") / "schemas"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "schemas"


SCHEMAS = SchemaDirectory(_schema_dir())


class TwilioStream(ListsStream):
    """A Twilio list: the SDK's hooks (partitions, record loop, messages, child contexts); subclasses and ENDPOINTS
    rows declare only what differs."""

    schema: ClassVar[StreamSchema] = StreamSchema(SCHEMAS)

    @property
    @override
    def partitions(self) -> list[dict[str, Any]] | None:
        if self.parent_stream_type or not self.per_account:
            return None
        return [{"account_sid": sid} for sid in self.run.accounts.synced]

    @override
    def _write_schema_message(self) -> None:
        # private SDK method: it writes SCHEMA on every child sync (per parent record); once per stream suffices
        if not self._schema_written:
            self._schema_written = True
            if self._versioned:  # one version per stream and run, on every record (see _activate_version)
                self._stream_version = self._initialized_at
            super()._write_schema_message()

    @override
    def _increment_stream_state(self, latest_record: Record, *, context: Context | None = None) -> None:
        # private SDK method: bookmarks advance per completed window in _checkpoint, never per record, because
        # Twilio lists are newest first and a mid-window bookmark would skip the window's older records
        return

    @override
    def _write_record_message(self, record: Record) -> None:
        # private SDK method: with no stream map, flattening or column deselection, the SDK's per-record
        # message objects and no-op transforms cost more than the rest of the record path (PERFORMANCE-NOTES)
        writer = self.run.writer
        if writer is not None and self._lean:
            writer.write_record(self.name, record, self._stream_version)  # bookmarks move in _checkpoint only
            return
        super()._write_record_message(record)

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict[str, Any], Any, Any]:
        # private SDK method: its loop spends more per record (limit check, post_process, partition keys, child
        # contexts, the message, state increment, counter) than reading, typing and encoding one. On the lean path
        # this loop takes a page at a time and writes the same messages in the same order; anything else (a dry
        # run's record limit, a post_process, an unselected parent of selected children) takes the SDK's loop.
        writer = self.run.writer
        try:
            if writer is None or not self._pages_written(write_messages=write_messages):
                yield from super()._sync_records(context, write_messages=write_messages)
                return
            self._sync_pages(context, writer)  # the SDK's sync() only drains this generator: no record is yielded
        except Exception:
            if (signum := self.run.stop_signal) is not None:  # a list that the signal stopped failed first: that
                raise StopSignalError(signum) from None  # is the stop, not the stream's error (no SDK error line)
            raise

    def _pages_written(self, *, write_messages: bool = True) -> bool:
        """Whether this stream's records are written a page at a time by _sync_pages (else: the SDK's loop)."""
        return (
            self.page_loop
            and write_messages
            and self.selected
            and self._lean
            and self.ABORT_AT_RECORD_COUNT is None
            and type(self).post_process is Stream.post_process
        )

    @property
    @override
    def typed_records(self) -> bool:
        # only where _sync_pages writes the records: the SDK's loop, a stream map and post_process read dicts
        return self._pages_written()

    def _sync_pages(self, context: Context | None, writer: BufferedMsgSpecWriter) -> None:
        """The SDK's record loop (partitions, counters, starting values, child syncs, STATE every
        STATE_MSG_FREQUENCY records, finalized state), a page at a time."""
        counter, timer = self.get_record_counter(), self.get_sync_timer()
        frequency, written = self.STATE_MSG_FREQUENCY, 0
        children = self._children_wanted
        with counter, timer:
            for element in ([context] if context is not None else self.partitions) or [{}]:
                counter.with_context(element)
                timer.with_context(element)
                current = element or None
                state_context = self._get_state_partition_context(current)
                self._write_starting_replication_value(current)
                child_context = None if current is None else dict(current)
                # the SDK adds the state partition's keys to each record; _keep already set those in the schema
                extra = [(k, v) for k, v in (state_context or {}).items() if k not in self._properties]
                for batch in self.record_batches(dict(current or {})):
                    if extra:  # keys the schema lacks: a typed record (typed.py) has no room for them
                        batch = [r if r.__class__ is dict else dict(r.items()) for r in batch]  # noqa: PLW2901
                    for key, value in extra:
                        for record in batch:
                            record.setdefault(key, value)
                    if children and not self._children_written:  # as the SDK does: a record's child lists are
                        # synced before the record is written
                        for record in batch:
                            for child in self.generate_child_contexts(record, child_context):
                                self._sync_children(copy.copy(child))
                            writer.write_record(self.name, record, self._stream_version)
                    else:
                        writer.write_records(self.name, batch, self._stream_version)
                    counter.increment(len(batch))
                    if (written + len(batch)) // frequency > written // frequency:
                        self._write_state_message()
                    written += len(batch)
                if current == state_context:  # per-partition state is finalized when 1:1 with the context
                    self._finalize_state(self.get_context_state(current))
        if not context:
            self._finalize_state(self.stream_state)
        if self.parent_stream_type is None:  # a child list's STATE waits for its parent's next one (the SDK writes
            self._write_state_message()  # the whole state after every parent record's child lists)

    @cached_property
    def _lean(self) -> bool:
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform or self.config.get("flattening_enabled"):
            return False
        return self.run.writer is not None and all(
            self.mask.get(("properties", name), True) for name in self._properties
        )

    @override
    def generate_child_contexts(self, record: Record, context: Context | None) -> Iterable[Context | None]:
        if self._children_wanted:  # the SDK asks for every record, even with no child selected
            child = self.get_child_context(record, context)
            if child is not None:
                yield child

    @override
    def get_child_context(self, record: Record, context: Context | None) -> Context | None:
        # a parent names the key its children read this record's sid under; a hook decides which records have any
        if self.child_key is None:
            return None
        return {"account_sid": record["account_sid"], self.child_key: record[self.child_key_field]}
