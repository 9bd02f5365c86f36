"""A stream's per-account state found by its key, not by a scan of every account's.

The SDK finds a partition's state by comparing its context with each partition in the stream's list, several times per
partition: a sync's state work grew with the square of the accounts (3.6 CPU s of 33 with 1,000 subaccounts, measured
by hand; a hundred times that with 10,000). `IndexedStateManager` is the SDK's `StreamStateManager` with the same
lookups through an index of the list; the SDK has no public hook for them, so the stream builds it in place of the
SDK's (stream_base.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.helpers._state import _find_in_partitions_list
from singer_sdk.streams._state import StreamStateManager
from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    from singer_sdk.helpers.types import Context


def _key(context: Mapping[str, Any]) -> Hashable | None:
    """A context's key in the index; None when a value cannot be hashed (looked up by a scan, as the SDK does)."""
    try:
        key = tuple(sorted(context.items()))
        hash(key)
    except TypeError:
        return None
    return key


class IndexedStateManager(StreamStateManager):
    """The SDK's state manager, finding partitions through an index of the stream's partition list.

    The index is of one list object at one length. Partitions this manager creates are appended and indexed; a list
    that was replaced (a new state) or changed length by another hand is indexed again before it is trusted, and a
    partition found is checked to still hold the context it was indexed under. Neither the SDK nor the tap replaces
    a partition in the list (they change partitions' contents, append, or replace the whole state)."""

    def __init__(self, **kwargs: Any) -> None:
        """As the SDK's; nothing indexed yet."""
        super().__init__(**kwargs)
        self._indexed: list[dict[str, Any]] | None = None
        self._indexed_length = 0
        self._positions: dict[Hashable, int] = {}
        self._duplicates: set[Hashable] = set()

    @override
    def get_context_state(self, context: Context | None) -> dict[str, Any]:
        partition = self.get_state_partition_context(context)
        if not partition:
            return self.stream_state
        bookmarks = self.tap_state.setdefault("bookmarks", {})
        partitions: list[dict[str, Any]] = bookmarks.setdefault(self.stream_name, {}).setdefault("partitions", [])
        found = self._find(partitions, partition)
        if found is None:
            found = {"context": dict(partition)}
            partitions.append(found)
            if self._indexed is partitions and self._indexed_length == len(partitions) - 1:
                key = _key(partition)
                if key is not None:
                    self._positions[key] = len(partitions) - 1
                self._indexed_length = len(partitions)
        return found

    def saved(self, context: Context) -> dict[str, Any] | None:
        """The partition's state if the state holds one (none is created)."""
        stream = self.tap_state.get("bookmarks", {}).get(self.stream_name)
        partitions = stream.get("partitions") if isinstance(stream, dict) else None
        return self._find(partitions, context) if partitions else None

    def _find(self, partitions: list[dict[str, Any]], context: Mapping[str, Any]) -> dict[str, Any] | None:
        key = _key(context)
        if key is None:
            return self._scan(partitions, context)
        if self._indexed is not partitions or self._indexed_length != len(partitions):
            self._index(partitions)
        at = self._positions.get(key)
        if at is not None and partitions[at].get("context") != context:  # changed in place since indexed
            self._index(partitions)
            at = self._positions.get(key)
        if key in self._duplicates:
            return self._scan(partitions, context)  # raises the SDK's error
        return None if at is None else partitions[at]

    def _index(self, partitions: list[dict[str, Any]]) -> None:
        positions: dict[Hashable, int] = {}
        duplicates: set[Hashable] = set()
        for at, partition in enumerate(partitions):
            context = partition["context"]  # a partition without one is the SDK's KeyError, as its scan raises
            key = _key(context) if isinstance(context, dict) else None
            if key is None:
                continue
            if key in positions:
                duplicates.add(key)
            positions.setdefault(key, at)
        self._indexed, self._indexed_length = partitions, len(partitions)
        self._positions, self._duplicates = positions, duplicates

    @staticmethod
    def _scan(partitions: list[dict[str, Any]], context: Mapping[str, Any]) -> dict[str, Any] | None:
        """The SDK's lookup: every partition compared; a context found twice is an error."""
        return _find_in_partitions_list(partitions, dict(context))
