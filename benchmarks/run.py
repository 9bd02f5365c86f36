"""Benchmarks of this tap against singer-io's tap-twilio 0.2.2, both run against the local Twilio sandbox.

    .venv/bin/python benchmarks/run.py [--quick] [--only 1,2,3,4,5] [--json PATH]

Everything runs in this one command so the two taps are compared on the same machine at the same time (these
machines are noisy: read the ratios, not the absolute figures). How it measures:

* The sandbox (``twilio_sandbox.Sandbox``) runs in a separate process (``multiprocessing``, fork) that this
  script drives through a pipe: reset/read its request counters (total, per resource, max in flight), its own
  CPU time, flip its latency, mutate records, and compute the minimum number of requests from its data. Its CPU
  is therefore never counted against a tap. The sandbox process can also replay responses it already built (a
  response cache keyed by method + URL + credentials, 200s only; command ``set cache=True``); no scenario that
  compares the two taps uses it, so both always meet the same cold sandbox.
* Each tap is a subprocess with stdout to /dev/null (or to a file when its STATE or records are needed; read
  after the run). Wall time is measured around the process; CPU seconds (user + system) and peak RSS
  (``ru_maxrss``) come from ``os.wait4`` of that process only. Record counts come from singer-io's
  ``record_count`` METRIC lines and from this tap's closing line (it runs at its defaults, which keep the SDK's METRIC
  lines at DEBUG); request counts from the sandbox (and, for this tap, its own final "Requests: N, retries: ..." log
  line).

Scenarios (issue 6):

1. CPU-bound: 100,000 messages in one account, 0 ms latency, only ``messages`` selected: records/s and CPU s per
   1,000 records, ours vs singer-io, best of three runs of each against the same cold sandbox (``cpu.measure``);
   plus a cProfile top-15 of our tap (main thread via ``python -m cProfile``, worker threads via
   ``benchmarks/thread_profile.py``).
2. Latency-bound: 100 ms per response, main + 2 subaccounts, 2,000 messages (some with media), 500 calls,
   200 recordings, 50 conferences (with participants) per account, 90 days; messages, message_media, calls,
   recordings, conferences and conference_participants selected in both taps: wall time and requests, and the
   most requests in flight the sandbox saw (must be <= our max_concurrency).
3. Requests vs the fewest the DATA allows for scenario 2 (at 100 ms and at 0 ms), not the tap's plan: per account and
   list, one list over the whole range (Twilio's day filters, inclusive, take any range; conferences: one list per
   Status, as the v2010 API lists only in-progress conferences without one), max(1, ceil(rows / page_size)) with
   page_size Twilio's largest, 1,000; plus one media request per message with num_media > 0, one participants
   request per conference that is not completed (a completed conference has no participants, in Twilio and in
   the sandbox; the count of completed ones is printed), and one account listing. Child requests count only for
   parent records inside their window (the tap reads whole days but keeps [start, end) records).
4. Memory: our peak RSS syncing 20,000 vs 1,000,000 messages (200,000 with --quick), one account.
5. Incremental: a full run on scenario 2's data at 0 ms, then 1% of the messages changed in the sandbox, then a
   run from the first run's final STATE: requests and wall time relative to the first run, against the minimum
   for the lookback range (the same formula from each partition's bookmark minus ``lookback_days``; recordings from
   ``deleted_recordings_lookback_days`` before the run, as the tap re-reads them that far to see deletions).

Results are printed as tables and written to ``benchmarks/results-latest.json``; per-run logs go to
``.bench/last-run/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import singerio  # noqa: E402  # benchmarks/singerio.py

RUN_DIR = Path(os.environ.get("BENCH_RUN_DIR") or ROOT / ".bench" / "last-run")  # wiped at every start
# records are counted from singer-io's record_count METRIC lines and from our tap's closing line: our tap runs at its
# defaults, which keep the SDK's METRIC lines at DEBUG (at INFO, two lines per stream and account cost it a tenth of
# its CPU with 200 subaccounts)
RESULTS_JSON = HERE / "results-latest.json"
SINGERIO_VENV = Path(os.environ.get("SINGERIO_VENV", ROOT / ".bench" / "singerio-venv"))

S2_STREAMS = ["messages", "message_media", "calls", "recordings", "conferences", "conference_participants"]
S2_SIZES = {"messages": 2000, "calls": 500, "recordings": 200, "conferences": 50}
CONFERENCE_STATUSES = ("init", "in-progress", "completed")
# stream -> (sandbox resource, server-side day filter, record field it filters on, one list per param set)
LISTS: dict[str, tuple[str, str, str, tuple[dict[str, str], ...]]] = {
    "messages": ("messages", "DateSent", "date_sent", ({},)),
    "calls": ("calls", "StartTime", "start_time", ({},)),
    "recordings": ("recordings", "DateCreated", "date_created", ({},)),
    "conferences": ("conferences", "DateUpdated", "date_updated",
                    tuple({"Status": s} for s in CONFERENCE_STATUSES)),
}
CHILDREN = {"message_media": "messages", "conference_participants": "conferences"}
TWILIO_MAX_PAGE = 1000  # Twilio's largest PageSize (error 20007 above it)

TARGETS = {
    "cpu_records_per_s_ratio": 20.0,  # ours / singer-io records per second, >=
    "cpu_per_record_ratio": 50.0,  # singer-io / ours CPU seconds per record (our best of three), >=
    "latency_wall_ratio": 20.0,  # singer-io wall / ours, >=
    "requests_over_minimum": 1.05,  # ours / minimum, <=
    "rss_ratio": 1.5,  # peak RSS big / small, <=
    "incremental_over_lookback_minimum": 1.05,  # run-2 requests / minimum for the lookback range, <=
}


# ====================================================================================== sandbox process


def _sandbox_child(conn: Any, kwargs: dict[str, Any]) -> None:
    """Body of the sandbox process: serve HTTP in threads, answer commands on ``conn`` in the main thread."""
    import random  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from twilio_sandbox import Sandbox  # noqa: PLC0415
    from twilio_sandbox._util import parse_any_ts  # noqa: PLC0415
    from twilio_sandbox.core import Resp  # noqa: PLC0415

    try:
        from twilio_sandbox import data as sandbox_data  # noqa: PLC0415

        # packages/twilio-sandbox/src/twilio_sandbox/data.py fills its message-body pool lazily and without a
        # lock, so the first concurrent requests can fail with IndexError (HTTP 500, then a tap retry that distorts
        # timings): fill it before serving
        sandbox_data._body(random.Random(0))
        sb = Sandbox(**kwargs)
    except Exception:
        conn.send({"error": traceback.format_exc()})
        return

    errors: list[str] = []
    first_request: dict[str, float | None] = {"at": None}  # wall clock of the first request since "reset"
    cache: dict[tuple[str, str, str], Any] = {}
    flags = {"cache": False}
    lock = threading.Lock()
    original_handle = sb.handle

    def handle(method: str, target: str, headers: Any) -> tuple[Any, str | None]:
        if first_request["at"] is None:
            first_request["at"] = time.time()
        key = (method, target, headers.get("Authorization") or "")
        if flags["cache"]:
            hit = cache.get(key)
            if hit is not None:
                path = target.partition("?")[0]
                res, route = sb._route(path)
                acct = route.get("account") or "-"
                n = sb.stats.begin(method, target, res, acct)
                try:
                    if sb.latency_ms:
                        time.sleep(sb.latency_ms / 1000.0)
                    return Resp(hit.status, hit.body, [*hit.headers, ("Twilio-Concurrent-Requests", str(n))],
                                None, hit.content_type), None
                finally:
                    sb.stats.end(acct, hit.status, None)
        try:
            resp, fault = original_handle(method, target, headers)
        except Exception:
            with lock:
                errors.append(f"{method} {target}\n{traceback.format_exc()}")
            raise
        if flags["cache"] and resp.status == 200 and resp.action is None and fault is None:
            keep = [(k, v) for k, v in resp.headers if k not in ("Twilio-Concurrent-Requests", "Twilio-Request-Id")]
            cache[key] = Resp(resp.status, resp.body, keep, None, resp.content_type)
        return resp, fault

    # the HTTP handler turns an exception of handle() into HTTP 500 "sandbox error": keep the traceback
    sb.handle = handle  # type: ignore[method-assign]
    sb.start()
    conn.send({"url": sb.url, "config": sb.tap_config(), "accounts": list(sb.account_sids),
               "main": sb.main_account_sid, "auth_token": sb.main_auth_token})

    def cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    def day(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, dt.timezone.utc).date().isoformat()

    def minimum(streams: list[str], default_start: str, end: float, page_size: int, *,
                starts: dict[str, float] | None = None) -> dict[str, Any]:
        """Fewest requests that read `streams` for every active account (see the module docstring)."""
        starts = starts or {}
        begin = dt.datetime.fromisoformat(default_start.replace("Z", "+00:00")).timestamp()
        by: dict[str, int] = {"accounts": 1}
        info = {"conferences_read": 0, "completed_conferences_skipped": 0}
        windows_per: dict[str, int] = {}
        for acct in sb.accounts:
            if acct.status != "active":
                continue
            for stream, (res, flt, fld, param_sets) in LISTS.items():
                child = next((c for c, p in CHILDREN.items() if p == stream and c in streams), None)
                if stream not in streams and child is None:
                    continue
                start = max(begin, starts.get(f"{stream}|{acct.sid}", begin))
                # from the data, not from the tap's plan: one list over the whole range (Twilio's date filters take
                # any range), so only full pages of 1,000 (page_size) and Twilio's own limits add requests
                wins = [(start, end)]
                windows_per[f"{stream}|{acct.sid}"] = len(wins)
                for w0, w1 in wins:
                    first, last = day(w0), day(w1 - 1e-6)
                    for ps in param_sets:
                        params = [(f"{flt}>", first), (f"{flt}<", last), *ps.items()]
                        src = sb._store_source(acct, res, params)
                        rows = 0
                        for _key, rec in src.iter(None):
                            rows += 1
                            if child is None:
                                continue
                            value = rec.get(fld)
                            ts = parse_any_ts(value) if value else None
                            if ts is not None and not (w0 <= ts < w1):
                                continue  # read (whole days) but not this window's: no child request
                            if child == "message_media" and int(rec.get("num_media") or 0) <= 0:
                                continue
                            if child == "conference_participants":
                                info["conferences_read"] += 1
                                if rec.get("status") == "completed":
                                    # a completed conference has no participants (Twilio and the sandbox)
                                    info["completed_conferences_skipped"] += 1
                                    continue
                            kids = 1
                            if child == "message_media":
                                kids = max(1, math.ceil(int(rec.get("num_media") or 0) / page_size))
                            by[child] = by.get(child, 0) + kids
                        by[stream] = by.get(stream, 0) + max(1, math.ceil(rows / page_size))
        return {"total": sum(by.values()), "by_stream": by, "windows": windows_per, **info}

    def mutate(fraction: float, seed: int) -> list[dict[str, Any]]:
        rng = random.Random(seed)
        messages = sb.expected("messages")
        chosen = rng.sample(messages, max(1, round(len(messages) * fraction)))
        out = []
        for msg in chosen:
            new = sb.update_record("messages", msg["sid"], status="delivered" if msg["status"] != "delivered"
                                   else "read", price="-0.01580")
            out.append({"sid": msg["sid"], "account_sid": msg["account_sid"], "date_sent": msg["date_sent"],
                        "date_created": msg["date_created"],
                        "date_sent_ts": parse_any_ts(msg["date_sent"] or msg["date_created"]),
                        "date_updated": new["date_updated"]})
        return out

    while True:
        try:
            cmd, kw = conn.recv()
        except EOFError:
            break
        try:
            if cmd == "stop":
                conn.send((True, None))
                break
            if cmd == "reset":
                sb.stats.reset()
                first_request["at"] = None
                with lock:
                    errors.clear()
                result: Any = None
            elif cmd == "stats":
                snap = sb.stats.snapshot()
                reqs = snap.pop("requests")
                snap["distinct_targets"] = len(set(reqs)) if reqs else None
                with lock:
                    snap["sandbox_errors"] = len(errors)
                    snap["first_sandbox_error"] = errors[0] if errors else None
                snap["cpu"] = cpu()
                snap["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
                snap["first_request_at"] = first_request["at"]
                snap["cached_responses"] = len(cache)
                result = snap
            elif cmd == "timeline":  # (monotonic s, account, its requests in flight, status; 0 = began) per event
                result = list(sb.stats.timeline)
            elif cmd == "cpu":
                result = cpu()
            elif cmd == "set":
                if "latency_ms" in kw:
                    sb.latency_ms = kw["latency_ms"]
                if "cache" in kw:
                    flags["cache"] = bool(kw["cache"])
                    if not kw["cache"]:
                        cache.clear()
                result = None
            elif cmd == "minimum":
                result = minimum(**kw)
            elif cmd == "mutate":
                result = mutate(**kw)
            elif cmd == "expected_counts":
                result = {s: len(sb.expected(s)) for s in kw["streams"]}
            else:
                raise ValueError(f"unknown command {cmd!r}")
            conn.send((True, result))
        except Exception:
            conn.send((False, traceback.format_exc()))
    sb.stop()


class SandboxProcess:
    """A Sandbox in its own process, driven through a pipe."""

    def __init__(self, **kwargs: Any) -> None:
        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_sandbox_child, args=(child, kwargs), daemon=True, name="twilio-sandbox")
        self.proc.start()
        child.close()
        info = self.conn.recv()
        if "error" in info:
            raise RuntimeError(f"sandbox failed to start:\n{info['error']}")
        self.url: str = info["url"]
        self.config: dict[str, Any] = info["config"]
        self.accounts: list[str] = info["accounts"]
        self.main: str = info["main"]
        self.auth_token: str = info["auth_token"]

    def call(self, cmd: str, **kw: Any) -> Any:
        self.conn.send((cmd, kw))
        ok, value = self.conn.recv()
        if not ok:
            raise RuntimeError(f"sandbox command {cmd} failed:\n{value}")
        return value

    def close(self) -> None:
        if self.proc.is_alive():
            try:
                self.call("stop")
            except (OSError, EOFError, RuntimeError):
                pass
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join(5)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ====================================================================================== running a tap


@dataclass
class Run:
    """One measured tap process."""

    label: str
    tap: str  # "ours" | "singer-io"
    wall_s: float
    cpu_s: float
    user_s: float
    sys_s: float
    max_rss_mb: float
    returncode: int
    records: dict[str, int]
    requests: int  # as counted by the sandbox
    tap_reported_requests: int | None
    tap_reported_retries: int | None
    max_in_flight: int
    by_resource: dict[str, int]
    by_status: dict[str, int]
    distinct_targets: int | None
    sandbox_cpu_s: float
    sandbox_errors: int
    first_sandbox_error: str | None
    stdout_path: str | None = None
    stderr_path: str | None = None
    first_request_s: float | None = None  # process start to the sandbox's first request
    by_account: dict[str, int] = field(default_factory=dict)  # requests per account (the sandbox's count)
    max_in_flight_per_account: dict[str, int] = field(default_factory=dict)
    mean_in_flight: float | None = None  # time-weighted, first request to last response (the sandbox's clock)
    sandbox_rss_mb: float | None = None  # the sandbox process's peak RSS so far
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_records(self) -> int:
        return sum(self.records.values())

    def records_per_s(self, stream: str | None = None) -> float:
        n = self.records.get(stream, 0) if stream else self.total_records
        return n / self.wall_s if self.wall_s else 0.0

    def cpu_s_per_1k(self, stream: str | None = None) -> float:
        n = self.records.get(stream, 0) if stream else self.total_records
        return self.cpu_s / n * 1000 if n else float("nan")


CLOSING_LINE = re.compile(r"\| [^|]*? after [\d.]+s: ([\d,]+) records(?: \((.*?)\))?, \d+ requests")


def closing_counts(line: str) -> dict[str, int] | None:
    """Records per stream from our tap's closing line ('… 1,234 records (messages 1,000, calls 200, 3 more streams
    34), 56 requests'); the streams it does not name are counted together under '(N more streams)'."""
    found = CLOSING_LINE.search(line)
    if found is None:
        return None
    counts: dict[str, int] = {}
    for part in (found.group(2) or "").split(", "):
        name, _, number = part.rpartition(" ")
        if name:
            counts[f"({name})" if name.endswith(" more streams") else name] = int(number.replace(",", ""))
    total = int(found.group(1).replace(",", ""))
    if sum(counts.values()) != total:
        raise ValueError(f"closing line does not add up: {line.strip()}")
    return counts


def parse_stderr(path: Path) -> tuple[dict[str, int], int | None, int | None]:
    """Records per stream (singer-io's record_count METRICs, else our tap's closing line), and our tap's final
    request/retry counts."""
    counts: dict[str, int] = {}
    closing: dict[str, int] | None = None
    requests = retries = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if " records" in line and (found := closing_counts(line)) is not None:
                closing = found
                continue
            i = line.find("METRIC: ")
            if i >= 0:
                try:
                    metric = json.loads(line[i + 8:])
                except ValueError:
                    continue
                if metric.get("metric") == "record_count":
                    tags = metric.get("tags") or {}
                    stream = tags.get("stream") or tags.get("endpoint") or "?"
                    counts[stream] = counts.get(stream, 0) + int(metric.get("value") or 0)
                continue
            j = line.find("Requests: ")
            if j >= 0 and "retries:" in line:
                try:
                    head = line[j + len("Requests: "):]
                    requests = int(head.split(",", 1)[0])
                    retries = int(head.split("retries: ", 1)[1].split(" ", 1)[0])
                except (ValueError, IndexError):
                    pass
    return (counts or closing or {}), requests, retries


def run_tap(label: str, tap: str, argv: list[str], sandbox: SandboxProcess, *, keep_stdout: bool = False,
            env: dict[str, str] | None = None, log: bool = True) -> Run:
    """Run one tap process to completion against ``sandbox`` and measure it."""
    sandbox.call("reset")
    cpu0 = sandbox.call("cpu")
    stdout_path = RUN_DIR / f"{label}.jsonl" if keep_stdout else None
    stderr_path = RUN_DIR / f"{label}.stderr"
    with open(stderr_path, "wb") as err, open(stdout_path or os.devnull, "wb") as out:
        started_at = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT,
                                env={**os.environ, **(env or {})})
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    stats = sandbox.call("stats")
    counts, tap_requests, tap_retries = parse_stderr(stderr_path)
    run = Run(
        label=label,
        tap=tap,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024.0,
        returncode=proc.returncode,
        records=counts,
        requests=stats["total"],
        tap_reported_requests=tap_requests,
        tap_reported_retries=tap_retries,
        max_in_flight=stats["max_in_flight"],
        by_resource=stats["by_resource"],
        by_status={str(k): v for k, v in stats["by_status"].items()},
        distinct_targets=stats["distinct_targets"],
        sandbox_cpu_s=stats["cpu"] - cpu0,
        sandbox_errors=stats["sandbox_errors"],
        first_sandbox_error=stats["first_sandbox_error"],
        stdout_path=str(stdout_path) if stdout_path else None,
        stderr_path=str(stderr_path),
        first_request_s=(stats["first_request_at"] - started_at) if stats.get("first_request_at") else None,
        by_account=stats.get("by_account") or {},
        max_in_flight_per_account=stats.get("max_in_flight_per_account") or {},
        mean_in_flight=(stats["in_flight_seconds"] / stats["busy_span_s"]) if stats.get("busy_span_s") else None,
        sandbox_rss_mb=stats.get("maxrss_mb"),
    )
    if log:
        note = "" if run.returncode == 0 else f"  EXIT {run.returncode} (see {stderr_path})"
        print(f"  {label:<34} {run.wall_s:7.2f} s wall {run.cpu_s:7.2f} s cpu {run.max_rss_mb:7.1f} MB "
              f"{run.total_records:>9,} records {run.requests:>6,} requests{note}", flush=True)
        if run.sandbox_errors:
            print(f"    ! sandbox raised {run.sandbox_errors} internal error(s) (answered HTTP 500); first:\n"
                  + "\n".join("      " + x for x in (run.first_sandbox_error or "").splitlines()[-6:]), flush=True)
    if run.returncode != 0:
        tail = Path(stderr_path).read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{label}: {tap} exited with {run.returncode}:\n{tail}")
    return run


class Taps:
    """Commands, configs and catalogs of both taps."""

    def __init__(self) -> None:
        # singer-io's tap is pip-installed, so its bytecode is compiled; ours is an editable checkout, which with
        # PYTHONDONTWRITEBYTECODE=1 (set on these machines) would be compiled from source at every start
        # (about 0.25 CPU s a run). Compile it once, as installing the wheel does.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "tap_twilio")], check=True)
        exe = ROOT / ".venv" / "bin" / "tap-twilio"
        self.ours = [str(exe)] if exe.exists() else [sys.executable, "-m", "tap_twilio"]
        self._singerio_python: Path | None = None
        self._our_catalog: dict[str, Any] | None = None
        about = subprocess.run([*self.ours, "--about", "--format", "json"], capture_output=True, text=True,
                               check=True, cwd=ROOT)
        props = json.loads(about.stdout)["settings"]["properties"]
        self.defaults = {k: v.get("default") for k, v in props.items()}

    def singerio_python(self) -> Path:
        """singer-io's interpreter, installed from PyPI into SINGERIO_VENV when a scenario first needs it."""
        if self._singerio_python is None:
            self._singerio_python = singerio.ensure_venv(SINGERIO_VENV)
        return self._singerio_python

    def setting(self, config: dict[str, Any], name: str) -> Any:
        return config.get(name, self.defaults.get(name))

    def our_catalog(self, config_path: Path, streams: list[str]) -> Path:
        if self._our_catalog is None:
            proc = subprocess.run([*self.ours, "--config", str(config_path), "--discover"], capture_output=True,
                                  text=True, check=True, cwd=ROOT)
            self._our_catalog = json.loads(proc.stdout)
        catalog = json.loads(json.dumps(self._our_catalog))
        known = {e["tap_stream_id"] for e in catalog["streams"]}
        if set(streams) - known:
            raise ValueError(f"our tap has no stream(s) {sorted(set(streams) - known)}")
        for entry in catalog["streams"]:
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = entry["tap_stream_id"] in streams
        name = "-".join(streams) if len(streams) <= 6 else f"{len(streams)}-streams-{abs(hash(tuple(streams))):x}"
        path = RUN_DIR / f"catalog-ours-{name}.json"
        path.write_text(json.dumps(catalog))
        return path

    def our_argv(self, config: dict[str, Any], name: str, streams: list[str], state: Path | None = None,
                 prefix: list[str] | None = None) -> list[str]:
        config_path = RUN_DIR / f"config-ours-{name}.json"
        config_path.write_text(json.dumps(config, indent=2))
        catalog = self.our_catalog(config_path, streams)
        base = prefix if prefix is not None else self.ours
        argv = [*base, "--config", str(config_path), "--catalog", str(catalog)]
        if state is not None:
            argv += ["--state", str(state)]
        return argv

    def singerio_argv(self, sandbox: SandboxProcess, name: str, streams: list[str]) -> list[str]:
        config_path = RUN_DIR / f"config-singerio-{name}.json"
        catalog_path = RUN_DIR / f"catalog-singerio-{name}.json"
        singerio.write_config(config_path, sandbox.main, sandbox.auth_token, sandbox.config["start_date"],
                              sandbox.url)
        singerio.discover_catalog(self.singerio_python(), sandbox.url, config_path, catalog_path, streams)
        return singerio.command(self.singerio_python(), sandbox.url, config_path, catalog_path, None)


# ====================================================================================== helpers


def fmt(value: Any, digits: int = 2) -> str:  # noqa: PLR0911  # one return per kind of value
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def table(title: str, headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    for row in cells:
        pairs = enumerate(zip(row, widths, strict=True))
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs))
    return "\n".join(lines)


def show(text: str) -> None:
    print("\n" + text + "\n", flush=True)


def profile_top(path: Path, sort: str, n: int = 15, total: float | None = None) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    if total is None:
        total = stats.total_tt  # type: ignore[attr-defined]
    stats.sort_stats(sort)
    rows = []
    for func in stats.fcn_list[:n]:  # type: ignore[attr-defined]
        _cc, nc, tt, ct, _callers = stats.stats[func]  # type: ignore[attr-defined]
        filename, line, name = func
        short = filename
        if "site-packages/" in short:
            short = short.split("site-packages/", 1)[1]
        elif short.startswith(str(ROOT) + "/"):
            short = short[len(str(ROOT)) + 1:]
        elif "/lib/python3." in short:
            short = "stdlib/" + short.split("/lib/python3.", 1)[1].split("/", 1)[1]
        where = f"{short}:{line}({name})" if line else name
        rows.append([where[-90:], nc, tt, 100.0 * tt / total if total else 0.0, ct,
                     100.0 * ct / total if total else 0.0])
    return table(f"top {n} by {sort} (total {total:.2f} s profiled)",
                 ["function", "calls", "self s", "self %", "cum s", "cum %"], rows)


def state_of(jsonl: Path) -> dict[str, Any]:
    """The last STATE a tap wrote."""
    last = None
    with open(jsonl, "rb") as fh:
        for line in fh:
            if b'"STATE"' in line[:40]:
                last = line
    if last is None:
        raise RuntimeError(f"no STATE in {jsonl}")
    return json.loads(last)["value"]


def emitted_sids(jsonl: Path, stream: str) -> set[str]:
    out = set()
    marker = f'"stream":"{stream}"'.encode()
    with open(jsonl, "rb") as fh:
        for line in fh:
            if b'"RECORD"' in line[:40] and marker in line[:80]:
                out.add(json.loads(line)["record"]["sid"])
    return out


def bookmark_starts(state: dict[str, Any], lookback_days: float, run_start: float,
                    further_back: dict[str, float] | None = None) -> dict[str, float]:
    """stream|account -> where the next run starts: the bookmark minus the lookback (or the bookmark when resuming),
    or `further_back` days before the run for the streams that re-read that far (recordings: deletions)."""
    starts = {}
    for stream, value in (state.get("bookmarks") or {}).items():
        for part in value.get("partitions") or []:
            sid = (part.get("context") or {}).get("account_sid")
            rkv = part.get("replication_key_value")
            if not sid or not rkv:
                continue
            ts = dt.datetime.fromisoformat(rkv.replace("Z", "+00:00")).timestamp()
            if not part.get("resume"):
                ts -= lookback_days * 86400
                back = (further_back or {}).get(stream)
                if back:
                    ts = min(ts, run_start - back * 86400)
            starts[f"{stream}|{sid}"] = ts
    return starts


def concurrency_caps(taps: Taps, config: dict[str, Any]) -> tuple[int, int | None]:
    """(requests in flight for the whole process, for one account or None) from the tap's settings.

    The process-wide cap is ``max_concurrency``; a per-account cap is any other integer setting whose name holds both
    "concurrency" and "account" (the engine's per-account limit), when the tap has one.
    """
    process = int(taps.setting(config, "max_concurrency"))
    per_account = None
    for name in sorted(taps.defaults):
        if "concurrency" in name and "account" in name and name != "max_concurrency":
            value = taps.setting(config, name)
            if isinstance(value, int) and value > 0:
                per_account = value if per_account is None else min(per_account, value)
    return process, per_account


def closing_lines(run: Run, pattern: str = r"(?i)buffer|in flight|read ahead|Requests: ") -> list[str]:
    """Our tap's closing log lines about buffers, read-ahead and requests (the last 40 lines of its stderr)."""
    import re  # noqa: PLC0415

    lines = Path(run.stderr_path or "").read_text(errors="replace").splitlines()[-40:]
    return [line.strip()[-220:] for line in lines if re.search(pattern, line) and "METRIC" not in line]


def verdict(name: str, value: float | None, op: str, goal: float, note: str = "") -> list[Any]:
    """A summary row: name, value, goal, PASS/FAIL, note."""
    ok = None if value is None else (value <= goal if op == "<=" else value >= goal)
    return [name, value, f"{op} {goal:g}", "-" if ok is None else ("PASS" if ok else "FAIL"), note]


def new_results() -> dict[str, Any]:
    """The results every benchmark file starts with: when, where, and the command that made it."""
    return {
        "command": " ".join([".venv/bin/python", *(str(Path(a).relative_to(ROOT)) if a.startswith(str(ROOT))
                                                    else a for a in [sys.argv[0], *sys.argv[1:]])]),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "singerio": singerio.TAP_REQUIREMENT,
    }


def main_of(name: str, args: Any, body: Any, summary_rows: Any) -> int:
    """Run one benchmark script: fresh log folder, both taps, ``body(taps, results)``, a summary, a results file."""
    quick = bool(getattr(args, "quick", False))
    out = Path(args.json) if args.json else HERE / f"results-{name}{'-quick' if quick else ''}.json"
    if RUN_DIR.exists():
        shutil.rmtree(RUN_DIR)
    RUN_DIR.mkdir(parents=True)
    print(f"tap-twilio {name} benchmark ({'quick' if quick else 'full'}) on {platform.node()}: {os.cpu_count()} CPUs,"
          f" Python {platform.python_version()}; logs in {RUN_DIR}", flush=True)
    started = time.time()
    results = {**new_results(), "quick": quick}
    # SIGTERM (and SIGINT, which a shell's background job ignores otherwise) stop the run but keep what it measured
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        body(Taps(), results)
    except BaseException as exc:  # the parts that finished are kept, and the file says the run stopped
        results["interrupted"] = f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        results["elapsed_s"] = time.time() - started
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    rows = summary_rows(results)
    results["summary"] = [dict(zip(["target", "value", "goal", "result", "note"], r, strict=True)) for r in rows]
    show(table(f"SUMMARY ({name})", ["target", "value", "goal", "result", "note"], rows))
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}; took {results['elapsed_s']:.0f} s",
          flush=True)
    return 0


# ====================================================================================== scenarios


def scenario_cpu(taps: Taps, results: dict[str, Any], n_messages: int, repeats: int, thread_profile: bool) -> None:
    """CPU per record of both taps measured alike (``benchmarks/cpu.py``: best of ``repeats`` runs each, interleaved,
    the same cold sandbox), then profiles of ours."""
    import cpu  # noqa: PLC0415  # benchmarks/cpu.py imports this module

    print(f"\n== 1. CPU-bound: {n_messages:,} messages, one account, 0 ms latency, messages only; {repeats} runs of "
          "each tap, interleaved, the sandbox's response cache off for both", flush=True)
    measured = cpu.measure(taps, {"ours": [n_messages], "singer-io": [n_messages]}, repeats)
    ours_runs, sio_runs = measured[("ours", n_messages)], measured[("singer-io", n_messages)]
    with SandboxProcess(seed=1, subaccounts=0, days=90, sizes={"messages": n_messages},
                        record_requests=False) as sb:
        config = sb.config
        # profiles: main thread with python -m cProfile; all threads with thread_profile.py
        main_prof = RUN_DIR / "s1-ours.prof"
        prof_argv = taps.our_argv(config, "s1", ["messages"],
                                  prefix=[sys.executable, "-m", "cProfile", "-o", str(main_prof), "-m", "tap_twilio"])
        prof_run = run_tap("s1-ours-cProfile", "ours", prof_argv, sb)
        profiled = [prof_run]
        if thread_profile:
            thr_main = RUN_DIR / "s1-ours-threads-main.prof"
            thr_workers = RUN_DIR / "s1-ours-threads-workers.prof"
            thr_argv = taps.our_argv(config, "s1", ["messages"],
                                     prefix=[sys.executable, str(HERE / "thread_profile.py"), str(thr_main),
                                             str(thr_workers), "-m", "tap_twilio"])
            profiled.append(run_tap("s1-ours-thread-profile", "ours", thr_argv, sb))

    def per_1k(run: Run) -> float:
        return run.cpu_s_per_1k("messages")

    ours_best, sio_best = min(ours_runs, key=per_1k), min(sio_runs, key=per_1k)
    ours_med = statistics.median(per_1k(r) for r in ours_runs)
    sio_med = statistics.median(per_1k(r) for r in sio_runs)
    ratio_best, ratio_median = per_1k(sio_best) / per_1k(ours_best), sio_med / ours_med
    ratio_rps = (statistics.median(r.records_per_s("messages") for r in ours_runs)
                 / statistics.median(r.records_per_s("messages") for r in sio_runs))
    rows = [[r.label, r.records.get("messages", 0), r.wall_s, r.records_per_s("messages"), r.cpu_s,
             f"{per_1k(r):.4f}", r.requests, r.max_rss_mb, r.sandbox_cpu_s] for r in [*ours_runs, *sio_runs]]
    show(table("Scenario 1 - CPU-bound (records = messages emitted; CPU = tap process user+sys, start-up included)",
               ["run", "records", "wall s", "records/s", "CPU s", "CPU s/1k rec", "requests", "peak RSS MB",
                "sandbox CPU s"], rows)
         + f"\n\nCPU seconds per record, singer-io / ours, best of {repeats} each: {ratio_best:.1f}x "
           f"({per_1k(ours_best):.4f} vs {per_1k(sio_best):.4f} s per 1,000 records); median of each: "
           f"{ratio_median:.1f}x"
         + f"\nrecords per second, ours / singer-io (medians; the sandbox builds every page for both): "
           f"{ratio_rps:.1f}x")
    profiles = results.setdefault("profiles", {})
    text = profile_top(main_prof, "tottime")
    profiles["s1 main thread by self time"] = text
    show(f"Profile of our tap, scenario 1, main thread (python -m cProfile, wall-clock timer); the run took "
         f"{prof_run.wall_s:.1f} s under the profiler\n" + text)
    text = profile_top(main_prof, "cumulative", 25)
    profiles["s1 main thread by cumulative time"] = text
    show("Profile of our tap, scenario 1, main thread, by cumulative time\n" + text)
    if thread_profile:
        text = profile_top(RUN_DIR / "s1-ours-threads-workers.prof", "tottime")
        profiles["s1 worker threads by self CPU time"] = text
        show("Profile of our tap, scenario 1, worker threads merged (thread_profile.py, per-thread CPU timer)\n"
             + text)
    results["scenario1"] = {
        "messages": n_messages, "runs_each": repeats, "sandbox_cache": "off for both",
        "ours_cpu_s_per_1k": [per_1k(r) for r in ours_runs], "singerio_cpu_s_per_1k": [per_1k(r) for r in sio_runs],
        "ratio_cpu_per_record_best_of_runs": ratio_best, "ratio_cpu_per_record_median": ratio_median,
        "ratio_records_per_s": ratio_rps,
        "runs": [asdict(r) for r in [*ours_runs, *sio_runs, *profiled]],
    }


def scenario_latency(taps: Taps, results: dict[str, Any], extra_concurrency: int | None, profile: bool,
                     sizes: dict[str, int]) -> None:
    print("\n== 2/3/5. Latency-bound (100 ms), requests vs minimum, incremental: main + 2 subaccounts, "
          f"per account {sizes}, 90 days", flush=True)
    with SandboxProcess(seed=2, subaccounts=2, days=90, sizes=sizes, latency_ms=100,
                        record_requests=True) as sb:
        config = sb.config
        max_conc = int(taps.setting(config, "max_concurrency"))
        window_days = int(taps.setting(config, "date_window_days"))
        page_size = TWILIO_MAX_PAGE  # the minimum's, whatever the tap's page_size setting
        lookback_days = float(taps.setting(config, "lookback_days"))
        ours_argv = taps.our_argv(config, "s2", S2_STREAMS)
        singer_argv = taps.singerio_argv(sb, "s2", S2_STREAMS)
        expected = sb.call("expected_counts", streams=S2_STREAMS)

        def minimum_for(run_start: float, starts: dict[str, float] | None = None) -> dict[str, Any]:
            return sb.call("minimum", streams=S2_STREAMS, default_start=config["start_date"],
                           end=math.floor(run_start), page_size=page_size, starts=starts)

        # --- 2: 100 ms latency, both taps
        t = time.time()
        ours = run_tap("s2-ours-100ms", "ours", ours_argv, sb)
        min_100 = minimum_for(t)
        more = None
        if extra_concurrency:
            more_argv = taps.our_argv({**config, "max_concurrency": extra_concurrency}, f"s2-c{extra_concurrency}",
                                      S2_STREAMS)
            more = run_tap(f"s2-ours-100ms-conc{extra_concurrency}", "ours", more_argv, sb)
        singer = run_tap("s2-singerio-100ms", "singer-io", singer_argv, sb)

        # --- 3 (0 ms variant) and 5: full run with state, mutate 1% of messages, incremental run
        sb.call("set", latency_ms=0)
        t = time.time()
        full = run_tap("s5-ours-0ms-full", "ours", ours_argv, sb, keep_stdout=True)
        min_0 = minimum_for(t)
        state = state_of(Path(full.stdout_path or ""))
        state_path = RUN_DIR / "s5-state.json"
        state_path.write_text(json.dumps(state, indent=2))
        changed = sb.call("mutate", fraction=0.01, seed=5)
        inc_argv = taps.our_argv(config, "s2", S2_STREAMS, state=state_path)
        t = time.time()
        inc = run_tap("s5-ours-0ms-incremental", "ours", inc_argv, sb, keep_stdout=True)
        deleted_days = float(taps.setting(config, "deleted_recordings_lookback_days"))
        starts = bookmark_starts(state, lookback_days, t, {"recordings": deleted_days})
        min_inc = minimum_for(t, starts)
        again = emitted_sids(Path(inc.stdout_path or ""), "messages")
        msg_starts = {k.split("|")[1]: v for k, v in starts.items() if k.startswith("messages|")}
        in_lookback = [c for c in changed if c["date_sent_ts"] is not None
                       and c["date_sent_ts"] >= msg_starts.get(c["account_sid"], math.inf)]
        picked_up = sum(1 for c in changed if c["sid"] in again)
        prof_run = None
        if profile:  # where the CPU goes with many small child lists (media, participants), 0 ms latency
            s2_prof = RUN_DIR / "s2-ours.prof"
            prof_argv = taps.our_argv(config, "s2", S2_STREAMS, prefix=[
                sys.executable, "-m", "cProfile", "-o", str(s2_prof), "-m", "tap_twilio"])
            prof_run = run_tap("s2-ours-0ms-cProfile", "ours", prof_argv, sb)

    # ---- tables
    rows = []
    runs2 = [ours] + ([more] if more else []) + [singer]
    for r in runs2:
        rows.append([r.label, r.total_records, r.wall_s, r.requests, r.max_in_flight, r.cpu_s, r.max_rss_mb,
                     r.sandbox_errors])
    wall_ratio = singer.wall_s / ours.wall_s
    rec_rows = [[s, expected.get(s), ours.records.get(s), singer.records.get(s)] for s in S2_STREAMS]
    show(table("Scenario 2 - latency-bound, 100 ms per response", ["run", "records", "wall s", "requests",
               "max in flight", "CPU s", "peak RSS MB", "sandbox errors"], rows)
         + f"\n\nsinger-io wall / ours wall: {wall_ratio:.1f}x"
         + (f" (with max_concurrency={extra_concurrency}: {singer.wall_s / more.wall_s:.1f}x)" if more else "")
         + f"\nmax in flight seen by the sandbox (ours): {ours.max_in_flight} (max_concurrency {max_conc}): "
           + ("OK" if ours.max_in_flight <= max_conc else "OVER THE LIMIT")
         + "\n\n" + table("records per stream (sandbox = all records the API holds; singer-io lists only "
                          "in-progress conferences and shares one bookmark across accounts)",
                          ["stream", "sandbox", "ours", "singer-io"], rec_rows))
    req_rows = []
    for name, run, mn in (("ours, 100 ms", ours, min_100), ("ours, 0 ms", full, min_0)):
        req_rows.append([name, run.requests, mn["total"], run.requests / mn["total"],
                         run.tap_reported_retries, (run.requests - run.distinct_targets)
                         if run.distinct_targets is not None else None])
    by_rows = []
    for res in sorted(set(ours.by_resource) | set(min_100["by_stream"])):
        by_rows.append([res, ours.by_resource.get(res, 0), full.by_resource.get(res, 0),
                        min_100["by_stream"].get(res, 0), singer.by_resource.get(res, 0)])
    show(table("Scenario 3 - requests vs the minimum (scenario 2 data)",
               ["run", "requests", "minimum", "ratio", "retries", "repeated URLs"], req_rows)
         + "\n\n" + table("requests by resource", ["resource", "ours 100 ms", "ours 0 ms", "minimum", "singer-io"],
                          by_rows)
         + f"\n(the minimum reads one list per stream, account and Status at page size {page_size}; the tap's "
           f"date_window_days is {window_days}; conferences read {min_100['conferences_read']}, of which completed "
           f"(no participants request in the minimum) {min_100['completed_conferences_skipped']})")
    inc_rows = [
        ["first run (full)", full.total_records, full.wall_s, full.requests, min_0["total"], full.cpu_s],
        ["incremental (from its STATE)", inc.total_records, inc.wall_s, inc.requests, min_inc["total"], inc.cpu_s],
    ]
    show(table("Scenario 5 - incremental, 0 ms latency (1% of messages changed between the runs)",
               ["run", "records", "wall s", "requests", "minimum", "CPU s"], inc_rows)
         + f"\n\nincremental / first: requests {inc.requests / full.requests:.3f}, wall {inc.wall_s / full.wall_s:.3f}"
           f"; requests / lookback minimum {inc.requests / min_inc['total']:.2f}"
         + f"\nchanged messages: {len(changed)}; with date_sent inside the lookback ({lookback_days:g} days): "
           f"{len(in_lookback)}; re-emitted by the incremental run: {picked_up}"
           " (messages are filtered by DateSent on the server, so a change to an older message is seen only"
           " within the lookback)"
         + "\nincremental requests by resource: " + json.dumps(inc.by_resource, sort_keys=True)
         + "\nlookback minimum by stream:       " + json.dumps(min_inc["by_stream"], sort_keys=True))
    if prof_run is not None:
        text = profile_top(RUN_DIR / "s2-ours.prof", "tottime")
        results.setdefault("profiles", {})["s2 (0 ms) main thread by self time"] = text
        show(f"Profile of our tap, scenario 2 data at 0 ms, main thread (python -m cProfile); the run took "
             f"{prof_run.wall_s:.1f} s under the profiler ({full.cpu_s:.2f} s CPU without)\n" + text)
    results["scenario2"] = {
        "sizes": sizes, "latency_ms": 100, "max_concurrency": max_conc,
        "ours": {"wall_s": ours.wall_s, "requests": ours.requests, "max_in_flight": ours.max_in_flight,
                 "records": ours.records},
        "ours_more_concurrency": ({"max_concurrency": extra_concurrency, "wall_s": more.wall_s,
                                   "requests": more.requests, "max_in_flight": more.max_in_flight}
                                  if more else None),
        "singerio": {"wall_s": singer.wall_s, "requests": singer.requests, "max_in_flight": singer.max_in_flight,
                     "records": singer.records},
        "expected_records": expected,
        "wall_ratio_singerio_over_ours": wall_ratio,
        "max_in_flight_ok": ours.max_in_flight <= max_conc,
        "runs": [asdict(r) for r in runs2],
    }
    results["scenario3"] = {
        "ours_100ms": {"requests": ours.requests, "minimum": min_100, "ratio": ours.requests / min_100["total"]},
        "ours_0ms": {"requests": full.requests, "minimum": min_0, "ratio": full.requests / min_0["total"]},
    }
    results["scenario5"] = {
        "first": asdict(full), "incremental": asdict(inc),
        "minimum_first": min_0, "minimum_incremental": min_inc,
        "requests_ratio": inc.requests / full.requests, "wall_ratio": inc.wall_s / full.wall_s,
        "requests_over_lookback_minimum": inc.requests / min_inc["total"],
        "changed_messages": len(changed), "changed_in_lookback": len(in_lookback), "changed_reemitted": picked_up,
        "lookback_days": lookback_days,
    }


def scenario_memory(taps: Taps, results: dict[str, Any], big: int) -> None:
    print(f"\n== 4. Memory: 20,000 vs {big:,} messages, one account", flush=True)
    runs = []
    for n in (20_000, big):
        with SandboxProcess(seed=4, subaccounts=0, days=90, sizes={"messages": n}, record_requests=False) as sb:
            argv = taps.our_argv(sb.config, f"s4-{n}", ["messages"])
            runs.append(run_tap(f"s4-ours-{n}", "ours", argv, sb))
    small, large = runs
    ratio = large.max_rss_mb / small.max_rss_mb
    show(table("Scenario 4 - peak RSS of our tap (messages only)",
               ["run", "records", "wall s", "records/s", "CPU s", "peak RSS MB", "sandbox CPU s"],
               [[r.label, r.total_records, r.wall_s, r.records_per_s(), r.cpu_s, r.max_rss_mb, r.sandbox_cpu_s]
                for r in runs])
         + f"\n\npeak RSS {big:,} / 20,000: {ratio:.2f}x")
    results["scenario4"] = {"small": 20_000, "big": big, "rss_small_mb": small.max_rss_mb,
                            "rss_big_mb": large.max_rss_mb, "ratio": ratio, "runs": [asdict(r) for r in runs]}


def summary(results: dict[str, Any]) -> None:
    rows = []

    def add(name: str, value: float | None, target: str, ok: bool | None, note: str = "") -> None:
        rows.append([name, value, target, "-" if ok is None else ("PASS" if ok else "FAIL"), note])

    t = TARGETS
    if "scenario1" in results:
        s1 = results["scenario1"]
        add(f"1 CPU s per record singer-io/ours, best of {s1['runs_each']} each",
            s1["ratio_cpu_per_record_best_of_runs"], f">= {t['cpu_per_record_ratio']:g}x",
            s1["ratio_cpu_per_record_best_of_runs"] >= t["cpu_per_record_ratio"],
            f"median of each {s1['ratio_cpu_per_record_median']:.1f}x; start-up included")
        add("1 CPU: records/s ours/singer-io", s1["ratio_records_per_s"], f">= {t['cpu_records_per_s_ratio']:g}x",
            s1["ratio_records_per_s"] >= t["cpu_records_per_s_ratio"], "medians; the same cold sandbox for both")
    if "scenario2" in results:
        s2 = results["scenario2"]
        note = f"{s2['singerio']['wall_s']:.1f} s vs {s2['ours']['wall_s']:.1f} s"
        if s2.get("ours_more_concurrency"):
            m = s2["ours_more_concurrency"]
            note += f"; {s2['singerio']['wall_s'] / m['wall_s']:.1f}x with max_concurrency={m['max_concurrency']}"
        add("2 latency: wall singer-io/ours", s2["wall_ratio_singerio_over_ours"],
            f">= {t['latency_wall_ratio']:g}x", s2["wall_ratio_singerio_over_ours"] >= t["latency_wall_ratio"], note)
        add("2 max requests in flight", s2["ours"]["max_in_flight"], f"<= {s2['max_concurrency']}",
            s2["max_in_flight_ok"], "seen by the sandbox")
    if "scenario3" in results:
        s3 = results["scenario3"]
        for key, name in (("ours_100ms", "3 requests/minimum, 100 ms"), ("ours_0ms", "3 requests/minimum, 0 ms")):
            r = s3[key]
            add(name, r["ratio"], f"<= {t['requests_over_minimum']:g}", r["ratio"] <= t["requests_over_minimum"],
                f"{r['requests']} vs {r['minimum']['total']}")
    if "scenario4" in results:
        s4 = results["scenario4"]
        add(f"4 peak RSS {s4['big']:,}/20k messages", s4["ratio"], f"<= {t['rss_ratio']:g}",
            s4["ratio"] <= t["rss_ratio"], f"{s4['rss_big_mb']:.0f} MB vs {s4['rss_small_mb']:.0f} MB")
    if "scenario5" in results:
        s5 = results["scenario5"]
        add("5 incremental requests/lookback min", s5["requests_over_lookback_minimum"],
            f"<= {t['incremental_over_lookback_minimum']:g}",
            s5["requests_over_lookback_minimum"] <= t["incremental_over_lookback_minimum"],
            f"{s5['incremental']['requests']} req = {s5['requests_ratio']:.1%} of the first run's; "
            f"wall {s5['wall_ratio']:.1%}")
    results["summary"] = [dict(zip(["target", "value", "goal", "result", "note"], r, strict=True)) for r in rows]
    show(table("SUMMARY", ["target", "value", "goal", "result", "note"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="memory scenario at 200,000 instead of 1,000,000 "
                        "messages, one run of each tap instead of three")
    parser.add_argument("--only", default="1,2,3,4,5", help="scenarios to run (2, 3 and 5 share runs)")
    parser.add_argument("--messages", type=int, default=100_000, help="messages of the CPU-bound scenario")
    parser.add_argument("--s2-messages", type=int, default=S2_SIZES["messages"],
                        help="messages per account in scenarios 2/3/5 (calls, recordings and conferences scale "
                        "with it)")
    parser.add_argument("--extra-concurrency", type=int, default=24,
                        help="also run ours in scenario 2 with this max_concurrency (0: skip)")
    parser.add_argument("--thread-profile", action="store_true",
                        help="also profile every thread of our tap in scenario 1 (benchmarks/thread_profile.py; "
                        "~25 s more)")
    parser.add_argument("--no-profile-s2", action="store_true", help="skip the cProfile run of scenario 2 (0 ms)")
    parser.add_argument("--json", default=str(RESULTS_JSON), help="where to write the results")
    args = parser.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}

    if RUN_DIR.exists():
        shutil.rmtree(RUN_DIR)
    RUN_DIR.mkdir(parents=True)
    started = time.time()
    print(f"tap-twilio benchmarks ({'quick' if args.quick else 'full'}) on {platform.node()}: "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}; logs in {RUN_DIR}", flush=True)
    taps = Taps()
    results: dict[str, Any] = {
        **new_results(), "quick": args.quick, "targets": TARGETS, "tap_defaults": {
            k: taps.defaults.get(k) for k in ("max_concurrency", "page_size", "date_window_days", "lookback_days")},
    }
    try:
        if "1" in only:
            scenario_cpu(taps, results, args.messages, 1 if args.quick else 3, args.thread_profile)
        if only & {"2", "3", "5"}:
            scale = args.s2_messages / S2_SIZES["messages"]
            sizes = {k: max(1, round(v * scale)) for k, v in S2_SIZES.items()}
            scenario_latency(taps, results, args.extra_concurrency or None, not args.no_profile_s2, sizes)
        if "4" in only:
            scenario_memory(taps, results, 200_000 if args.quick else 1_000_000)
    finally:
        results["elapsed_s"] = time.time() - started
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    summary(results)
    Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"results: {args.json}; took {results['elapsed_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
