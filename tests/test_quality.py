"""The tap's code passes ruff and mypy --strict (the habits in STYLE.md), so CI keeps it that way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "tap_twilio"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_mypy_strict_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "tap_twilio"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
