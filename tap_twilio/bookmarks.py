"""Bookmarks and progress: where a partition starts, its low watermark as windows finish, checkpoints and STATE."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import TYPE_CHECKING, Any

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE

from tap_twilio.dates import format_iso, parse_iso
from tap_twilio.stream_base import WHOLE_STREAM, StreamBase
from tap_twilio.windows import plan, watermark

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from tap_twilio.windows import Unit, Window


class BookmarkedStream(StreamBase):
    """A stream's bookmarks per account: read from STATE, moved when windows finish, saved for children."""

    def bookmark(self, context: dict[str, Any] | None) -> tuple[str | None, bool]:
        """(bookmark, resuming): the partition's saved value, and whether a run stopped mid-way.

        A stream-level value (Stitch/singer-io state, migrated) applies to every account without one. A catalog
        that forces FULL_TABLE (e.g. on incoming_phone_numbers, to see released numbers) reads without one.
        """
        if self.replication_method == REPLICATION_FULL_TABLE:
            return None, False
        state = self._peek_state(context)
        if state.get("replication_key") == self.replication_key and state.get("replication_key_value"):
            return state["replication_key_value"], bool(state.get("resume"))
        return self.stream_state.get("replication_key_value"), False

    def _peek_state(self, context: dict[str, Any] | None) -> dict[str, Any]:
        """A partition's saved state, without creating an empty one (as the SDK's get_context_state would)."""
        keys = self.state_partitioning_keys
        if not context or not keys:
            return self.get_context_state(context)
        saved = self.state_manager.saved({key: context[key] for key in keys if key in context})
        return {} if saved is None else dict(saved)

    def changed(self, record: Record, context: Context | None) -> bool:
        """Whether a record changed since the bookmark this run started from (so may its child lists).

        A window's bookmark is the end it read up to (a change in that second may follow the read); a
        client-filtered bookmark is the newest value seen, at most a second before the sync that saved it.
        """
        value = record.get(self.replication_key or "")
        bookmark = self.bookmark(dict(context or {}))[0] if self.replication_key else None
        if value is None or bookmark is None:
            return True
        return bool(value >= bookmark if self.date_filter else value > bookmark)

    def start_time(self, context: dict[str, Any]) -> dt.datetime:
        """Where this run reads from: bookmark minus lookback, never before start_date, the account or retention.

        (Nothing predates an account, and usage lists answer 404 for days before it existed.)
        """
        run = self.run
        start = max(run.start_date, run.accounts.created(context.get("account_sid")))
        value, resuming = self.bookmark(context)
        if value:
            start = max(start, parse_iso(value) - (dt.timedelta(0) if resuming else run.settings.lookback))
        if self.retention is not None:
            floor = run.started_at - self.retention + dt.timedelta(hours=1)
            if start < floor:
                run.warn_once(
                    f"retention:{self.name}",
                    f"{self.name}: Twilio keeps {self.retention.days} days; reading from "
                    f"{format_iso(floor)} instead of {format_iso(start)}",
                )
                start = floor
        if self.filter_granularity == "date":
            start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return start

    def windows(self, context: dict[str, Any]) -> list[Window]:
        """Half-open windows from start to the sync's start, split at UTC midnights, less the windows the
        interrupted run this one resumes finished."""
        finished = self.run.finished_windows(self.tap_state, self.name, context.get("account_sid", WHOLE_STREAM))
        return plan(self.start_time(context), self.run.started_at, self.run.settings.date_window_days, finished)

    def _client_filter(self, context: dict[str, Any]) -> tuple[str | None, bool]:
        """(bound, strict) of a list Twilio cannot filter by date: the records kept are those from the bound on."""
        if not self.replication_key or self.replication_method == REPLICATION_FULL_TABLE:
            return None, False
        bookmark = self.bookmark(context)[0]
        if bookmark is None or bookmark < self.run.start_date_iso:
            return self.run.start_date_iso, False
        # a child's bookmark is a second before the sync that saved it: equal means already emitted
        return bookmark, self.parent_stream_type is not None

    def _checkpoint(self, unit: Unit, high_water: str | None) -> None:
        """A unit is fully read: move its partition's bookmark to the end of the windows finished without a gap
        (the low watermark), note the finished windows beyond it in the progress marker, and emit STATE."""
        account = unit.context.get("account_sid", WHOLE_STREAM)
        reached = None
        if unit.window is not None:
            finished = self._finished.setdefault(account, [])
            finished.append((unit.window.start_iso, unit.window.end_iso))
            base = self._base.get(account, unit.window.start_iso)
            reached, beyond = watermark(base, finished)
            reached = reached if reached > base else None
            self._base[account], self._finished[account] = reached or base, beyond
            self.run.note_windows(self.tap_state, self.name, account, [] if unit.last else beyond)
        if self.replication_key:
            state = self.get_context_state(unit.context)
            old = state.get("replication_key_value") if state.get("replication_key") == self.replication_key else None
            new: str | None
            if unit.window is not None:
                new = reached
            else:  # client-filtered list: the newest value seen, capped before the sync's start second
                new = min(high_water, self._client_cap) if high_water else old
            if new and (old is None or new > old):
                state["replication_key"] = self.replication_key
                state["replication_key_value"] = new
            if unit.last:
                state.pop("resume", None)
            elif unit.window is not None and new and (old is None or new > old):
                state["resume"] = True  # the lookback of this run is done: resume without it
        if unit.last:
            self.run.mark_done(self.tap_state, self.name, unit.context.get("account_sid", WHOLE_STREAM))
            self._read.add(unit.context.get("account_sid", WHOLE_STREAM))
            self._advance_descendants(unit.context.get("account_sid"))
        self.state_manager.is_flushed = False
        if self.run.state_due():
            # a STATE holds every stream and account: with hundreds of accounts writing it dominates, so it waits
            # while it would exceed a small share of the run (the stream's end writes it anyway)
            self._emit_state()

    def _emit_state(self) -> None:
        """Write STATE now. The SDK's writer compares and deep-copies the whole state first to skip repeats; ours
        encodes it at once, so the copy buys nothing (and costs more than the encoding)."""
        writer = self.run.writer
        if writer is None:
            self._write_state_message()
            return
        self.run.state_written(writer.write_state(self.tap_state))
        self.state_manager.is_flushed = True

    @cached_property
    def _client_cap(self) -> str:
        """A second before the sync's start: a change in that second after the read stays newer than the bookmark."""
        return format_iso(self.run.started_at - dt.timedelta(seconds=1))

    def _advance_descendants(self, account: str | None) -> None:
        """An ancestor read the account completely: each incremental child saves how far it read it."""
        for child in self.child_streams:
            if isinstance(child, BookmarkedStream) and (child.selected or child.has_selected_descendents):
                child._advance_child(account)
                child._advance_descendants(account)

    def _advance_child(self, account: str | None) -> None:
        """Move this child stream's bookmark for one account (its lists were all read without error)."""
        read = account in self._child_read and account not in self._child_failed
        self._child_read.discard(account)
        self._child_failed.discard(account)
        high = self._child_high.pop(account, None)
        if not self.replication_key or not read:
            return
        new = self.run.started_iso if self.date_filter else (min(high, self._client_cap) if high else None)
        state = self.get_context_state({"account_sid": account})
        old = state.get("replication_key_value") if state.get("replication_key") == self.replication_key else None
        if new and (old is None or new > old):
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = new
