"""Shards: which accounts a `shard` setting ("3/16") takes, and which tables a `tables` setting keeps."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tap_twilio.client import TwilioStream

SHARD_PATTERN = r"^[1-9][0-9]{0,4}/[1-9][0-9]{0,4}$"
TABLES = ("all", "incremental", "full_table")
Tables = Literal["all", "incremental", "full_table"]
_MULTIPLIER = 2862933555777941757  # the jump consistent hash's linear congruential step (Lamping & Veach, 2014)
_MASK64 = (1 << 64) - 1


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash: a bucket in [0, buckets); growing to n+1 buckets moves only 1/(n+1) of the keys."""
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * _MULTIPLIER + 1) & _MASK64
        candidate = int((bucket + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return bucket


def shard_of(account_sid: str, count: int) -> int:
    """The shard (1..count) an account's SID hashes to: the same on every machine, run and Python version."""
    key = int.from_bytes(hashlib.sha256(account_sid.encode()).digest()[:8], "big")
    return jump_hash(key, count) + 1


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the accounts hashing to it; the main account's own data is in shard 1."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'3/16' -> Shard(3, 16); a ValueError names what is wrong."""
        if not re.match(SHARD_PATTERN, text):
            msg = f"shard must look like 3/16, not {text!r}"
            raise ValueError(msg)
        index, count = (int(part) for part in text.split("/"))
        if index > count:
            msg = f"shard {text}: the shard number must be between 1 and {count}"
            raise ValueError(msg)
        return cls(index, count)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def whole(self) -> bool:
        """1/1: every account."""
        return self.count == 1

    def owner(self, account_sid: str, main: str) -> int:
        """The shard an account belongs to (the main account: 1, with the once-per-run streams)."""
        return 1 if account_sid == main else shard_of(account_sid, self.count)

    def owns(self, account_sid: str, main: str) -> bool:
        """Whether this shard reads the account."""
        return self.owner(account_sid, main) == self.index

    def split(self, account_sids: Iterable[str], main: str) -> dict[int, list[str]]:
        """Every shard's accounts, in the order given."""
        result: dict[int, list[str]] = {index: [] for index in range(1, self.count + 1)}
        for sid in account_sids:
            result[self.owner(sid, main)].append(sid)
        return result


def in_full_table_group(stream: TwilioStream, streams: Iterable[TwilioStream]) -> bool:
    """A full-table stream whose rows a complete read replaces (ACTIVATE_VERSION): no parent, or a full-table one."""
    if stream.replication_method != "FULL_TABLE":
        return False
    parent = next((s for s in streams if type(s) is stream.parent_stream_type), None)
    return parent is None or parent.replication_method == "FULL_TABLE"


def once_per_run(stream: TwilioStream) -> bool:
    """The same data whoever reads it (pricing): one shard reads it. The accounts stream lists the shard's own."""
    return not stream.per_account and stream.name != "accounts"


def deselect_outside(streams: list[TwilioStream], tables: Tables, shard: Shard | None, main_in_shard: bool) -> None:
    """Deselect the streams this run leaves to other runs (a parent still syncs for its selected children)."""
    for stream in streams:
        keep = tables == "all" or (tables == "full_table") == in_full_table_group(stream, streams)
        if shard is not None and not main_in_shard and once_per_run(stream):
            keep = False
        if not keep and stream.selected:
            stream.selected = False
