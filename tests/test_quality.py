"""The tap and its sandbox pass ruff and mypy --strict (the habits in STYLE.md), so CI keeps it that way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

pytestmark = pytest.mark.heavy(seconds=20)

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "packages" / "twilio-sandbox"

# (where to run, what to check): each distribution under its own pyproject.toml settings
CODE = [
    pytest.param(ROOT, "tap_twilio", id="tap"),
    pytest.param(ROOT, "hatch_build.py", id="build-hook"),  # compiles the C converter (tap_twilio/_speedups.c)
    pytest.param(SANDBOX, "src/twilio_sandbox", id="sandbox"),
]


@pytest.mark.parametrize(
    ("cwd", "target"),
    [*CODE, *(pytest.param(ROOT, d, id=d) for d in ("tests", "benchmarks", "tools", "scripts", "orchestrate"))],
)
def test_ruff_finds_nothing(cwd: Path, target: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", target], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("cwd", "target"), CODE)
def test_mypy_strict_finds_nothing(cwd: Path, target: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", target], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_sandbox_gates_match_the_taps() -> None:
    """The sandbox is its own distribution, linted and typed by the same rules as the tap."""
    tap = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    sandbox = tomllib.loads((SANDBOX / "pyproject.toml").read_text())["tool"]
    assert sandbox["ruff"]["lint"] == {k: v for k, v in tap["ruff"]["lint"].items() if k != "per-file-ignores"}
    assert {k: v for k, v in sandbox["ruff"].items() if k != "lint"} == {
        k: v for k, v in tap["ruff"].items() if k != "lint"
    }
    assert sandbox["mypy"]["strict"] is tap["mypy"]["strict"] is True
