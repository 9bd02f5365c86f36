"""A partition's state is found through an index, with the SDK's answers: the same dicts, created the same way, the
same error for a duplicate, and right after another hand changed the list."""

from __future__ import annotations

from typing import Any

import pytest
from singer_sdk.helpers._state import get_writeable_state_dict

from tap_twilio.partition_state import IndexedStateManager


class Counted(dict[str, Any]):
    """A context that counts how often it is compared."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        Counted.compared += 1
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


def manager(state: dict[str, Any], stream: str = "messages") -> IndexedStateManager:
    return IndexedStateManager(stream_name=stream, tap_state=state, state_partitioning_keys=["account_sid"])


def test_it_returns_the_dicts_the_sdk_returns_and_creates_what_the_sdk_creates() -> None:
    ours: dict[str, Any] = {}
    sdks: dict[str, Any] = {}
    indexed = manager(ours)
    for sid in ["AC1", "AC2", "AC1", "AC3", "AC2"]:
        mine = indexed.get_context_state({"account_sid": sid, "day": "ignored: not a partitioning key"})
        theirs = get_writeable_state_dict(sdks, "messages", state_partition_context={"account_sid": sid})
        mine["seen"] = mine.get("seen", 0) + 1
        theirs["seen"] = theirs.get("seen", 0) + 1
    assert ours == sdks
    assert [p["context"]["account_sid"] for p in ours["bookmarks"]["messages"]["partitions"]] == ["AC1", "AC2", "AC3"]
    assert indexed.get_context_state(None) is ours["bookmarks"]["messages"]
    assert indexed.get_context_state({"account_sid": "AC2"}) is ours["bookmarks"]["messages"]["partitions"][1]


def test_it_compares_each_context_about_once_where_the_sdk_compares_every_pair() -> None:
    accounts = 2_000
    state: dict[str, Any] = {
        "bookmarks": {"messages": {"partitions": [{"context": Counted(account_sid=f"AC{i}")} for i in range(accounts)]}}
    }
    indexed = manager(state)
    Counted.compared = 0
    for _ in range(3):  # a sync looks each account up several times
        for i in range(accounts):
            assert indexed.get_context_state({"account_sid": f"AC{i}"})["context"]["account_sid"] == f"AC{i}"
    assert Counted.compared <= 3 * accounts  # the SDK's scan: about 3 x 2,000 x 2,000 / 2
    Counted.compared = 0
    get_writeable_state_dict(state, "messages", state_partition_context={"account_sid": "AC1999"})
    assert Counted.compared == accounts  # what every lookup cost before


def test_a_list_changed_by_another_hand_is_indexed_again() -> None:
    state: dict[str, Any] = {}
    indexed = manager(state)
    first = indexed.get_context_state({"account_sid": "AC1"})
    indexed.get_context_state({"account_sid": "AC2"})
    partitions = state["bookmarks"]["messages"]["partitions"]
    partitions.insert(0, {"context": {"account_sid": "AC0"}, "replication_key_value": "x"})  # shifts every position
    assert indexed.get_context_state({"account_sid": "AC1"}) is first
    assert indexed.get_context_state({"account_sid": "AC0"})["replication_key_value"] == "x"
    partitions.append({"context": {"account_sid": "AC7"}, "v": 7})  # appended by another hand: not indexed yet
    assert indexed.get_context_state({"account_sid": "AC7"})["v"] == 7
    assert len(partitions) == 4
    del partitions[-1]
    partitions[1] = {"context": {"account_sid": "AC9"}}  # AC1's replaced in place: same length
    assert indexed.get_context_state({"account_sid": "AC1"}) is partitions[-1]  # created again, as the SDK would
    assert indexed.get_context_state({"account_sid": "AC9"}) is partitions[1]
    assert len(partitions) == 4
    state["bookmarks"]["messages"] = {"partitions": [{"context": {"account_sid": "AC1"}, "v": 1}]}  # a new state
    assert indexed.get_context_state({"account_sid": "AC1"})["v"] == 1


def test_a_duplicate_partition_is_the_sdks_error_and_an_unhashable_context_is_scanned() -> None:
    state = {"bookmarks": {"messages": {"partitions": [{"context": {"account_sid": "AC1"}}] * 2}}}
    with pytest.raises(ValueError, match="duplicate entries for partition"):
        manager(state).get_context_state({"account_sid": "AC1"})
    state = {"bookmarks": {"messages": {"partitions": [{"replication_key_value": "x"}]}}}
    with pytest.raises(KeyError, match="context"):  # as the SDK's scan raises on a partition without a context
        manager(state).get_context_state({"account_sid": "AC1"})
    state = {"bookmarks": {"calls": {"partitions": [{"context": {"account_sid": ["AC1"]}, "v": 2}]}}}
    assert manager(state, "calls").get_context_state({"account_sid": ["AC1"]})["v"] == 2


def test_saved_finds_without_creating() -> None:
    state: dict[str, Any] = {}
    indexed = manager(state)
    assert indexed.saved({"account_sid": "AC1"}) is None
    assert state == {}
    created = indexed.get_context_state({"account_sid": "AC1"})
    assert indexed.saved({"account_sid": "AC1"}) is created
    assert indexed.saved({"account_sid": "AC2"}) is None
    assert len(state["bookmarks"]["messages"]["partitions"]) == 1
