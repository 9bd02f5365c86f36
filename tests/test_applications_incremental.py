"""applications replicate on date_updated (Stitch: date_created), so a renamed application reaches the warehouse."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import FAST_RETRIES, discover, run_tap, select
from twilio_sandbox import Sandbox


def test_a_renamed_application_is_emitted_by_the_next_incremental_run(tmp_path: Path) -> None:
    with Sandbox(seed=12, subaccounts=1, days=30) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        catalog = select(discover(tmp_path, config), {"applications"})

        first = run_tap(tmp_path, config, catalog=catalog)
        sub = sb.account_sids[1]
        # the oldest application of the subaccount: created long before the first run's bookmark
        oldest = sb.expected("applications", sub)[-1]
        assert {r["sid"] for r in first.records["applications"]} >= {oldest["sid"]}
        renamed = sb.update_record("applications", oldest["sid"], friendly_name="renamed after the first run")
        time.sleep(1.1)  # a run reads up to its start second; a change made in that second is the next run's

        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        by_sid = {r["sid"]: r for r in second.records["applications"]}
        assert by_sid[renamed["sid"]]["friendly_name"] == "renamed after the first run"
        # incremental: of the unchanged applications only each account's newest (at its bookmark) comes again
        newest = {sb.expected("applications", account)[0]["sid"] for account in sb.account_sids}
        assert set(by_sid) - {renamed["sid"]} <= newest
        partitions = {
            p["context"]["account_sid"]: p["replication_key_value"]
            for p in second.state["bookmarks"]["applications"]["partitions"]
        }
        assert partitions[sub] >= by_sid[renamed["sid"]]["date_updated"]
        entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "applications")
        root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        assert root["valid-replication-keys"] == ["date_updated"]
