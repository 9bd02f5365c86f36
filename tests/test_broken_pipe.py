"""A target that dies (wrong database, out of disk) stops reading the tap's output: the tap says so in one line and
exits 141 (SIGPIPE's code), with no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from conftest import TAP, error_lines, tap_args

FIRST_LINES = 5


def test_a_target_that_stops_reading_is_one_line_and_exit_141(tmp_path: Path, config: dict[str, Any]) -> None:
    with subprocess.Popen(
        [*TAP, *tap_args(tmp_path, config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for _ in range(FIRST_LINES):
            proc.stdout.readline()
        proc.stdout.close()  # the target died
        stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 128 + 13, stderr[-3000:]
    assert error_lines(stderr) == [line for line in stderr.splitlines() if "| ERROR" in line]
    [line] = error_lines(stderr)
    assert "The target stopped reading the tap's output (broken pipe)" in line
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert "Exception ignored" not in stderr
    assert "Stopped: the target stopped reading after" in stderr.splitlines()[-1]
