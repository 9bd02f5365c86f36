"""The benchmark scripts run (their --quick form, the parts that need only this tap) and write what the docs cite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_resume_benchmark_kills_three_runs_loses_nothing_and_records_its_command(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/performance.py", "--quick", "--only", "resume", "--json", str(out)],
        cwd=ROOT,
        env={**os.environ, "BENCH_RUN_DIR": str(tmp_path / "runs")},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results["command"].startswith(".venv/bin/python benchmarks/performance.py --quick --only resume")
    resume = results["resume"]
    assert resume["lost_records"] == 0
    assert [run["killed"] for run in resume["runs"]] == [True, True, True, False]
    assert resume["resumed_requests"] > resume["clean_requests"] > 0
    assert "resume: requests / one clean run" in proc.stdout
