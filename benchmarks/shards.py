"""When to shard (issue 24): one process against shards running at once, on the same latency-bound work.

    .venv/bin/python benchmarks/shards.py [--subaccounts 60] [--shards 3]

The sandbox runs in its own process (``benchmarks/run.py``'s machinery) with 100 ms per response and a few records
in every stream of every account. Every stream is selected. Printed, from one run:

1. one process, ``max_concurrency`` 8 (the default);
2. one process, ``max_concurrency`` 8 x shards (the same number of requests in flight as the shards together);
3. the shards at once (``shard: i/N``, ``tables: incremental``, ``max_concurrency`` 8 each), then one unsharded
   ``tables: full_table`` run (what the Airflow DAG does): the longest shard, the full-table run, and their sum;

with each wall time's ratio to run 1, the requests, and ``tap-twilio-plan``'s spread for these accounts. Wall times
include each process's start-up. The machine is shared: read the ratios, not the seconds. Writes the same figures,
with the command that made them, to ``benchmarks/results-shards.json`` (``--json`` elsewhere), which
docs/orchestration.md quotes (``tools/performance_figures.py`` rewrites the page from it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  # benchmarks/run.py

from tap_twilio.plan import plan  # noqa: E402

FEW = {  # a few records in each stream of each account (as scheduling.py's scenario B)
    "messages": 6,
    "calls": 4,
    "recordings": 2,
    "conferences": 2,
    "addresses": 1,
    "applications": 1,
    "incoming_phone_numbers": 1,
    "keys": 1,
    "outgoing_caller_ids": 1,
    "queues": 1,
    "transcriptions": 1,
    "usage_triggers": 1,
    "alerts": 3,
}
TAP = [sys.executable, "-m", "tap_twilio"]


def launch(config: dict[str, Any], name: str) -> subprocess.Popen[bytes]:
    """Start the tap on a config, its output to /dev/null and its log to .bench/last-run/."""
    path = bench.RUN_DIR / f"shards-{name}.json"
    path.write_text(json.dumps(config))
    log = (bench.RUN_DIR / f"shards-{name}.stderr").open("wb")
    return subprocess.Popen([*TAP, "--config", str(path)], stdout=subprocess.DEVNULL, stderr=log)


def timed(configs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Run these configs at once; each one's wall time (a failure stops the benchmark)."""
    started = time.perf_counter()
    processes = {name: launch(config, name) for name, config in configs.items()}
    walls = {}
    for name, process in processes.items():
        if process.wait():
            msg = f"{name} exited with {process.returncode}: see {bench.RUN_DIR / f'shards-{name}.stderr'}"
            raise RuntimeError(msg)
        walls[name] = time.perf_counter() - started
    return walls


def main(argv: list[str] | None = None) -> int:
    """Run the three set-ups on one sandbox and print their wall times and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subaccounts", type=int, default=60)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--json", default=str(HERE / "results-shards.json"), help="results file")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {**bench.new_results(), "subaccounts": args.subaccounts, "shards": args.shards}
    bench.RUN_DIR.mkdir(parents=True, exist_ok=True)
    n = args.shards
    with bench.SandboxProcess(
        seed=7,
        subaccounts=args.subaccounts,
        days=10,
        sizes=FEW,
        latency_ms=100,
        record_requests=False,
        usage_404_before_created=False,
    ) as sb:
        config = {**sb.config, "max_concurrency": 8}
        rows = []

        def measure(label: str, configs: dict[str, dict[str, Any]]) -> dict[str, float]:
            sb.call("reset")
            walls = timed(configs)
            rows.append((label, max(walls.values()), sb.call("stats")["total"]))
            return walls

        measure("1. one process, max_concurrency 8", {"one": config})
        measure(f"2. one process, max_concurrency {8 * n}", {"wide": {**config, "max_concurrency": 8 * n}})
        shards = {f"shard-{i}": {**config, "shard": f"{i}/{n}", "tables": "incremental"} for i in range(1, n + 1)}
        measure(f"3a. {n} shards at once (incremental), the longest", shards)
        measure("3b. then the full-table run", {"full": {**config, "tables": "full_table"}})
        spread = plan(sb.accounts, sb.main, n, None)[n]
    base = rows[0][1]
    rows.append((f"3. {n} shards + full-table run", rows[2][1] + rows[3][1], rows[2][2] + rows[3][2]))
    print(f"\n{args.subaccounts} subaccounts + main, every stream, 100 ms per response ({n} shards)")
    print(f"{'set-up':<48} {'wall s':>8} {'vs 1':>6} {'requests':>9}")
    for label, wall, requests in rows:
        print(f"{label:<48} {wall:8.1f} {wall / base:6.2f} {requests:9,}")
    print(f"plan: {spread}")
    keys = ("one", "wide", "shards", "full_table", "shards_and_full_table")
    results["setups"] = {
        key: {"label": label, "wall_s": wall, "vs_one": wall / base, "requests": requests}
        for key, (label, wall, requests) in zip(keys, rows, strict=True)
    }
    results["plan"] = spread
    results["plan_spread"] = float(spread.partition(": ")[2].split()[0])
    out = Path(args.json)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {out.relative_to(bench.ROOT) if out.is_relative_to(bench.ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
