"""What faults cost: a clean sync and a sync with injected 429s, 5xx, resets and stalls, side by side.

    .venv/bin/python benchmarks/faults.py [--messages 2000] [--latency-ms 20]

Prints the retries by reason (from the tap's final log line), the extra wall time the faults cost, and checks
that both runs emitted exactly the same records.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from twilio_sandbox import Faults, Sandbox

SUMMARY = re.compile(
    r"Requests: (\d+), retries: (\d+) (\{.*?\}), waited ([\d.]+)s on retries, max in flight (\d+), "
    r"throttled (\d+)"
)


def run(config: Path) -> tuple[float, Counter, str]:
    """One sync: wall seconds, records per (stream, key), the tap's summary line."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "tap_twilio", "--config", str(config)], capture_output=True, text=True, check=True
    )
    wall = time.monotonic() - started
    records: Counter = Counter()
    for line in proc.stdout.splitlines():
        if line.startswith('{"type":"RECORD"'):
            message = json.loads(line)
            record = message["record"]
            records[
                (message["stream"], record.get("sid") or record.get("uri") or json.dumps(record, sort_keys=True))
            ] += 1
    summary = [ln for ln in proc.stderr.splitlines() if "Requests:" in ln][-1]
    return wall, records, summary


def main() -> int:
    """Run both syncs and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20)
    args = parser.parse_args()
    faults = Faults(
        rate_429=0.10,
        rate_429_retry_after=0.5,
        rate_5xx=0.05,
        rate_reset=0.02,
        rate_stall=0.005,
        stall_seconds=3.0,
        seed=1,
    )
    with (
        Sandbox(
            seed=31,
            subaccounts=2,
            days=60,
            sizes={"messages": args.messages},
            latency_ms=args.latency_ms,
            record_requests=False,
        ) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config = Path(tmp) / "config.json"
        config.write_text(
            json.dumps(
                sandbox.tap_config(
                    request_timeout_seconds=1.0, backoff_base_seconds=0.2, backoff_max_seconds=5.0, max_retries=10
                )
            )
        )
        clean_wall, clean_records, clean_summary = run(config)
        sandbox.faults = faults
        sandbox.reset_stats()
        faulty_wall, faulty_records, faulty_summary = run(config)
        injected = dict(sandbox.stats.faults)
    print(f"{'':28}{'clean':>12}{'faults':>12}")
    for label, a, b in (
        ("wall seconds", f"{clean_wall:.2f}", f"{faulty_wall:.2f}"),
        ("records", sum(clean_records.values()), sum(faulty_records.values())),
    ):
        print(f"{label:28}{a:>12}{b:>12}")
    for name, summary in (("clean", clean_summary), ("faults", faulty_summary)):
        match = SUMMARY.search(summary)
        if match:
            requests, retries, reasons, waited, in_flight, throttled = match.groups()
            print(
                f"{name:8} requests {requests}, retries {retries} {reasons}, waited {waited}s, "
                f"max in flight {in_flight}, throttled {throttled}x"
            )
    print(f"injected faults: {injected}")
    print(f"extra wall time from faults: {faulty_wall - clean_wall:+.2f}s ({faulty_wall / clean_wall:.2f}x)")
    same = clean_records == faulty_records
    print(f"same records as the clean sync: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
