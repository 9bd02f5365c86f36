"""SIGTERM and SIGINT (what Meltano, Airflow and Kubernetes send) on a real tap process: it stops starting requests,
writes whole records and the STATE of what it finished, says so in one line, and exits 128 + signal within a few
seconds; a run started from that STATE completes the sync without losing a record."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import TAP, TapRun, discover, parse_output, run_tap, select, tap_args
from twilio_sandbox import Sandbox

from tap_twilio.writer import BufferedMsgSpecWriter

STREAMS = {"messages", "calls"}


def read_to_end(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """The rest of stdout, from the same reader (communicate() would read the pipe beneath it and lose what that
    reader had read ahead), and stderr, read on a thread meanwhile so that neither pipe can stall the process; the
    process is killed if it has not ended within `timeout`."""
    assert proc.stdout is not None and proc.stderr is not None
    errors: list[str] = []
    stderr = proc.stderr
    reader = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
    reader.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        rest = proc.stdout.read()
        reader.join()
        proc.wait()
    finally:
        killer.cancel()
        proc.stdout.close()
        stderr.close()
    return rest, errors[0]


@pytest.fixture
def slow_sandbox() -> Sandbox:
    """Enough pages, slowly enough, that a sync is still running a moment after its first STATE."""
    with Sandbox(seed=3, latency_ms=40, sizes={"messages": 3000, "calls": 1500}) as sb:
        yield sb


def stdout_env(unbuffered: bool) -> dict[str, str]:
    """The environment with PYTHONUNBUFFERED set or not (set: stdout's binary layer is the raw file, whose writes
    a signal cuts short; many images and schedulers set it, and so may the environment the tests run in)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONUNBUFFERED": "1"} if unbuffered else env


@pytest.mark.parametrize(
    ("signum", "unbuffered"),
    [(signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGTERM-unbuffered", "SIGINT-unbuffered"],
)
def test_a_signal_ends_the_sync_with_its_finished_work_and_exit_128_plus_signal(
    slow_sandbox: Sandbox, tmp_path: Path, signum: signal.Signals, unbuffered: bool
) -> None:
    config = slow_sandbox.tap_config(max_concurrency=2, date_window_days=7, backoff_base_seconds=0.01)
    catalog = select(discover(tmp_path, config), STREAMS)
    proc = subprocess.Popen(
        [*TAP, *tap_args(tmp_path, config, catalog=catalog)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=stdout_env(unbuffered),
    )
    assert proc.stdout is not None
    lines = []
    states = 0
    for line in proc.stdout:  # wait for a few checkpoints, then stop it mid-sync
        lines.append(line)
        states += line.startswith('{"type":"STATE"')
        if states == 3:
            break
    proc.send_signal(signum)
    requests_at_signal = slow_sandbox.stats.total
    rest, stderr = read_to_end(proc, timeout=15)  # GRACE_SECONDS is 5: it is gone long before
    lines += rest.splitlines(keepends=True)

    assert proc.returncode == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr
    assert "Gracefully shutting down" not in stderr
    assert "An unhandled error occurred" not in stderr, "a list the signal stopped is the stop, not an error"
    said = [line for line in stderr.splitlines() if f"Interrupted by {signum.name}" in line]
    assert len(said) == 1, stderr[-3000:]
    assert "STATE written, the next run resumes" in said[0] and "records" in said[0]
    assert slow_sandbox.stats.total <= requests_at_signal + 2 * 2, "at most the requests in flight finish"
    first = parse_output("".join(lines), TapRun(proc.returncode, "", stderr))  # every line whole JSON
    assert lines[-1].startswith('{"type":"STATE"')
    assert "progress" in first.state, "the interrupted run's resume marker is kept"
    got = sum(len(first.records[s]) for s in STREAMS)
    assert 0 < got < sum(len(slow_sandbox.expected(s)) for s in STREAMS), "stopped mid-sync"

    second = run_tap(tmp_path, config, state=first.state, catalog=catalog)
    assert "progress" not in second.state
    for stream in STREAMS:
        emitted = {r["sid"] for r in first.records[stream] + second.records[stream]}
        assert emitted == {r["sid"] for r in slow_sandbox.expected(stream)}, stream


def test_a_signal_before_the_sync_starts_is_one_line_too(tmp_path: Path, config: dict[str, Any]) -> None:
    proc = subprocess.Popen(
        [*TAP, *tap_args(tmp_path, config), "--discover"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode in {128 + signal.SIGTERM, -signal.SIGTERM}  # before Python installed a handler: the OS's
    assert "Traceback" not in stderr


def test_a_raw_stdout_that_takes_part_of_a_write_is_given_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """What `python -u` or PYTHONUNBUFFERED=1 makes of stdout (a text layer over the raw file, no buffer between),
    on a non-blocking pipe that takes 64 kB at a time and is read slowly: every byte arrives, once, in order."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    raw = io.FileIO(write_end, "wb")
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, write_through=True))  # type: ignore[arg-type]
    received = bytearray()

    def read_slowly() -> None:
        with open(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(4096):
                received.extend(chunk)
                time.sleep(0.0005)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    writer = BufferedMsgSpecWriter()
    records = [{"sid": f"SM{i:032d}", "body": "x" * 200} for i in range(3000)]
    writer.write_records("messages", records, None)  # drains a quarter of a megabyte at a time
    writer.write_state({"bookmarks": {}})
    raw.close()
    reader.join()

    lines = bytes(received).splitlines()
    assert [json.loads(line)["record"]["sid"] for line in lines[:-1]] == [r["sid"] for r in records]
    assert json.loads(lines[-1]) == {"type": "STATE", "value": {"bookmarks": {}}}
    assert writer.bytes_written == len(received)
