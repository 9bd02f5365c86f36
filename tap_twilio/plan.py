"""tap-twilio-plan: which accounts each shard reads and its expected work, to choose the number of shards."""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

from tap_twilio.config import Settings
from tap_twilio.http import TwilioError
from tap_twilio.run import SyncRun
from tap_twilio.shards import Shard
from tap_twilio.tap import read_json_file
from tap_twilio.validation import config_problems


def read_counts(path: Path) -> dict[str, int]:
    """account_sid,records rows (a header line is allowed), e.g. the warehouse's rows per account."""
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 2 or not row[0].startswith("AC"):
                continue
            counts[row[0]] = counts.get(row[0], 0) + int(row[1])
    return counts


def plan(accounts: list[str], main: str, shards: int, counts: dict[str, int] | None) -> list[str]:
    """The plan's lines: one summary per shard, the spread, then every account with its shard."""
    split = Shard(1, shards).split(accounts, main)
    unit = "records" if counts is not None else "account(s)"

    def work(sids: list[str]) -> int:
        return sum(counts.get(s, 0) for s in sids) if counts is not None else len(sids)

    total = sum(work(sids) for sids in split.values())
    average = total / shards
    lines = []
    for index, sids in split.items():
        share = work(sids) / total if total else 0.0
        summary = f"shard {index}/{shards}: {len(sids)} account(s)"
        if counts is not None:
            summary += f", {work(sids):,} records"
        lines.append(f"{summary} ({share:.1%} of the work)")
    largest = max(work(sids) for sids in split.values())
    spread = largest / average if average else 0.0
    lines.append(f"largest shard / average: {spread:.2f} (work counted in {unit}; 1.00 is an even split)")
    lines.append("")
    lines.append("shard  account                             records" if counts is not None else "shard  account")
    for index, sids in split.items():
        for sid in sids:
            note = "  (main account, once-per-run streams)" if sid == main else ""
            amount = f"  {counts.get(sid, 0):>9,}" if counts is not None else ""
            lines.append(f"  {index}/{shards}  {sid}{amount}{note}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the plan; exit 1 with one line on a bad config, file or credentials."""
    parser = argparse.ArgumentParser(prog="tap-twilio-plan", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="the tap's config file (lists the accounts)")
    parser.add_argument("--shards", type=int, required=True, help="number of shards")
    parser.add_argument("--counts", type=Path, help="CSV of account_sid,records (default: every account weighs 1)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="tap-twilio-plan: %(message)s")
    logger = logging.getLogger("tap-twilio-plan")
    try:
        if args.shards < 1:
            msg = "--shards must be at least 1"
            raise TwilioError(msg)
        config = read_json_file(args.config, "config")
        config.pop("shard", None)  # the plan lists every account
        if problems := config_problems(config):
            raise TwilioError("; ".join(problems))
        settings = Settings.from_config(config)
        counts = read_counts(args.counts) if args.counts else None
        run = SyncRun(settings, logger)
        try:
            accounts = run.accounts.synced
        finally:
            run.close()
    except (TwilioError, OSError, ValueError) as exc:
        logger.error("%s", exc)
        return 1
    sys.stdout.write("\n".join(plan(accounts, settings.account_sid, args.shards, counts)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
