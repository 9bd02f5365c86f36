"""What a killed sync costs: three SIGKILLs, each rerun from the last STATE, against one clean run.

    .venv/bin/python benchmarks/resume.py [--quick] [--json PATH]

Main account + 2 subaccounts, 2,000 messages each over 90 days (a tenth with media), 100 ms per response, ``messages``
and ``message_media`` selected, the tap's default settings. A clean run is measured first (records and the requests
the sandbox saw). Then a run is started without state and killed with SIGKILL as soon as the records seen so far
(over all runs) reach 25% of the clean run's; the next run starts from the last STATE the killed run wrote, and is
killed at 50%, the next at 75%; the fourth runs to the end.

Counted as a target would have committed: of each run's output, only the records up to the last STATE it emitted
(a target commits a batch when it sees STATE; what came after it is lost with the process). Printed: records of the
clean run that no run committed (target: 0), and the requests of the four runs over the clean run's (target: <= 1.3x),
with message_media's requests apart (children of re-read parents are requested again).

``--quick``: 500 messages per account over 30 days.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  # benchmarks/run.py: the sandbox process and the tap's command

STREAMS = ["messages", "message_media"]
KILL_AT = (0.25, 0.5, 0.75)
TARGETS = {"resume_lost_records": 0, "resume_requests_ratio": 1.3}
FULL = {"messages": 2000, "days": 90}
QUICK = {"messages": 500, "days": 30}

Key = tuple[str, ...]


def run_until(argv: list[str], seen: set[Key], stop_at: int | None) -> dict[str, Any]:
    """Run the tap; SIGKILL it once ``seen`` (every record key seen so far, over all runs) reaches ``stop_at``.

    Returns the committed record keys (those before the last STATE it wrote), that STATE, and how the run ended.
    """
    keys: dict[str, list[str]] = {}
    pending: list[Key] = []  # records since the last STATE
    committed: list[Key] = []
    state = None
    emitted = 0
    killed = False
    t0 = time.perf_counter()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=bench.ROOT) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not raw.endswith(b"\n"):
                break  # a line cut by the kill
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "SCHEMA":
                keys[message["stream"]] = message["key_properties"]
            elif kind == "RECORD":
                record = message["record"]
                key = (message["stream"], *(json.dumps(record.get(k)) for k in keys[message["stream"]]))
                pending.append(key)
                seen.add(key)
                emitted += 1
                if not killed and stop_at is not None and len(seen) >= stop_at:
                    os.kill(proc.pid, signal.SIGKILL)  # then read what it had already written to the pipe
                    killed = True
            elif kind == "STATE":
                committed.extend(pending)
                pending.clear()
                state = message["value"]
        proc.wait()
    return {"committed": committed, "state": state, "emitted": emitted, "killed": killed,
            "returncode": proc.returncode, "wall_s": time.perf_counter() - t0, "lost_after_state": len(pending)}


def scenario_resume(taps: bench.Taps, results: dict[str, Any], *, quick: bool) -> None:
    shape = QUICK if quick else FULL
    print(f"\n== Resume: main + 2 subaccounts, {shape['messages']:,} messages each over {shape['days']} days, 100 ms; "
          "killed at 25/50/75% of the clean run's records", flush=True)
    with bench.SandboxProcess(seed=26, subaccounts=2, days=shape["days"], sizes={"messages": shape["messages"]},
                              latency_ms=100, record_requests=False) as sb:
        argv = taps.our_argv(sb.config, "resume", STREAMS)
        sb.call("reset")
        clean = run_until(argv, set(), None)
        clean_stats = sb.call("stats")
        if clean["returncode"] != 0:
            raise RuntimeError(f"the clean run failed with {clean['returncode']}")
        clean_keys = set(clean["committed"])
        print(f"  clean run: {len(clean_keys):,} records, {clean_stats['total']} requests, {clean['wall_s']:.1f} s",
              flush=True)
        sb.call("reset")
        seen: set[Key] = set()
        committed: set[Key] = set()
        state = None
        runs = []
        for fraction in (*KILL_AT, None):
            run_argv = list(argv)
            if state is not None:
                state_path = bench.RUN_DIR / f"resume-state-{len(runs)}.json"
                state_path.write_text(json.dumps(state))
                run_argv += ["--state", str(state_path)]
            stop_at = None if fraction is None else int(len(clean_keys) * fraction)
            before = sb.call("stats")["total"]
            run = run_until(run_argv, seen, stop_at)
            run["requests"] = sb.call("stats")["total"] - before
            if fraction is not None and not run["killed"]:
                raise RuntimeError(f"the run finished before {fraction:.0%} of the records: use more data")
            if fraction is None and run["returncode"] != 0:
                raise RuntimeError(f"the last run failed with {run['returncode']}")
            committed.update(run["committed"])
            state = run["state"] if run["state"] is not None else state
            runs.append(run)
            print(f"  run {len(runs)} ({'to the end' if fraction is None else f'killed at {fraction:.0%}'}): "
                  f"{run['emitted']:,} records emitted, {len(run['committed']):,} before its last STATE, "
                  f"{run['requests']} requests, {run['wall_s']:.1f} s", flush=True)
        resumed_stats = sb.call("stats")
    lost = clean_keys - committed
    ratio = resumed_stats["total"] / clean_stats["total"]
    media_clean = clean_stats["by_resource"].get("message_media", 0)
    media_resumed = resumed_stats["by_resource"].get("message_media", 0)
    bench.show(bench.table(
        "Resume", ["run", "records emitted", "committed (before the last STATE)", "requests", "wall s"],
        [["clean", clean["emitted"], len(clean["committed"]), clean_stats["total"], clean["wall_s"]],
         *[[f"{i + 1}{' (killed)' if r['killed'] else ''}", r["emitted"], len(r["committed"]), r["requests"],
            r["wall_s"]] for i, r in enumerate(runs)]])
        + f"\n\nrecords of the clean run no run committed: {len(lost)} (target 0)"
        + f"\nrequests, four runs / one clean run: {resumed_stats['total']} / {clean_stats['total']} = {ratio:.2f}x "
          f"(target <= {TARGETS['resume_requests_ratio']:g}x); message_media: {media_resumed} / {media_clean}")
    results["resume"] = {
        "messages_per_account": shape["messages"], "days": shape["days"], "accounts": 3, "latency_ms": 100,
        "clean_records": len(clean_keys), "clean_requests": clean_stats["total"],
        "resumed_requests": resumed_stats["total"], "requests_ratio": ratio, "lost_records": len(lost),
        "message_media_requests": {"clean": media_clean, "resumed": media_resumed},
        "by_resource": {"clean": clean_stats["by_resource"], "resumed": resumed_stats["by_resource"]},
        "runs": [{k: v for k, v in r.items() if k not in ("committed", "state")} for r in runs],
        "targets": TARGETS,
    }


def summary_rows(results: dict[str, Any]) -> list[list[Any]]:
    r = results.get("resume")
    if not r:
        return []
    return [
        bench.verdict("resume: records lost over 3 kills", r["lost_records"], "<=", TARGETS["resume_lost_records"],
                      f"of {r['clean_records']:,}, counting only records before each run's last STATE"),
        bench.verdict("resume: requests / one clean run", r["requests_ratio"], "<=", TARGETS["resume_requests_ratio"],
                      f"{r['resumed_requests']} vs {r['clean_requests']}; message_media "
                      f"{r['message_media_requests']['resumed']} vs {r['message_media_requests']['clean']}"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="500 messages per account over 30 days")
    parser.add_argument("--json", default=None, help="results file (default benchmarks/results-resume[-quick].json)")
    args = parser.parse_args(argv)
    return bench.main_of("resume", args, lambda taps, results: scenario_resume(taps, results, quick=args.quick),
                         summary_rows)


if __name__ == "__main__":
    sys.exit(main())
