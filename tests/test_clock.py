"""Twilio's clock, not the host's: the tap's host clock is shifted by ten minutes (libfaketime preloaded into the
tap's process; the sandbox keeps the real time), and the run starts and bookmarks at Twilio's time anyway: a host
ahead misses no change, a host behind duplicates nothing beyond what a run at the right time re-emits."""

from __future__ import annotations

import datetime as dt
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

from conftest import FAST_RETRIES, discover, run_tap, select
from twilio_sandbox import Sandbox

from tap_twilio.dates import to_iso

LIBFAKETIME = resources.files("libfaketime") / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"


def shifted(offset: str) -> dict[str, str]:
    """The environment that moves the tap process's clock by `offset` (e.g. "+10m"); timers stay real."""
    return {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def test_the_shift_is_real(tmp_path: Path, sandbox: Sandbox, config: dict[str, Any]) -> None:
    catalog = select(discover(tmp_path, config), {"accounts"})
    run = run_tap(tmp_path, config, catalog=catalog, env={**shifted("+10m"), "TAP_TWILIO_LOGLEVEL": "DEBUG"})
    offset = re.search(r"Twilio's clock is ([-+][\d.]+)s from this host's", run.stderr)
    assert offset, run.stderr[-2000:]
    assert -630 < float(offset[1]) <= -599, offset[0]  # a Date has whole seconds; a busy machine answers late


def test_a_host_clock_ten_minutes_ahead_misses_no_change(tmp_path: Path, sandbox: Sandbox) -> None:
    config = sandbox.tap_config(lookback_days=0, **FAST_RETRIES)
    catalog = select(discover(tmp_path, config), {"messages"})
    first = run_tap(tmp_path, config, catalog=catalog, env=shifted("+10m"))
    assert len(first.records["messages"]) == len(sandbox.expected("messages"))

    time.sleep(1.1)  # sent after the first run started (an earlier one is a late arrival: the lookback's job)
    sent = sandbox.now
    added = {sandbox.add_record("messages", account, date_sent=sent)["sid"] for account in sandbox.account_sids}
    time.sleep(1.1)  # a run reads up to the second it started, exclusive
    second = run_tap(tmp_path, config, catalog=catalog, state=first.state, env=shifted("+10m"))
    assert added <= {r["sid"] for r in second.records["messages"]}, "messages sent after the first run were missed"


def test_a_host_clock_ten_minutes_behind_duplicates_nothing(tmp_path: Path, sandbox: Sandbox) -> None:
    config = sandbox.tap_config(lookback_days=0, **FAST_RETRIES)
    catalog = select(discover(tmp_path, config), {"incoming_phone_numbers"})
    numbers = sandbox.expected("incoming_phone_numbers", sandbox.main_account_sid)
    now = sandbox.now
    for minutes, number in zip((5, 3), numbers[:2], strict=True):  # changed 5 and 3 minutes ago
        stamp = (now - dt.timedelta(minutes=minutes)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        sandbox.update_record("incoming_phone_numbers", number["sid"], friendly_name="renamed", date_updated=stamp)
    time.sleep(1.1)
    first = run_tap(tmp_path, config, catalog=catalog, env=shifted("-10m"))
    assert {n["sid"] for n in numbers[:2]} <= {r["sid"] for r in first.records["incoming_phone_numbers"]}

    second = run_tap(tmp_path, config, catalog=catalog, state=first.state, env=shifted("-10m"))
    # what any run re-emits: each account's records of its bookmark's own second (a change in it may follow the read)
    again = set()
    for account in sandbox.account_sids:
        rows = sandbox.expected("incoming_phone_numbers", account)
        newest = max((to_iso(r["date_updated"]) or "" for r in rows), default="")
        again |= {r["sid"] for r in rows if to_iso(r["date_updated"]) == newest}
    assert {r["sid"] for r in second.records["incoming_phone_numbers"]} == again
