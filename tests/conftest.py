"""Shared fixtures: the Twilio sandbox and a runner for the real tap command."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from twilio_sandbox import Sandbox

TAP = [sys.executable, "-m", "tap_twilio"]
# PostgreSQL for the end-to-end tests (the port can be moved, e.g. to check the message when it is not there)
PG_PORT = os.environ.get("TAP_TWILIO_TEST_PG_PORT", "5432")
PG_DSN = f"host=127.0.0.1 port={PG_PORT} user=root dbname=test connect_timeout=3"
SQLALCHEMY_URL = f"postgresql+psycopg://root@127.0.0.1:{PG_PORT}/test"
NEEDS_NO_POSTGRES = "not postgres"  # `pytest -m "not postgres"` runs every test that does not load into PostgreSQL


def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None."""
    import psycopg  # noqa: PLC0415  (a test dependency; imported only for this check)

    try:
        with psycopg.connect(PG_DSN) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL is not reachable at 127.0.0.1:{PG_PORT} (user root, database test): {reason}"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """The suite needs PostgreSQL: without it, stop at once with one message rather than skip its tests."""
    config = session.config
    if hasattr(config, "workerinput") or NEEDS_NO_POSTGRES in (config.option.markexpr or ""):
        return  # an xdist worker (the controller checked), or the PostgreSQL tests were deselected
    problem = pg_problem()
    if problem:
        pytest.exit(
            f"{problem}. The end-to-end tests load into it: start it (CONTRIBUTING.md), or run the tests that "
            f"need none with: pytest -m '{NEEDS_NO_POSTGRES}'",
            returncode=1,
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `heavy(seconds=N)` first, longest first: xdist (--dist loadfile) hands files to workers in this
    order, so the long ones start at once on different workers and the short ones fill in behind them. (In
    alphabetical order the longest file started eleventh, and the last minutes ran one heavy file at a time.)"""
    weight: dict[Path, float] = {}
    for item in items:
        mark = item.get_closest_marker("heavy")
        if mark is not None:
            if "seconds" not in mark.kwargs:
                raise pytest.UsageError(f"{item.path.name}: mark heavy with seconds=, what the file takes")
            weight[item.path] = max(weight.get(item.path, 0.0), float(mark.kwargs["seconds"]))
    items.sort(key=lambda item: -weight.get(item.path, 0.0))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """In CI (CI set) a skipped test fails: every test must run there."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {report.longrepr}"


FAST_RETRIES = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05}


@dataclass
class TapRun:
    """What one run of the tap wrote."""

    returncode: int
    stdout: str
    stderr: str
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: list[dict[str, Any]] = field(default_factory=list)

    @property
    def state(self) -> dict[str, Any]:
        """The last STATE written."""
        return self.states[-1]

    def keys(self, stream: str) -> list[tuple[Any, ...]]:
        """Primary keys of a stream's records, in output order."""
        key = self.schemas[stream]["key_properties"]
        return [tuple(r[k] for k in key) for r in self.records[stream]]


HISTORY_FULL_TABLE = (  # issue 13's full-table streams: read whole each run, so deletes reach the target
    "sip_domains",
    "sip_credential_lists",
    "sip_credentials",
    "sip_ip_access_control_lists",
    "sip_ip_addresses",
    "short_codes",
    "signing_keys",
    "queue_members",
)


def secret_forms(sb: Sandbox) -> dict[str, str]:
    """Every form a credential could leak in -> what it is: each auth token and API key secret as text, and each
    account's and key's `sid:secret` as a Basic-auth header carries it (base64), URL-encoded and in a URL."""
    pairs = [(a.sid, str(a.record["auth_token"])) for a in sb.accounts]
    pairs += [(sid, secret) for sid, (_, _, secret, *_) in sb.keys_by_sid.items()]
    forms: dict[str, str] = {}
    for sid, secret in pairs:
        basic = base64.b64encode(f"{sid}:{secret}".encode()).decode()
        forms[secret] = f"{sid}'s secret"
        forms[basic] = f"{sid}'s Basic-auth credentials (base64)"
        forms[basic.rstrip("=")[:-2]] = f"{sid}'s Basic-auth credentials (base64, cut)"
        forms[base64.b64encode(secret.encode()).decode().rstrip("=")] = f"{sid}'s secret (base64)"
        forms[quote(f"{sid}:{secret}", safe="")] = f"{sid}'s sid:secret (URL-encoded)"
        forms[f"{sid}:{secret}@"] = f"{sid}'s credentials in a URL"
    return forms


def leaked_secrets(sb: Sandbox, *texts: str) -> list[str]:
    """The credentials (in any form of `secret_forms`) that appear in `texts`."""
    return sorted({what for form, what in secret_forms(sb).items() for text in texts if form in text})


def error_lines(stderr: str) -> list[str]:
    """The ERROR lines a run logged."""
    return [line for line in stderr.splitlines() if "| ERROR" in line or line.startswith("tap-twilio:")]


def parse_output(text: str, run: TapRun) -> TapRun:
    """Split Singer output into records, schemas and states."""
    for line in text.splitlines():
        message = json.loads(line)
        kind = message["type"]
        if kind == "RECORD":
            run.records[message["stream"]].append(message["record"])
        elif kind == "SCHEMA":
            run.schemas[message["stream"]] = message
        elif kind == "STATE":
            run.states.append(message["value"])
    return run


def tap_args(
    directory: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> list[str]:
    """The tap's --config/--state/--catalog arguments, each written to a file in `directory`."""
    args = []
    for option, value in (("config", config), ("state", state), ("catalog", catalog)):
        if value is not None:
            path = directory / f"{option}.json"
            path.write_text(json.dumps(value))
            args += [f"--{option}", str(path)]
    return args


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    check: bool = True,
) -> TapRun:
    """Run `python -m tap_twilio` as a user would and parse what it wrote."""
    cmd = [*TAP, *tap_args(tmp_path, config, state=state, catalog=catalog), *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}, timeout=600
    )
    run = TapRun(proc.returncode, proc.stdout, proc.stderr)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    if proc.returncode == 0 and not args:
        parse_output(proc.stdout, run)
    return run


def discover(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The tap's catalog."""
    config_path = tmp_path / "discover-config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.run(
        [*TAP, "--config", str(config_path), "--discover"], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout)


def select(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """Select exactly these streams (all their fields)."""
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = chosen
    return catalog


@pytest.fixture
def sandbox() -> Sandbox:
    """A small sandbox: main account + 2 subaccounts, 90 days of data."""
    with Sandbox(seed=1) as sb:
        yield sb


@pytest.fixture
def config(sandbox: Sandbox) -> dict[str, Any]:
    """Tap config for the sandbox with fast retries."""
    return sandbox.tap_config(**FAST_RETRIES)
