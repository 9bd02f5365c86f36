"""CPU per record, this tap against singer-io 0.2.2, measured the same way: best of the same number of runs each.

    .venv/bin/python benchmarks/cpu.py [--quick] [--warm] [--runs N] [--json PATH]

One account, only ``messages``, no latency. Both taps run against the same sandbox process, in the same cache state
(the sandbox builds every page afresh for both: its response cache is off), interleaved in rounds (each round runs
every tap at every size once) so that the machine's load falls on both taps and all sizes alike. CPU is the tap
process's user + system seconds (``os.wait4``), start-up included; each figure is the best (lowest) of ``--runs`` runs
(default 3).

* CPU per record at 100,000 messages: singer-io's over ours (target: >= 50x).
* Marginal CPU per record, what one more record costs once start-up is paid: ours between 100,000 and 1,000,000
  messages; singer-io's between 20,000 and 100,000 messages (a 1,000,000-message run of singer-io takes ~10 CPU
  minutes per run, so its marginal cost is measured between two smaller sizes; its cost per record does not fall
  with size, so this does not flatter it). Target: singer-io's over ours >= 80x.

``--quick``: 2,000 messages (ours' marginal between 2,000 and 20,000, singer-io's between 500 and 2,000).
``--warm``: the sandbox replays the pages it built (one run of each tap, not counted, fills its cache), so building
them (about 26 ms of CPU per 1,000 messages, in Python) does not compete with the taps for the machine's cores;
results in ``benchmarks/results-cpu-warm.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  # benchmarks/run.py: the sandbox process and the measured tap runs

TARGETS = {"cpu_per_record_ratio": 50.0, "marginal_cpu_per_record_ratio": 80.0}
FULL = {"base": 100_000, "ours_big": 1_000_000, "singerio_small": 20_000}
QUICK = {"base": 2_000, "ours_big": 20_000, "singerio_small": 500}


def measure(taps: bench.Taps, sizes: dict[str, list[int]], runs: int,
            warm: bool = False) -> dict[tuple[str, int], list[bench.Run]]:
    """(tap, messages) -> its runs: ``runs`` of each, one sandbox per size, all sandboxes up at once. Each round runs
    every (size, tap) once, so a marginal cost (the difference between two sizes' best runs) compares runs made minutes
    apart, not a size's runs made before a slower or faster spell of the shared machine and the other's after it.
    ``warm``: the sandbox replays the pages it built (its response cache on), filled by one run of each tap not
    counted."""
    out: dict[tuple[str, int], list[bench.Run]] = {}
    with contextlib.ExitStack() as stack:
        plan: list[tuple[int, str, list[str], bench.SandboxProcess]] = []
        for n in sorted({n for ns in sizes.values() for n in ns}):
            sb = stack.enter_context(
                bench.SandboxProcess(seed=1, subaccounts=0, days=90, sizes={"messages": n}, record_requests=False))
            for tap in (tap for tap, ns in sizes.items() if n in ns):  # singer-io's catalog only where it runs
                argv = (taps.our_argv(sb.config, f"cpu-{n}", ["messages"]) if tap == "ours"
                        else taps.singerio_argv(sb, f"cpu-{n}", ["messages"]))
                plan.append((n, tap, argv, sb))
            if warm:
                sb.call("set", cache=True)
        if warm:
            for n, tap, argv, sb in plan:
                bench.run_tap(f"cpu-{tap}-{n}-warm-up", tap, argv, sb)
        for i in range(runs):
            for n, tap, argv, sb in plan:
                run = bench.run_tap(f"cpu-{tap}-{n}-{i + 1}", tap, argv, sb)
                # singer-io emits a record on a window's boundary day twice (both ends inclusive): at least n
                if run.records.get("messages", 0) < n or (tap == "ours" and run.records["messages"] != n):
                    raise RuntimeError(f"{run.label}: {run.records.get('messages')} messages, expected {n}")
                out.setdefault((tap, n), []).append(run)
    return out


def scenario_cpu(taps: bench.Taps, results: dict[str, Any], *, quick: bool, runs: int,
                 sizes: dict[str, int] | None = None, warm: bool = False, key: str = "cpu") -> None:
    """Measure both taps and keep the figures in ``results[key]``."""
    shape = sizes or (QUICK if quick else FULL)
    base, big, small = shape["base"], shape["ours_big"], shape["singerio_small"]
    print(f"\n== CPU per record: {base:,} messages, one account, 0 ms, messages only; best of {runs} runs each; "
          f"marginal cost: ours {base:,} -> {big:,}, singer-io {small:,} -> {base:,}; the sandbox "
          + ("replays the pages it built (CPU-bound: the taps wait for no page)" if warm else
             "builds every page afresh (sandbox-bound: our tap waits for pages built on the same cores)"), flush=True)
    measured = measure(taps, {"ours": [base, big], "singer-io": [small, base]}, runs, warm)

    def best(tap: str, n: int) -> float:
        return min(r.cpu_s for r in measured[(tap, n)])

    def records(tap: str, n: int) -> int:  # records emitted (singer-io repeats a few on window boundaries)
        return min(measured[(tap, n)], key=lambda r: r.cpu_s).records["messages"]

    ours_per, sio_per = best("ours", base) / records("ours", base), best("singer-io", base) / records("singer-io", base)
    ours_marginal = (best("ours", big) - best("ours", base)) / (records("ours", big) - records("ours", base))
    sio_marginal = ((best("singer-io", base) - best("singer-io", small))
                    / (records("singer-io", base) - records("singer-io", small)))
    ratio, marginal_ratio = sio_per / ours_per, sio_marginal / ours_marginal
    rows = [[f"{tap} {n:,}", records(tap, n), *(r.cpu_s for r in runs_), best(tap, n),
             best(tap, n) / records(tap, n) * 1000, max(r.max_rss_mb for r in runs_)]
            for (tap, n), runs_ in sorted(measured.items())]
    headers = ["tap, messages", "records", *(f"CPU s run {i + 1}" for i in range(runs)), "best CPU s",
               "best CPU ms / 1k records", "peak RSS MB"]
    bench.show(bench.table("CPU per record (user + system of the tap process, start-up included)", headers, rows)
               + f"\n\nCPU per record at {base:,}, best of {runs} each: singer-io {sio_per * 1e6:.1f} us, ours "
                 f"{ours_per * 1e6:.2f} us: {ratio:.1f}x less (target >= {TARGETS['cpu_per_record_ratio']:g}x)"
               + f"\nmarginal CPU per record: ours ({base:,} -> {big:,}) {ours_marginal * 1e6:.2f} us, singer-io "
                 f"({small:,} -> {base:,}) {sio_marginal * 1e6:.1f} us: {marginal_ratio:.1f}x less "
                 f"(target >= {TARGETS['marginal_cpu_per_record_ratio']:g}x)"
               + f"\nours' start-up and fixed cost, extrapolated to 0 records: "
                 f"{best('ours', base) - ours_marginal * base:.2f} CPU s")
    results[key] = {
        "runs_each": runs, "base": base, "ours_big": big, "singerio_small": small,
        "sandbox_cache": "on for both, filled by a run of each not counted" if warm else "off for both",
        "cpu_s": {f"{tap}|{n}": [r.cpu_s for r in runs_] for (tap, n), runs_ in sorted(measured.items())},
        "wall_s": {f"{tap}|{n}": [r.wall_s for r in runs_] for (tap, n), runs_ in sorted(measured.items())},
        "records": {f"{tap}|{n}": [r.records["messages"] for r in runs_]
                    for (tap, n), runs_ in sorted(measured.items())},
        "ours_us_per_record": ours_per * 1e6, "singerio_us_per_record": sio_per * 1e6, "ratio": ratio,
        "ours_marginal_us": ours_marginal * 1e6, "singerio_marginal_us": sio_marginal * 1e6,
        "marginal_ratio": marginal_ratio, "ours_fixed_cpu_s": best("ours", base) - ours_marginal * base,
        "targets": TARGETS,
    }


def summary_rows(results: dict[str, Any], key: str = "cpu") -> list[list[Any]]:
    c = results.get(key)
    if not c:
        return []
    return [
        bench.verdict(f"CPU per record singer-io/ours, {c['base']:,} messages, best of {c['runs_each']} each",
                      c["ratio"], ">=", TARGETS["cpu_per_record_ratio"],
                      f"{c['singerio_us_per_record']:.1f} vs {c['ours_us_per_record']:.2f} us per record"),
        bench.verdict("marginal CPU per record singer-io/ours", c["marginal_ratio"], ">=",
                      TARGETS["marginal_cpu_per_record_ratio"],
                      f"ours {c['base']:,}->{c['ours_big']:,}: {c['ours_marginal_us']:.2f} us; singer-io "
                      f"{c['singerio_small']:,}->{c['base']:,}: {c['singerio_marginal_us']:.1f} us"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 messages; marginal cost from smaller sizes")
    parser.add_argument("--runs", type=int, default=3, help="runs of each tap at each size (the best counts)")
    parser.add_argument("--sizes", help="messages as BASE,OURS_BIG,SINGERIO_SMALL (default 100000,1000000,20000)")
    parser.add_argument("--warm", action="store_true",
                        help="the sandbox replays the pages it built, so its CPU does not compete with the taps'")
    parser.add_argument("--json", default=None, help="results file (default benchmarks/results-cpu[-quick].json)")
    args = parser.parse_args(argv)
    sizes = dict(zip(("base", "ours_big", "singerio_small"), map(int, args.sizes.split(",")), strict=True)) \
        if args.sizes else None
    return bench.main_of("cpu-warm" if args.warm else "cpu", args,
                         lambda taps, results: scenario_cpu(taps, results, quick=args.quick, runs=args.runs,
                                                            sizes=sizes, warm=args.warm),
                         summary_rows)


if __name__ == "__main__":
    sys.exit(main())
