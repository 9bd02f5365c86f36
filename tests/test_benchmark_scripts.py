"""The benchmark scripts run (their --quick form, the parts that need only this tap) and write what the docs cite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.heavy(seconds=130)
ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run a benchmark script with a results file of its own; returns the process and what it wrote."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, *args, "--json", str(out)],
        cwd=ROOT,
        env={**os.environ, "BENCH_RUN_DIR": str(tmp_path / "runs")},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, json.loads(out.read_text())


def test_the_resume_benchmark_kills_three_runs_loses_nothing_and_records_its_command(tmp_path: Path) -> None:
    proc, results = run_benchmark(tmp_path, "benchmarks/performance.py", "--quick", "--only", "resume")
    assert results["command"].startswith(".venv/bin/python benchmarks/performance.py --quick --only resume")
    resume = results["resume"]
    assert resume["lost_records"] == 0
    assert [run["killed"] for run in resume["runs"]] == [True, True, True, False]
    assert resume["resumed_requests"] > resume["clean_requests"] > 0
    assert "resume: requests / one clean run" in proc.stdout


def test_the_transport_benchmark_reads_the_same_pages_both_ways_and_records_its_command(tmp_path: Path) -> None:
    _proc, results = run_benchmark(tmp_path, "benchmarks/transport.py", "--requests", "3", "--rounds", "1")
    assert results["command"].startswith(".venv/bin/python benchmarks/transport.py")
    assert set(results["pages"]) == {"1000", "20"}
    assert results["pages"]["1000"]["page_bytes"] > 40 * results["pages"]["20"]["page_bytes"] > 0
    for page in results["pages"].values():
        assert set(page["best_cpu_ms_per_request"]) == {"requests", "urllib3"}


def test_the_records_benchmark_times_each_step_of_a_page_and_records_its_command(tmp_path: Path) -> None:
    proc, results = run_benchmark(tmp_path, "benchmarks/records.py", "--pages", "2", "--rounds", "1")
    assert '"type":"RECORD"' not in proc.stdout  # the writer's output goes to /dev/null, not into the report
    assert results["command"].startswith(".venv/bin/python benchmarks/records.py")
    assert results["records"] == 1000
    steps = results["cpu_ms_per_page"]
    assert set(steps) == {"typed", "dicts"}
    for way in steps.values():
        assert set(way) == {"outline_read", "decode", "convert", "window_filter", "encode_records", "free"}
        assert all(value > 0 for value in way.values())
    assert results["floor_us_per_record"]["typed"] == pytest.approx(sum(steps["typed"].values()))


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (a skip fails in CI)")
def test_the_instructions_benchmark_counts_our_instructions_per_record_under_callgrind(tmp_path: Path) -> None:
    proc, results = run_benchmark(tmp_path, "benchmarks/instructions.py", "--quick", "--taps", "ours")
    assert results["command"].startswith(".venv/bin/python benchmarks/instructions.py --quick --taps ours")
    counts = results["instructions"]
    runs = counts["runs"]["ours"]
    assert [run["messages"] for run in runs] == [run["records"] for run in runs] == [300, 900]
    assert runs[1]["instructions"] > runs[0]["instructions"] > 100_000_000  # start-up alone is more
    assert 1_000 < counts["ours_marginal_per_record"] < 1_000_000
    assert counts["marginal_ratio"] is None and "instructions per record at the margin" in proc.stdout


def test_the_benchmarks_count_our_records_from_the_closing_line_the_tap_writes() -> None:
    # the benchmarks run the tap at its defaults (the SDK's METRIC lines at DEBUG): records per stream are read from
    # the closing line, which names the largest streams and counts the rest together
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run as bench  # noqa: PLC0415  # benchmarks/run.py
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from tap_twilio.summary import records_summary  # noqa: PLC0415

    records = {f"stream_{i:02}": 1000 + i for i in range(20)} | {"messages": 200_000, "calls": 0}
    line = f"…| INFO | tap-twilio | Sync completed after 2.2s: {records_summary(records)}, 9 requests"
    counts = bench.closing_counts(line)
    assert counts is not None
    assert counts["messages"] == 200_000
    assert sum(counts.values()) == sum(records.values())
    rest = [key for key in counts if key.endswith("more streams)")]
    assert len(rest) == 1
    assert {k: v for k, v in counts.items() if k not in rest}.items() <= records.items()
    assert bench.closing_counts(line.replace("Sync completed", "Interrupted by SIGTERM")) == counts
    assert bench.closing_counts("… | INFO | tap-twilio | Requests: 5, retries: 0 {}") is None
