"""Start the Twilio sandbox, sync every stream into an embedded DuckDB warehouse, build the dbt marts, print answers.

Run through scripts/demo.sh (which installs everything first, dbt in .bench/dbt-venv). Options: --subaccounts N,
--messages N.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from twilio_sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DBT = ROOT / ".bench" / "dbt-venv" / "bin" / "dbt"
MARTS = "twilio_analytics"  # the schema the queries below read


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
    return build_marts(args.database)


def build_marts(database: Path) -> int:
    """`dbt build` of transform/ on the DuckDB file, then a few answers from the marts."""
    started = time.monotonic()
    env = {
        **os.environ,
        "DBT_DUCKDB_PATH": str(database),
        "TWILIO_SOURCE_SCHEMA": "twilio",
        "DBT_TARGET_SCHEMA": MARTS,
        "DBT_TARGET_PATH": str(database.parent / "dbt" / "target"),
        "DBT_LOG_PATH": str(database.parent / "dbt" / "logs"),
    }
    project = ROOT / "transform"
    log_path = database.parent / "dbt.log"
    with log_path.open("w") as log:
        proc = subprocess.run(
            [DBT, "build", "--project-dir", project, "--profiles-dir", project / "profiles" / "duckdb"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    done = [line for line in log_path.read_text().splitlines() if "Done. PASS=" in line]
    print(f"\ndbt build (transform/) in {time.monotonic() - started:.1f}s: {done[-1].split('  ')[-1] if done else ''}")
    if proc.returncode:
        print(f"dbt build failed; see {log_path}", file=sys.stderr)
        return 1
    with duckdb.connect(str(database), read_only=True) as db:
        answer(
            db,
            "Spend per account over the last 7 days (usage records; messages and calls priced one by one)",
            """select account_name, account_sid, sum(spend_total), sum(messages_cost), sum(calls_cost),
                      sum(messages_out), sum(call_minutes)
               from twilio_analytics.twilio__account_daily where day > current_date - 7
               group by 1, 2 order by 3 desc""",
            ("account", "sid", "spend", "messages $", "calls $", "sent", "minutes"),
        )
        answer(
            db,
            "Messages per day, all accounts (last 7 days)",
            """select day, sum(messages_out), sum(messages_in), sum(messages_out_delivered + messages_out_read),
                      sum(messages_out_failed + messages_out_undelivered)
               from twilio_analytics.twilio__account_daily where day > current_date - 7 group by 1 order by 1""",
            ("day", "out", "in", "delivered", "failed"),
        )
        answer(
            db,
            "Verify: attempts, conversion and cost per channel",
            """select channel, sum(attempts), round(sum(conversions) / sum(attempts), 3), sum(cost)
               from twilio_analytics.twilio__verify_daily group by 1 order by 2 desc""",
            ("channel", "attempts", "conversion", "cost"),
        )
    print(f"\nMarts in schema {MARTS} of {database}: {', '.join(m for m in MART_NAMES)}")
    return 0


MART_NAMES = (
    "twilio__messages",
    "twilio__calls",
    "twilio__account_daily",
    "twilio__number_overview",
    "twilio__verify_daily",
    "twilio__conversation_overview",
)


def answer(db: duckdb.DuckDBPyConnection, title: str, sql: str, header: tuple[str, ...]) -> None:
    """Print one query's rows as a small table."""
    rows = db.execute(sql).fetchall()
    print(f"\n{title}")
    cells = [header, *[tuple("" if v is None else str(v) for v in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    raise SystemExit(main())
