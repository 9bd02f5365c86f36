"""Logs a person reads: at INFO about one line per stream and account, no line longer than a few terminal widths,
and a closing line with the outcome, records per stream, requests and duration; DEBUG keeps the detail."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import run_tap
from twilio_sandbox import Sandbox

SDK_CHATTER = ("Beginning sync of", "Starting incremental sync of", "as child stream to", "Skipping parse of env var")
WIDTH = 480  # a few terminal widths, the time/level/logger prefix included
PREFIX = re.compile(r"^\S+ \S+ \| (\w+) +\| (\S+) +\| ")


def test_a_full_sync_logs_about_one_line_per_stream_and_account_and_a_closing_line(
    sandbox: Sandbox, config: dict[str, Any], tmp_path: Path
) -> None:
    run = run_tap(tmp_path, config)
    lines = run.stderr.splitlines()
    assert all(PREFIX.match(line) for line in lines), [ln for ln in lines if not PREFIX.match(ln)][:3]
    assert max(map(len, lines)) <= WIDTH, max(lines, key=len)
    assert not [line for line in lines if any(chatter in line for chatter in SDK_CHATTER)]
    streams = {stream for stream, records in run.records.items() if records}
    per_list = [line for line in lines if re.search(r" AC[0-9a-f]{32}: \d+ records$", line)]
    top_level = {line.split(" | ")[-1].split(" ")[0] for line in per_list}
    assert len(per_list) <= len(top_level) * len(sandbox.account_sids)
    assert len(lines) <= len(per_list) + 20, "one line per stream and account, plus a few warnings and the end"

    closing = lines[-1]
    assert "| INFO" in closing
    total = sum(len(records) for records in run.records.values())
    match = re.search(r"Sync completed after [\d.]+s: ([\d,]+) records \((.*)\), (\d+) requests$", closing)
    assert match, closing
    assert int(match[1].replace(",", "")) == total
    largest = max(streams, key=lambda s: len(run.records[s]))
    assert f"{largest} {len(run.records[largest]):,}" in match[2]
    assert int(match[3]) == sandbox.stats.total


def test_debug_keeps_the_detail(sandbox: Sandbox, config: dict[str, Any], tmp_path: Path) -> None:
    run = run_tap(tmp_path, {**config, "start_date": "2026-11-01T00:00:00Z"}, env={"TAP_TWILIO_LOGLEVEL": "DEBUG"})
    assert "Beginning sync of 'messages'" in run.stderr
    assert "Requests by stream: {" in run.stderr
    assert re.search(r"messages AC[0-9a-f]{32}: read \S+\.\.\S+, \d+ records so far", run.stderr)
