"""`--discover` checks the config as a sync does: one line per problem, exit 1, no traceback, no catalog."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import TAP, error_lines
from twilio_sandbox import Sandbox


@pytest.mark.parametrize(
    ("override", "problems"),
    [
        (
            {"start_date": "yesterday", "lookback_days": "abc"},
            {"Invalid config: start_date must be an ISO-8601 date", "Invalid config: lookback_days must be a number"},
        ),
        ({"page_size": 5000}, {"Invalid config: page_size must be a whole number from 1 to 1000"}),
        ({"region": "mars"}, {"Invalid config: region must be one of"}),
    ],
)
def test_discovery_refuses_a_bad_setting_in_one_line_per_problem(
    sandbox: Sandbox, config: dict[str, Any], tmp_path: Path, override: dict[str, Any], problems: set[str]
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config, **override}))
    proc = subprocess.run([*TAP, "--config", str(path), "--discover"], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = error_lines(proc.stderr)
    assert len(lines) == len(problems), proc.stderr[-2000:]
    assert all(any(p in line for line in lines) for p in problems), lines
    assert "Traceback" not in proc.stderr
    assert sandbox.stats.total == 0


def test_discovery_with_a_good_config_prints_the_catalog(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run([*TAP, "--config", str(path), "--discover"], capture_output=True, text=True, check=True)
    assert {s["tap_stream_id"] for s in json.loads(proc.stdout)["streams"]} >= {"messages", "calls"}
