"""Deletes and table versions: ACTIVATE_VERSION once a full-table stream was read completely, children after parents."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from singer_sdk.singerlib.catalog import REPLICATION_FULL_TABLE
from typing_extensions import override

from tap_twilio.children import ChildListsStream
from tap_twilio.stream_base import WHOLE_STREAM


class VersionedStream(ChildListsStream):
    """A full-table stream tells the target when this run's rows are the whole table."""

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # the SDK would activate a new version when each partition *starts*, deleting the rows of accounts not
        # read yet (or skipped, or done by an interrupted run): versions are activated at the end instead
        return False

    @cached_property
    def _versioned(self) -> bool:
        """A selected full-table stream whose rows a complete read replaces; a child only under a full-table parent
        (a child read only for the parents a run emits must keep its other rows)."""
        if not (self.run.settings.emit_activate_version_messages and self.selected):
            return False
        if self.replication_method != REPLICATION_FULL_TABLE:
            return False
        parent = next((s for s in self.run.streams if type(s) is self.parent_stream_type), None)
        return parent is None or parent.replication_method == REPLICATION_FULL_TABLE

    @override
    def finalize_state_progress_markers(self, state: dict[str, Any] | None = None) -> None:
        super().finalize_state_progress_markers(state)
        if state is None and self.parent_stream_type is None:  # the SDK calls this once a stream's sync ends
            self._activate_version(parent_complete=True)

    def _read_completely(self, *, parent_complete: bool) -> bool:
        """Every list of every account (or of every parent) was read in this run; nothing skipped or resumed."""
        if self.replication_method != REPLICATION_FULL_TABLE:
            return False
        if self.parent_stream_type is not None:
            return parent_complete and not self._skipped
        expected = {p["account_sid"] for p in self.partitions} if self.partitions is not None else {WHOLE_STREAM}
        return bool(expected) and expected <= self._read and self._covers_every_account()

    def _covers_every_account(self) -> bool:
        """Whether this run read every account whose rows a target may hold (no shard, none suspended)."""
        accounts = self.run.accounts
        reason = None
        if self.run.settings.account_sids:
            reason = "account_sids limits the run to some accounts"
        elif self.run.settings.shard and not self.run.settings.shard.whole:
            reason = f"shard {self.run.settings.shard} reads only its accounts; tables full_table reads every one"
        elif not accounts.records:
            reason = "the credentials cannot list the accounts"
        elif len(accounts.synced) < len(accounts.records):
            reason = "an account is not active"
        if reason:
            self.logger.info("%s: rows deleted in Twilio are not reported to the target (%s)", self.name, reason)
        return reason is None

    def _activate_version(self, *, parent_complete: bool) -> None:
        """Tell the target that this run's rows are the whole table, when they are; children after their parent."""
        complete = self._read_completely(parent_complete=parent_complete)
        if complete and self._versioned:
            self._write_schema_message()  # the target needs the stream even when no row was read
            self._write_activate_version_message(self._initialized_at)
        for child in self.child_streams:
            if isinstance(child, VersionedStream) and (child.selected or child.has_selected_descendents):
                child._activate_version(parent_complete=complete)
