"""How requests are scheduled (issue 14): latency-bound syncs of every stream, and hundreds of subaccounts.

    .venv/bin/python benchmarks/scheduling.py [--quick] [--only A,B,C,D] [--json PATH]

Both taps run against the same local sandbox in the same run (machinery of ``benchmarks/run.py``: the sandbox in its
own process, each tap a subprocess measured with ``os.wait4``), so read the ratios. Scenarios:

A. 100 ms per response, main + 2 subaccounts, **every Stitch stream selected** (ours: the 23; singer-io: 22, as the
   sandbox does not serve its all-time usage list): wall time of ours vs singer-io 0.2.2 (target: singer-io / ours
   >= 20). Ours also runs with every stream it has (the product APIs and history streams too), and with
   max_concurrency 2, 4, 16 and 32 (the evidence for the default of 8), for information.
B. 200 subaccounts with a few records in each stream, 100 ms per response, every Stitch stream: our wall time
   against the lower bound ``max(requests / max_concurrency, the busiest account's requests / the per-account cap)
   x latency + longest parent->child chain x latency`` (target <= 1.2x; the per-account term counts when the tap
   has a per-account concurrency setting). The chain is 3 round trips: the account listing, a parent list, its
   child lists. singer-io reads one request at a time, so it is run on 10 of the subaccounts only and extrapolated
   linearly to 200 (said so in the output).
C. Start-up: time from process start to the first request the sandbox sees (median of 5 runs), against the floor
   of importing singer_sdk in a bare interpreter.
D. CPU and memory with this scheduling (scenarios 1 and 4 of ``benchmarks/run.py``, run here so that one command
   prints every figure of issue 14): CPU seconds per record on 100,000 messages, ours (best of three) vs
   singer-io (target: >= 50x), and peak RSS syncing 1,000,000 vs 20,000 messages (target: <= 1.5x).

Every run of ours also reports, in its closing log lines, the most lists it had in flight ahead of the writer and
the most pages buffered; both are printed (memory stays bounded by them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  # benchmarks/run.py

RESULTS_JSON = HERE / "results-scheduling.json"
STITCH_STREAMS = [
    "accounts", "account_balance", "addresses", "dependent_phone_numbers", "alerts", "applications",
    "available_phone_number_countries", "available_phone_numbers_local", "available_phone_numbers_mobile",
    "available_phone_numbers_toll_free", "calls", "conferences", "conference_participants",
    "incoming_phone_numbers", "keys", "messages", "message_media", "outgoing_caller_ids", "queues", "recordings",
    "transcriptions", "usage_records", "usage_triggers",
]
FEW = {  # "a few records in each stream"
    "messages": 6, "calls": 4, "recordings": 2, "conferences": 2, "addresses": 1, "applications": 1,
    "incoming_phone_numbers": 1, "keys": 1, "outgoing_caller_ids": 1, "queues": 1, "transcriptions": 1,
    "usage_triggers": 1, "alerts": 3,
}
# singer-io reads usage from the all-time /Usage/Records.json list, which the sandbox does not serve (it serves
# Daily.json, which this tap reads): singer-io syncs the other 22, ours all 23, so the ratios are conservative
SINGERIO_STREAMS = [s for s in STITCH_STREAMS if s != "usage_records"]
LATENCY_S = 0.1
CHAIN_ROUND_TRIPS = 3  # accounts listing -> a parent list -> its child lists
TARGETS = {"all_streams_wall_ratio": 20.0, "subaccounts_over_lower_bound": 1.2}


def read_ahead(run: bench.Run) -> tuple[int | None, int | None]:
    """(most lists in flight ahead of the writer, most pages buffered) from our tap's closing log line."""
    text = Path(run.stderr_path or "").read_text(errors="replace")
    match = re.search(r"Read ahead: at most (\d+) lists in flight ahead of the writer, (\d+) pages buffered", text)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def all_our_streams(taps: bench.Taps, config: dict[str, Any]) -> list[str]:
    path = bench.RUN_DIR / "config-discover.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run([*taps.ours, "--config", str(path), "--discover"], capture_output=True, text=True,
                          check=True)
    return [entry["tap_stream_id"] for entry in json.loads(proc.stdout)["streams"]]


def scenario_all_streams(taps: bench.Taps, results: dict[str, Any], *, sweep: bool = True, quick: bool = False) -> None:
    subaccounts = 1 if quick else 2
    print(f"\n== A. 100 ms per response, main + {subaccounts} subaccounts, every stream selected", flush=True)
    sizes = {"messages": 300, "calls": 150, "recordings": 40, "conferences": 15}
    if quick:
        sizes = {k: v // 5 for k, v in sizes.items()}
    # usage lists before an account existed answer 404 in Twilio (and the sandbox), which stops singer-io: lenient here
    # 28 days: singer-io asks Monitor for alerts from its start_date, and Twilio answers 400 beyond 30 days
    with bench.SandboxProcess(seed=6, subaccounts=subaccounts, days=7 if quick else 28, sizes=sizes, latency_ms=100,
                              usage_404_before_created=False) as sb:
        config = sb.config
        ours = bench.run_tap("A-ours-stitch-streams", "ours", taps.our_argv(config, "A", STITCH_STREAMS), sb)
        everything = all_our_streams(taps, config)
        taps._our_catalog = None  # the catalog is rediscovered with the same config
        ours_all = bench.run_tap("A-ours-every-stream", "ours", taps.our_argv(config, "A-all", everything), sb)
        singer = bench.run_tap("A-singerio-stitch-streams", "singer-io", taps.singerio_argv(sb, "A", SINGERIO_STREAMS),
                               sb)
        sweep = {
            width: bench.run_tap(f"A-ours-concurrency-{width}", "ours",
                                 taps.our_argv({**config, "max_concurrency": width}, f"A-c{width}", STITCH_STREAMS), sb)
            for width in ((2, 4, 16, 32) if sweep else ())
        }
        sweep[int(taps.setting(config, "max_concurrency"))] = ours
    ratio = singer.wall_s / ours.wall_s
    rows = []
    for run in (ours, ours_all, singer):
        lists, pages = read_ahead(run) if run.tap == "ours" else (None, None)
        rows.append([run.label, run.total_records, run.wall_s, run.requests, run.max_in_flight, lists, pages,
                     run.cpu_s, run.max_rss_mb])
    bench.show(bench.table("Scenario A - every stream, 100 ms per response (3 accounts)",
                           ["run", "records", "wall s", "requests", "max in flight", "lists ahead", "pages buffered",
                            "CPU s", "peak RSS MB"], rows)
               + f"\n\nsinger-io wall / ours wall (the 23 Stitch streams): {ratio:.1f}x"
               + f"\nours with all {len(everything)} streams: {ours_all.wall_s:.1f} s, {ours_all.requests} requests"
               + "\nmax_concurrency sweep (ours, Stitch streams): "
               + ", ".join(f"{w}: {r.wall_s:.1f} s" for w, r in sorted(sweep.items())))
    results["A"] = {"accounts": subaccounts + 1, "ratio": ratio, "ours": ours.wall_s,
                     "ours_requests": ours.requests, "singerio": singer.wall_s,
                    "singerio_requests": singer.requests, "ours_every_stream": ours_all.wall_s,
                    "ours_every_stream_requests": ours_all.requests, "streams_every": len(everything),
                    "read_ahead": read_ahead(ours), "max_in_flight": ours.max_in_flight,
                    "concurrency_sweep": {w: r.wall_s for w, r in sorted(sweep.items())}}


def scenario_subaccounts(taps: bench.Taps, results: dict[str, Any], subaccounts: int, singer_subset: int) -> None:
    print(f"\n== B. {subaccounts} subaccounts, a few records per stream, 100 ms per response", flush=True)
    with bench.SandboxProcess(seed=7, subaccounts=subaccounts, days=10, sizes=FEW, latency_ms=100,
                              record_requests=False, usage_404_before_created=False) as sb:
        config = sb.config
        max_conc, account_cap = bench.concurrency_caps(taps, config)
        ours = bench.run_tap(f"B-ours-{subaccounts}-subaccounts", "ours", taps.our_argv(config, "B", STITCH_STREAMS),
                             sb)
    # the process may have max_conc requests in flight, one account account_cap: whichever binds is the bound
    busiest = max(ours.by_account.values()) if ours.by_account else 0
    lower = max(ours.requests / max_conc, busiest / account_cap if account_cap else 0.0) * LATENCY_S \
        + CHAIN_ROUND_TRIPS * LATENCY_S
    over = ours.wall_s / lower
    # singer-io on a subset, extrapolated: it reads one request at a time, so its time is linear in accounts
    with bench.SandboxProcess(seed=7, subaccounts=singer_subset, days=10, sizes=FEW, latency_ms=100,
                              record_requests=False, usage_404_before_created=False) as sb_small:
        singer = bench.run_tap(f"B-singerio-{singer_subset}-subaccounts", "singer-io",
                               taps.singerio_argv(sb_small, "B", SINGERIO_STREAMS), sb_small)
    per_account = singer.wall_s / (singer_subset + 1)
    singer_extrapolated = per_account * (subaccounts + 1)
    lists, pages = read_ahead(ours)
    bench.show(bench.table(f"Scenario B - {subaccounts} subaccounts + main, 100 ms per response, Stitch streams",
                           ["run", "records", "wall s", "requests", "max in flight", "lists ahead", "pages buffered",
                            "CPU s", "peak RSS MB"],
                           [[ours.label, ours.total_records, ours.wall_s, ours.requests, ours.max_in_flight, lists,
                             pages, ours.cpu_s, ours.max_rss_mb],
                            [singer.label, singer.total_records, singer.wall_s, singer.requests,
                             singer.max_in_flight, None, None, singer.cpu_s, singer.max_rss_mb]])
               + f"\n\nlower bound = max({ours.requests} requests / max_concurrency {max_conc}, the busiest "
                 f"account's {busiest} / per-account cap {account_cap or '-'}) x {LATENCY_S * 1000:.0f} ms + "
                 f"{CHAIN_ROUND_TRIPS} round trips = {lower:.1f} s; ours {ours.wall_s:.1f} s = "
                 f"{over:.2f}x the lower bound (mean in flight {ours.mean_in_flight or 0:.1f})"
               + f"\nsinger-io measured on {singer_subset} subaccounts + main: {singer.wall_s:.1f} s "
                 f"({per_account:.1f} s per account); extrapolated linearly to {subaccounts} + main: "
                 f"{singer_extrapolated:.0f} s = {singer_extrapolated / ours.wall_s:.0f}x ours (an extrapolation, "
                 "not a measurement)")
    results["B"] = {"subaccounts": subaccounts, "ours": ours.wall_s, "requests": ours.requests,
                    "max_concurrency": max_conc, "per_account_cap": account_cap, "busiest_account_requests": busiest,
                    "mean_in_flight": ours.mean_in_flight, "lower_bound": lower, "over_lower_bound": over,
                    "singerio_subset": singer_subset, "singerio_subset_wall": singer.wall_s,
                    "singerio_extrapolated": singer_extrapolated, "read_ahead": (lists, pages),
                    "max_in_flight": ours.max_in_flight, "cpu_s": ours.cpu_s}


def scenario_startup(taps: bench.Taps, results: dict[str, Any], repeats: int) -> None:
    print("\n== C. Start-up: process start to the first request", flush=True)
    with bench.SandboxProcess(seed=8, subaccounts=0, days=3, sizes={"messages": 10}) as sb:
        argv = taps.our_argv(sb.config, "C", ["messages"])
        runs = [bench.run_tap(f"C-ours-{i}", "ours", argv, sb) for i in range(repeats)]
    firsts = [r.first_request_s for r in runs if r.first_request_s is not None]
    floors = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import singer_sdk"], check=True)
        floors.append(time.perf_counter() - t0)
    first, floor = statistics.median(firsts), statistics.median(floors)
    bench.show(f"time to first request (median of {len(firsts)}): {first:.3f} s; "
               f"a bare `python -c 'import singer_sdk'`: {floor:.3f} s; ours above that floor: {first - floor:.3f} s")
    results["C"] = {"first_request_s": first, "import_floor_s": floor, "runs": firsts}


def summary(results: dict[str, Any]) -> None:
    rows = []
    if "A" in results:
        a = results["A"]
        rows.append(["A wall singer-io/ours, every Stitch stream, 100 ms", a["ratio"],
                     f">= {TARGETS['all_streams_wall_ratio']:g}x",
                     "PASS" if a["ratio"] >= TARGETS["all_streams_wall_ratio"] else "FAIL",
                     f"{a['singerio']:.1f} s vs {a['ours']:.1f} s; read ahead {a['read_ahead']}"])
    if "B" in results:
        b = results["B"]
        rows.append([f"B {b['subaccounts']} subaccounts: wall / lower bound", b["over_lower_bound"],
                     f"<= {TARGETS['subaccounts_over_lower_bound']:g}x",
                     "PASS" if b["over_lower_bound"] <= TARGETS["subaccounts_over_lower_bound"] else "FAIL",
                     f"{b['ours']:.1f} s vs {b['lower_bound']:.1f} s; singer-io ~{b['singerio_extrapolated']:.0f} s "
                     "(extrapolated)"])
    if "C" in results:
        c = results["C"]
        rows.append(["C time to first request (s)", c["first_request_s"], "-", "-",
                     f"import floor {c['import_floor_s']:.2f} s"])
    if "scenario1" in results:
        s1, goal = results["scenario1"], bench.TARGETS["cpu_per_record_ratio"]
        best = s1["ratio_cpu_per_record_best_of_runs"]
        rows.append([f"D CPU s per record singer-io/ours, best of {s1['runs_each']} each", best, f">= {goal:g}x",
                     "PASS" if best >= goal else "FAIL",
                     f"median of each: {s1['ratio_cpu_per_record_median']:.1f}x; start-up included"])
    if "scenario4" in results:
        s4, goal = results["scenario4"], bench.TARGETS["rss_ratio"]
        rows.append([f"D peak RSS {s4['big']:,}/20k messages", s4["ratio"], f"<= {goal:g}x",
                     "PASS" if s4["ratio"] <= goal else "FAIL",
                     f"{s4['rss_big_mb']:.0f} MB vs {s4['rss_small_mb']:.0f} MB"])
    bench.show(bench.table("SUMMARY (scheduling)", ["target", "value", "goal", "result", "note"], rows))
    results["summary"] = rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="50 subaccounts in B instead of 200, 200,000 messages in D's memory run")
    parser.add_argument("--only", default="A,B,C,D")
    parser.add_argument("--subaccounts", type=int, default=200)
    parser.add_argument("--json", default=str(RESULTS_JSON))
    args = parser.parse_args(argv)
    only = {s.strip().upper() for s in args.only.split(",")}
    if bench.RUN_DIR.exists():
        shutil.rmtree(bench.RUN_DIR)
    bench.RUN_DIR.mkdir(parents=True)
    print(f"tap-twilio scheduling benchmark on {platform.node()}: {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; logs in {bench.RUN_DIR}", flush=True)
    taps = bench.Taps()
    results: dict[str, Any] = {**bench.new_results(), "targets": TARGETS}
    started = time.time()
    try:
        if "A" in only:
            scenario_all_streams(taps, results)
        if "B" in only:
            scenario_subaccounts(taps, results, 50 if args.quick else args.subaccounts, 10)
        if "C" in only:
            scenario_startup(taps, results, 5)
        if "D" in only:
            bench.scenario_cpu(taps, results, 100_000, 3, thread_profile=False)
            bench.scenario_memory(taps, results, 200_000 if args.quick else 1_000_000)
    finally:
        results["elapsed_s"] = time.time() - started
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    summary(results)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {args.json}; took {results['elapsed_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
