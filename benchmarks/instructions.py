"""Instructions per record, this tap against singer-io 0.2.2, counted by valgrind: the CPU measure a shared,
noisy machine cannot move.

    .venv/bin/python benchmarks/instructions.py [--quick] [--taps ours,singer-io] [--json PATH]

One account, only ``messages``, no latency, the sandbox replaying the pages it built (its response cache on, filled
by a run of each tap not counted). Each tap runs under ``valgrind --tool=callgrind`` at two sizes; the count is every
instruction the tap process executed, start-up included (``Collected`` in callgrind's summary). Ours: 20,000 and
60,000 messages; singer-io: 500 and 2,000 (each of its records costs some 40 times ours, and callgrind runs a program
about 50 times slower). Printed: each tap's instructions per record between its two sizes (the marginal cost), their
ratio, and ours' fixed cost (extrapolated to 0 records). Writes ``benchmarks/results-instructions.json``.

An instruction count is repeatable where CPU seconds are not (the same count with the machine idle or loaded; see
docs/performance.md), so it tells whether a change made the record path cheaper. It is not the CPU target's measure:
it does not see cache misses or threads handing over the interpreter lock across cores, which cost this tap more
than singer-io (docs/performance.md, "Where the CPU goes").
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  # benchmarks/run.py: the sandbox process and the measured tap runs

FULL = {"ours": (20_000, 60_000), "singer-io": (500, 2_000)}
QUICK = {"ours": (300, 900), "singer-io": (100, 300)}
COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(label: str, tap: str, argv: list[str], sandbox: bench.SandboxProcess) -> tuple[int, int]:
    """(instructions, records) of one run of `argv` under callgrind."""
    run = bench.run_tap(label, tap, ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], sandbox)
    found = COLLECTED.findall(Path(str(run.stderr_path)).read_text(errors="replace"))
    if not found:
        raise RuntimeError(f"{label}: no instruction count in {run.stderr_path}")
    return int(found[-1]), run.records.get("messages", 0)


def scenario(taps: bench.Taps, results: dict[str, Any], *, quick: bool, which: list[str]) -> None:
    sizes = {tap: pair for tap, pair in (QUICK if quick else FULL).items() if tap in which}
    print("\n== Instructions per record (valgrind callgrind): one account, messages only, 0 ms, cached pages; "
          + "; ".join(f"{tap} {a:,} and {b:,} messages" for tap, (a, b) in sizes.items()), flush=True)
    counts: dict[str, list[tuple[int, int, int]]] = {}
    for tap, (small, big) in sizes.items():
        for n in (small, big):
            with bench.SandboxProcess(seed=1, subaccounts=0, days=90, sizes={"messages": n},
                                      record_requests=False) as sb:
                argv = (taps.our_argv(sb.config, f"instr-{n}", ["messages"]) if tap == "ours"
                        else taps.singerio_argv(sb, f"instr-{n}", ["messages"]))
                sb.call("set", cache=True)
                bench.run_tap(f"instr-{tap}-{n}-warm-up", tap, argv, sb)
                count, records = instructions(f"instr-{tap}-{n}", tap, argv, sb)
                if records < n:  # singer-io repeats a few records on window boundaries: at least n
                    raise RuntimeError(f"{tap} {n:,}: {records:,} messages")
                counts.setdefault(tap, []).append((n, records, count))
    marginal = {tap: (rows[1][2] - rows[0][2]) / (rows[1][1] - rows[0][1]) for tap, rows in counts.items()}
    ours_fixed = counts["ours"][0][2] - marginal["ours"] * counts["ours"][0][1] if "ours" in counts else None
    ratio = marginal["singer-io"] / marginal["ours"] if len(marginal) == 2 else None
    rows = [[f"{tap} {n:,}", records, count / 1e6, count / records] for tap, runs in counts.items()
            for n, records, count in runs]
    bench.show(bench.table("Instructions (callgrind), start-up included",
                           ["tap, messages", "records", "instructions (millions)", "per record"], rows)
               + "".join(f"\n{tap}: {per:,.0f} instructions per record at the margin" for tap, per in marginal.items())
               + (f"\nsinger-io's over ours: {ratio:.1f}x" if ratio else "")
               + (f"\nours' fixed cost (start-up), extrapolated to 0 records: {ours_fixed / 1e6:,.0f} million"
                  if ours_fixed is not None else ""))
    results["instructions"] = {
        "sizes": {tap: list(pair) for tap, pair in sizes.items()},
        "runs": {tap: [{"messages": n, "records": r, "instructions": c} for n, r, c in runs]
                 for tap, runs in counts.items()},
        "ours_marginal_per_record": marginal.get("ours"),
        "singerio_marginal_per_record": marginal.get("singer-io"),
        "marginal_ratio": ratio,
        "ours_fixed_millions": ours_fixed / 1e6 if ours_fixed is not None else None,
    }


def summary_rows(results: dict[str, Any]) -> list[list[Any]]:
    c = results.get("instructions")
    if not c or not c.get("marginal_ratio"):
        return []
    return [["marginal instructions per record singer-io/ours", f"{c['marginal_ratio']:.1f}", "(none)", "-",
             f"ours {c['ours_marginal_per_record']:,.0f}; singer-io {c['singerio_marginal_per_record']:,.0f}"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a check that the script works)")
    parser.add_argument("--taps", default="ours,singer-io", help="which taps to count (default both)")
    parser.add_argument("--json", default=None, help="results file (default benchmarks/results-instructions.json)")
    args = parser.parse_args(argv)
    which = args.taps.split(",")
    if not set(which) <= set(FULL):
        parser.error(f"--taps: one or both of {', '.join(FULL)}")
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    return bench.main_of("instructions", args,
                         lambda taps, results: scenario(taps, results, quick=args.quick, which=which), summary_rows)


if __name__ == "__main__":
    sys.exit(main())
