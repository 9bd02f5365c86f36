"""Meltano 4.4.1 runs the repository's meltano.yml against the sandbox: install, run, incremental state, shards.

Meltano lives in its own virtualenv (`.bench/meltano-venv`, git-ignored; override with TAP_TWILIO_MELTANO_VENV),
created on first use. The project runs in a temporary copy of the repository (meltano.yml needs `pip_url: -e .`
to point at the repo root), so nothing is written into the working tree.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import discover
from test_postgres_e2e import (
    assert_rows_match,
    bookmarks_by_account,
    change_messages,
    pg_connect,
    pg_query,
    stream_info,
)
from twilio_sandbox import Sandbox

from tap_twilio.dates import to_iso

pytestmark = pytest.mark.heavy(seconds=210)

ROOT = Path(__file__).resolve().parent.parent
MELTANO_VERSION = "4.4.1"
MELTANO_VENV = Path(os.environ.get("TAP_TWILIO_MELTANO_VENV", ROOT / ".bench" / "meltano-venv"))
NOT_IN_MELTANO_YML = {
    "available_phone_numbers_local",
    "available_phone_numbers_mobile",
    "available_phone_numbers_toll_free",
}  # deselected there: volatile marketplace listings


def _meltano_version(meltano: Path) -> str | None:
    if not meltano.exists():
        return None
    proc = subprocess.run([str(meltano), "--version"], capture_output=True, text=True, check=False, timeout=120)
    return proc.stdout.strip().rsplit(" ", 1)[-1] if proc.returncode == 0 else None


@functools.cache
def meltano_executable() -> Path:
    """The meltano executable of the cached virtualenv (created here if missing: ~30 s once per machine)."""
    exe = MELTANO_VENV / "bin" / "meltano"
    MELTANO_VENV.parent.mkdir(parents=True, exist_ok=True)
    # test processes run in parallel (pytest-xdist): one creates the virtualenv, the others wait for it
    with open(MELTANO_VENV.parent / f".{MELTANO_VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _meltano_version(exe) != MELTANO_VERSION:
            if not (MELTANO_VENV / "bin" / "python").exists():
                subprocess.run([sys.executable, "-m", "venv", str(MELTANO_VENV)], check=True, timeout=300)
            proc = subprocess.run(
                [str(MELTANO_VENV / "bin" / "python"), "-m", "pip", "install", "-q", f"meltano=={MELTANO_VERSION}"],
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
            )
            assert proc.returncode == 0, f"pip install meltano=={MELTANO_VERSION} failed:\n{proc.stderr[-3000:]}"
    assert _meltano_version(exe) == MELTANO_VERSION
    return exe


def copy_project(dest: Path) -> Path:
    """Copy the repository's files (tracked and new, not ignored) to dest: meltano.yml at its root."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    assert (dest / "meltano.yml").exists() and (dest / "pyproject.toml").exists()
    return dest


@pytest.fixture(scope="module")
def meltano() -> Path:
    """Meltano 4.4.1, one virtualenv for the whole session (and across sessions)."""
    return meltano_executable()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the repository's files: meltano.yml at its root."""
    return copy_project(tmp_path_factory.mktemp("meltano-project"))


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=11, days=30) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def installed(meltano: Path, project: Path, sb: Sandbox) -> Path:
    """`meltano install` once for the module."""
    run = melt(meltano, project, sb, "install")
    assert run.returncode == 0, run.stderr[-3000:]
    return project


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"tap_twilio_meltano_{uuid.uuid4().hex[:10]}"
    yield name
    with pg_connect() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def melt(
    meltano: Path,
    project: Path,
    sb: Sandbox,
    *args: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run meltano in the project with the sandbox's credentials in TAP_TWILIO_* variables."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("TAP_TWILIO", "TARGET_", "MELTANO_", "VIRTUAL_ENV"))
    }
    config = sb.tap_config()
    base.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_TWILIO_ACCOUNT_SID": config["account_sid"],
            "TAP_TWILIO_AUTH_TOKEN": config["auth_token"],
            "TAP_TWILIO_API_URL": config["api_url"],
            "TAP_TWILIO_MONITOR_URL": config["monitor_url"],
            "TAP_TWILIO_BASE_URL_TEMPLATE": config["base_url_template"],
            "TAP_TWILIO_METRICS_LOG_LEVEL": "INFO",  # the record counts below come from the SDK's METRIC lines
            "TAP_TWILIO_START_DATE": config["start_date"],
        }
    )
    base.update(env or {})
    return subprocess.run(
        [str(meltano), *args], cwd=project, env=base, capture_output=True, text=True, check=False, timeout=300
    )


def meltano_run(meltano: Path, project: Path, sb: Sandbox, tap: str, schema: str, **env: str) -> dict[str, int]:
    """`meltano --environment=sandbox run TAP target-postgres`; the tap's record counts per stream."""
    started = time.monotonic()
    run = melt(
        meltano,
        project,
        sb,
        "--log-format=json",
        "--environment=sandbox",
        "run",
        tap,
        "target-postgres",
        env={"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema, **env},
    )
    assert run.returncode == 0, run.stderr[-5000:]
    counts: dict[str, int] = {}
    for line in run.stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        text = event.get("event", "")
        if event.get("producer") and event.get("name") == tap and text.startswith("METRIC: "):
            metric = json.loads(text[len("METRIC: ") :])
            if metric["metric"] == "record_count":
                stream = metric["tags"]["stream"]
                counts[stream] = counts.get(stream, 0) + int(metric["value"])
    assert counts, f"no record_count metrics from {tap} in Meltano's log"
    print(f"meltano run {tap}: {sum(counts.values())} records in {time.monotonic() - started:.1f}s")
    return counts


def state_of(meltano: Path, project: Path, sb: Sandbox, state_id: str) -> dict[str, Any]:
    proc = melt(meltano, project, sb, "state", "get", state_id)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state: dict[str, Any] = json.loads(proc.stdout)["singer_state"]
    return state


def state_ids(meltano: Path, project: Path, sb: Sandbox) -> set[str]:
    proc = melt(meltano, project, sb, "state", "list")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {line.strip() for line in proc.stdout.splitlines() if line.strip()}


def partition_accounts(state: dict[str, Any], stream: str) -> list[str]:
    return [p["context"]["account_sid"] for p in state["bookmarks"][stream].get("partitions", [])]


def test_meltano_config_reaches_the_tap_typed(meltano: Path, installed: Path, sb: Sandbox) -> None:
    """meltano.yml parses without deprecation warnings and numeric settings reach the tap as JSON numbers."""
    proc = melt(meltano, installed, sb, "--environment=sandbox", "invoke", "--dump=config", "tap-twilio")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Deprecat" not in proc.stderr, proc.stderr[-3000:]
    config = json.loads(proc.stdout)
    assert config["api_url"] == sb.url  # the environment variable beats the sandbox environment's 8765
    for name, value in {
        "lookback_days": 3,
        "date_window_days": 30,
        "max_concurrency": 32,
        "max_concurrency_per_account": 16,
        "read_ahead_mb": 16,
        "page_size": 1000,
        "backoff_base_seconds": 1.0,
        "backoff_max_seconds": 60.0,
        "request_timeout_seconds": 60.0,
        "connect_timeout_seconds": 10.0,
    }.items():
        assert config[name] == value and isinstance(config[name], (int, float)), (name, config.get(name))


@pytest.mark.postgres
def test_meltano_run_then_incremental(meltano: Path, installed: Path, sb: Sandbox, schema: str, tmp_path: Path) -> None:
    config = sb.tap_config()
    streams = {s: i for s, i in stream_info(discover(tmp_path, config)).items() if s not in NOT_IN_MELTANO_YML}

    first = meltano_run(meltano, installed, sb, "tap-twilio", schema)
    assert set(first) >= {"messages", "calls", "usage_records", "accounts"}
    assert not set(first) & NOT_IN_MELTANO_YML
    assert_rows_match(schema, sb, streams, config["start_date"])

    state_id = "sandbox:tap-twilio-to-target-postgres"
    assert state_id in state_ids(meltano, installed, sb)
    state1 = state_of(meltano, installed, sb, state_id)
    for stream in ("messages", "calls", "recordings", "usage_records", "addresses"):
        assert sorted(partition_accounts(state1, stream)) == sorted(sb.account_sids), stream
        assert all(p.get("replication_key_value") for p in state1["bookmarks"][stream]["partitions"]), stream

    updated, added = change_messages(sb)
    second = meltano_run(meltano, installed, sb, "tap-twilio", schema)
    assert sum(second.values()) < sum(first.values()) / 4, (first, second)
    assert len(updated) + len(added) <= second["messages"] < first["messages"] / 4
    assert_rows_match(schema, sb, streams, config["start_date"])
    rows = dict(pg_query(f'SELECT sid, status FROM "{schema}".messages WHERE sid = ANY(%s)', list(updated)))
    assert rows == {sid: fields["status"] for sid, fields in updated.items()}
    assert pg_query(f'SELECT count(*) FROM "{schema}".messages WHERE sid = ANY(%s)', added)[0][0] == len(added)

    state2 = state_of(meltano, installed, sb, state_id)
    for stream in ("messages", "calls", "usage_records"):
        old, new = bookmarks_by_account(state1, stream), bookmarks_by_account(state2, stream)
        assert set(new) == set(old) and all(new[a] > old[a] for a in old), (stream, old, new)


@pytest.mark.postgres
def test_meltano_shards_sync_disjoint_accounts(
    meltano: Path, installed: Path, sb: Sandbox, schema: str, tmp_path: Path
) -> None:
    main, *subaccounts = sb.account_sids
    assert subaccounts
    shard_a = meltano_run(
        meltano, installed, sb, "tap-twilio-shard-a", schema, TAP_TWILIO_SHARD_A_ACCOUNT_SIDS=json.dumps([main])
    )
    shard_b = meltano_run(
        meltano, installed, sb, "tap-twilio-shard-b", schema, TAP_TWILIO_SHARD_B_ACCOUNT_SIDS=json.dumps(subaccounts)
    )
    assert shard_a["messages"] == len(sb.expected("messages", main))
    assert shard_b["messages"] == sum(len(sb.expected("messages", a)) for a in subaccounts)

    ids = state_ids(meltano, installed, sb)
    assert {"sandbox:tap-twilio-shard-a-to-target-postgres", "sandbox:tap-twilio-shard-b-to-target-postgres"} <= ids
    state_a = state_of(meltano, installed, sb, "sandbox:tap-twilio-shard-a-to-target-postgres")
    state_b = state_of(meltano, installed, sb, "sandbox:tap-twilio-shard-b-to-target-postgres")
    for stream in ("messages", "calls", "usage_records"):
        assert partition_accounts(state_a, stream) == [main], stream
        assert sorted(partition_accounts(state_b, stream)) == sorted(subaccounts), stream

    # together the two shards fill the tables exactly once
    config = sb.tap_config()
    streams = {s: i for s, i in stream_info(discover(tmp_path, config)).items() if s not in NOT_IN_MELTANO_YML}
    assert_rows_match(schema, sb, streams, config["start_date"])
    by_account = dict(pg_query(f'SELECT account_sid, count(*) FROM "{schema}".messages GROUP BY 1'))
    assert set(by_account) == set(sb.account_sids)


def env_values(sb: Sandbox) -> dict[str, str]:
    """A non-default value for every tap setting, as the text of an environment variable."""
    config = sb.tap_config()
    key_sid, key_secret = sb.api_keys["main"]
    return {
        "account_sid": sb.main_account_sid,
        "auth_token": sb.main_auth_token,
        "api_key_sid": key_sid,  # an API key wins over the auth token
        "api_key_secret": key_secret,
        "start_date": config["start_date"],
        "date_window_days": "7",
        "lookback_days": "0.5",
        "account_sids": json.dumps(sb.account_sids[:2]),
        "shard": "1/1",
        "tables": "full_table",  # the accounts stream synced below is a full-table one
        "fail_on_inaccessible_accounts": "true",
        "region": "ie1",  # api_url wins over region and edge
        "edge": "dublin",
        "max_concurrency": "3",
        "max_concurrency_per_account": "2",
        "read_ahead_mb": "16",
        "page_size": "500",
        "max_retries": "2",
        "backoff_base_seconds": "0.01",
        "backoff_max_seconds": "0.05",
        "request_timeout_seconds": "30.5",
        "connect_timeout_seconds": "5.5",
        "api_url": sb.url,
        "monitor_url": sb.url,
        "base_url_template": sb.url + "/{product}",
        "deleted_recordings_lookback_days": "10",
        "emit_activate_version_messages": "false",
        "conversation_date_tracks_messages": "true",
        "user_agent": "tap-twilio-env-test/1.0",
    }


def test_every_setting_can_come_from_the_environment(meltano: Path, installed: Path, sb: Sandbox) -> None:
    """Meltano 4.4.1 hands every TAP_TWILIO_* variable to the tap (no Decimal crash) and the tap runs with them."""
    text = (installed / "meltano.yml").read_text()
    tap_settings = text[text.index("- name: tap-twilio\n") : text.index("    select:")]
    kinds = dict(re.findall(r"- \{name: (\w+), kind: (\w+)", tap_settings))
    values = env_values(sb)
    assert set(values) == set(kinds), "every setting of meltano.yml gets a value here"
    assert "decimal" not in kinds.values(), "kind: decimal crashes Meltano 4.4.1 when set from the environment"
    env = {f"TAP_TWILIO_{name.upper()}": value for name, value in values.items()}

    proc = melt(meltano, installed, sb, "--environment=sandbox", "invoke", "--dump=config", "tap-twilio", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    config = json.loads(proc.stdout)
    for name, text in values.items():
        got = config[name]
        if kinds[name] == "integer":
            assert got == int(text) and isinstance(got, int), (name, got)
        elif kinds[name] == "array":
            assert got == json.loads(text), (name, got)
        elif kinds[name] == "boolean":
            assert got is (text == "true"), (name, got)
        elif kinds[name] == "date_iso8601":
            assert to_iso(str(got)) == to_iso(text), (name, got)
        elif name == "lookback_days" or name.endswith("_seconds"):
            assert Decimal(str(got)) == Decimal(text), (name, got)  # a numeric string the tap reads as a number
        else:
            assert got == text, (name, got)

    # the tap accepts them all and syncs (accounts only: TAP_TWILIO__SELECT is Meltano's `select` extra)
    sb.reset_stats()
    run = melt(
        meltano,
        installed,
        sb,
        "--environment=sandbox",
        "invoke",
        "tap-twilio",
        env={**env, "TAP_TWILIO__SELECT": '["accounts.*"]'},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"type":"RECORD"')]
    assert sorted(r["record"]["sid"] for r in records) == sorted(sb.account_sids[:2])
    assert "auth_token" not in {k for r in records for k in r["record"]}
    assert any("PageSize=500" in path for _, path in sb.stats.requests), sb.stats.requests[:5]


def test_meltano_yml_declares_every_setting_of_the_tap() -> None:
    """Meltano shows and validates only the settings meltano.yml declares: the tap's own must all be there."""
    text = (ROOT / "meltano.yml").read_text()
    tap_settings = text[text.index("- name: tap-twilio\n") : text.index("    select:")]
    declared = set(re.findall(r"- \{name: (\w+), kind:", tap_settings))
    from tap_twilio.config import CONFIG_SCHEMA  # noqa: PLC0415

    sdk = ("stream_map", "faker_config", "flattening_", "batch_config")  # the SDK appends its own at run time
    assert declared == {name for name in CONFIG_SCHEMA["properties"] if not name.startswith(sdk)}
