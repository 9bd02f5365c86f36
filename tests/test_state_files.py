"""State files a scheduler hands the tap: an empty one is a first run; a wrong one is one line naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import error_lines, run_tap
from twilio_sandbox import Sandbox


@pytest.mark.parametrize("content", ["", "  \n\t\n"])
def test_an_empty_state_file_means_no_state(
    sandbox: Sandbox, config: dict[str, Any], tmp_path: Path, content: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    run = run_tap(tmp_path, {**config, "start_date": "2000-01-01T00:00:00Z"}, args=("--state", str(path)), check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    notes = [line for line in run.stderr.splitlines() if "is empty: starting without state" in line]
    assert len(notes) == 1 and "| INFO" in notes[0] and str(path) in notes[0]
    assert '"type":"STATE"' in run.stdout.splitlines()[-1]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"bookmarks": 5}', "'bookmarks' is int, not an object"),
        ('{"bookmarks": {"messages": 5}}', "stream 'messages' (its bookmark is int)"),
        ('{"version": 3, "streams": []}', "unexpected key 'streams', 'version'"),
        ("[1]", "must hold a JSON object"),
        ("{nope", "is not valid JSON"),
    ],
)
def test_every_state_error_names_the_file_and_the_shape_expected(
    sandbox: Sandbox, config: dict[str, Any], tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "my-state.json"
    path.write_text(content)
    run = run_tap(tmp_path, config, args=("--state", str(path)), check=False)
    assert run.returncode == 1
    assert run.stdout == ""
    [line] = error_lines(run.stderr)
    assert str(path) in line, line
    assert problem in line, line
    assert '{"bookmarks": {"<stream>": {...}}}' in line, line
    assert "Traceback" not in run.stderr
    assert sandbox.stats.total == 0
