"""Every performance figure of docs/performance.md in one run: this tap against singer-io 0.2.2 on the same sandbox.

    .venv/bin/python benchmarks/performance.py [--quick] [--only backfill,streams,subaccounts,cpu,resume] [--json PATH]

The parts, each also a script of its own (same scenario, same figures):

* ``backfill``: one account, 200,000 messages over 400 days, 300 ms per response (``benchmarks/backfill.py``): wall
  time over ``requests x latency / in-flight cap`` (<= 1.3x), peak RSS over a 20,000-message run's (<= 2x).
* ``streams``: every Stitch stream, main + 2 subaccounts, 100 ms per response (scenario A of
  ``benchmarks/scheduling.py``): singer-io's wall time over ours (>= 20x).
* ``subaccounts``: 200 subaccounts with a few records each, 100 ms (scenario B of ``benchmarks/scheduling.py``): wall
  time over the lower bound (<= 1.2x).
* ``cpu``: 100,000 messages, no latency (``benchmarks/cpu.py --warm``): CPU per record, best of three runs of each
  tap (>= 50x less than singer-io), and the marginal CPU per record (>= 80x less), CPU-bound: the sandbox replays the
  pages it built, so neither tap waits for a page. Then the same with the sandbox building every page afresh
  (``benchmarks/cpu.py``), printed for reference: there our tap waits for pages built on the same two cores, about
  half of its wall time, and its CPU seconds grow with the sandbox's use of the machine (docs/performance.md).
* ``resume``: three SIGKILLs at 25/50/75% of a clean run's records, each rerun from the last STATE
  (``benchmarks/resume.py``): records lost (0) and requests over one clean run (<= 1.3x).

Writes ``benchmarks/results-performance.json`` (``-quick`` with ``--quick``), which records the command; the figures
quoted in docs/performance.md are checked against it by ``tests/test_performance_figures.py``. Full run: about 15
minutes on an idle 2-core machine; ``--quick`` (smaller data, fewer subaccounts): about 3 minutes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import backfill  # noqa: E402
import cpu  # noqa: E402
import resume  # noqa: E402
import run as bench  # noqa: E402
import scheduling  # noqa: E402

PARTS = ("backfill", "streams", "subaccounts", "cpu", "resume")


def summary_rows(results: dict[str, Any]) -> list[list[Any]]:
    rows = backfill.summary_rows(results)
    if "A" in results:
        a = results["A"]
        rows.append(bench.verdict(f"every stream, {a['accounts']} accounts, 100 ms: wall singer-io / ours", a["ratio"],
                                  ">=", scheduling.TARGETS["all_streams_wall_ratio"],
                                  f"{a['singerio']:.1f} s vs {a['ours']:.1f} s; {a['ours_requests']} vs "
                                  f"{a['singerio_requests']} requests"))
    if "B" in results:
        b = results["B"]
        rows.append(bench.verdict(f"{b['subaccounts']} subaccounts, 100 ms: wall / lower bound", b["over_lower_bound"],
                                  "<=", scheduling.TARGETS["subaccounts_over_lower_bound"],
                                  f"{b['ours']:.1f} s vs {b['lower_bound']:.1f} s for {b['requests']} requests"))
    reference = [[f"{name} (sandbox-bound, for reference)", value, "-", "-", note]
                 for name, value, _goal, _result, note in cpu.summary_rows(results, "cpu_sandbox_bound")]
    return rows + cpu.summary_rows(results) + reference + resume.summary_rows(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller data in every part (about 3 minutes)")
    parser.add_argument("--only", default=",".join(PARTS), help="parts to run, comma-separated")
    parser.add_argument("--json", default=None,
                        help="results file (default benchmarks/results-performance[-quick].json)")
    args = parser.parse_args(argv)
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    if only - set(PARTS):
        parser.error(f"unknown part(s) {sorted(only - set(PARTS))}; choose from {', '.join(PARTS)}")

    def body(taps: bench.Taps, results: dict[str, Any]) -> None:
        results["targets"] = {**backfill.TARGETS, **scheduling.TARGETS, **cpu.TARGETS, **resume.TARGETS}
        if "backfill" in only:
            backfill.scenario_backfill(taps, results, quick=args.quick)
        if "streams" in only:
            scheduling.scenario_all_streams(taps, results, sweep=False, quick=args.quick)
        if "subaccounts" in only:
            scheduling.scenario_subaccounts(taps, results, 20 if args.quick else 200, 2 if args.quick else 10)
        if "cpu" in only:
            cpu.scenario_cpu(taps, results, quick=args.quick, runs=3, warm=True)
            cpu.scenario_cpu(taps, results, quick=args.quick, runs=3, key="cpu_sandbox_bound")
        if "resume" in only:
            resume.scenario_resume(taps, results, quick=args.quick)

    return bench.main_of("performance", args, body, summary_rows)


if __name__ == "__main__":
    sys.exit(main())
