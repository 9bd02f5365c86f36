"""Start the Twilio sandbox, sync every stream into an embedded DuckDB warehouse, print each table's rows.

Run through scripts/demo.sh (which installs everything first). Options: --subaccounts N, --messages N.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from twilio_sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    """Run the demo."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subaccounts", type=int, default=2)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--database", type=Path, default=ROOT / "output" / "twilio.duckdb")
    args = parser.parse_args()
    args.database.parent.mkdir(parents=True, exist_ok=True)
    args.database.unlink(missing_ok=True)

    with (
        Sandbox(seed=7, subaccounts=args.subaccounts, sizes={"messages": args.messages}) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
    ):
        tap_config = Path(tmp) / "tap.json"
        tap_config.write_text(json.dumps(sandbox.tap_config()))
        target_config = Path(tmp) / "target.json"
        target_config.write_text(json.dumps({"filepath": str(args.database), "default_target_schema": "twilio"}))
        print(f"Sandbox Twilio API at {sandbox.url}: 1 main account + {args.subaccounts} subaccounts")
        started = time.monotonic()
        log_path = args.database.with_suffix(".log")
        with log_path.open("w") as log:
            tap = subprocess.Popen([BIN / "tap-twilio", "--config", tap_config], stdout=subprocess.PIPE, stderr=log)
            target = subprocess.run(
                [BIN / "target-duckdb", "--config", target_config],
                stdin=tap.stdout,
                stdout=subprocess.DEVNULL,
                stderr=log,
                check=False,
            )
            tap.stdout.close()  # type: ignore[union-attr]
        if tap.wait() or target.returncode:
            print(
                f"sync failed: tap exit {tap.returncode}, target exit {target.returncode}; see {log_path}",
                file=sys.stderr,
            )
            return 1
        summary = [line for line in log_path.read_text().splitlines() if "Requests:" in line]
        elapsed = time.monotonic() - started

    with duckdb.connect(str(args.database), read_only=True) as db:
        tables = db.execute(
            "select table_catalog, table_name from information_schema.tables where table_schema = 'twilio' order by 2"
        ).fetchall()
        print(f"\nSynced every stream in {elapsed:.1f}s into {args.database} (logs: {log_path})")
        if summary:
            print(summary[-1].split("| ")[-1])
        print(f"\n{'table':40} {'rows':>8}")
        for catalog, table in tables:
            (count,) = db.execute(f'select count(*) from "{catalog}".twilio."{table}"').fetchone()  # noqa: S608
            print(f"{table:40} {count:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
