"""Airflow 3.3.2 runs the repository's DAG (orchestrate/airflow/dags) on the sandbox with 3 shards into PostgreSQL.

Heavy end-to-end: Airflow lives in its own virtualenv (`.bench/airflow-venv`, git-ignored; override with
TAP_TWILIO_AIRFLOW_VENV), created on first use under a file lock (~40 s once per machine), like Meltano's in
test_meltano.py. `airflow dags test` runs the DAG in-process on SQLite; each task runs Meltano in a copy of the
repository. Checked: the tables equal one unsharded run's, row for row; a second DAG run is incremental in every
shard; a shard with a revoked account fails only its own task; no secret reaches any log.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from test_meltano import copy_project, melt, meltano_executable
from test_postgres_e2e import change_messages, pg_connect, pg_query
from test_readme_walkthroughs import MARKER, run_block, user_env
from twilio_sandbox import Sandbox

from tap_twilio.shards import Shard

pytestmark = [pytest.mark.postgres, pytest.mark.heavy(seconds=280)]
ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_VERSION = "3.3.2"
AIRFLOW_VENV = Path(os.environ.get("TAP_TWILIO_AIRFLOW_VENV", ROOT / ".bench" / "airflow-venv"))
DAG_ID = "tap_twilio_shards"
SHARDS = 3
METADATA = {"_sdc_extracted_at", "_sdc_received_at", "_sdc_batched_at", "_sdc_deleted_at", "_sdc_sequence"}
METADATA |= {"_sdc_table_version", "_sdc_sync_started_at"}


def _airflow_version(airflow: Path) -> str | None:
    if not airflow.exists():
        return None
    proc = subprocess.run([str(airflow), "version"], capture_output=True, text=True, check=False, timeout=300)
    return proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else None


@functools.cache
def airflow_executable() -> Path:
    """The airflow executable of the cached virtualenv (created here if missing)."""
    exe = AIRFLOW_VENV / "bin" / "airflow"
    AIRFLOW_VENV.parent.mkdir(parents=True, exist_ok=True)
    # test processes run in parallel (pytest-xdist): one creates the virtualenv, the others wait for it
    with open(AIRFLOW_VENV.parent / f".{AIRFLOW_VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _airflow_version(exe) != AIRFLOW_VERSION:
            if not (AIRFLOW_VENV / "bin" / "python").exists():
                subprocess.run([sys.executable, "-m", "venv", str(AIRFLOW_VENV)], check=True, timeout=300)
            proc = subprocess.run(
                [
                    str(AIRFLOW_VENV / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    f"apache-airflow=={AIRFLOW_VERSION}",
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=1200,
            )
            assert proc.returncode == 0, f"pip install apache-airflow=={AIRFLOW_VERSION} failed:\n{proc.stderr[-3000:]}"
    assert _airflow_version(exe) == AIRFLOW_VERSION
    return exe


class Airflow:
    """The walkthrough's Airflow (AIRFLOW_HOME in the project, SQLite): its environment, and `airflow` commands."""

    def __init__(self, project: Path, meltano: Path, sb: Sandbox, schema: str) -> None:
        self.project, self.home, self.sb = project, project / ".airflow", sb
        self.log: list[str] = []
        config = sb.tap_config()
        # what the walkthrough expects: meltano and airflow on PATH, the sandbox's TAP_TWILIO_* exports
        self.block_env = user_env(
            meltano.parent,
            PATH_TAIL=str(AIRFLOW_VENV / "bin"),
            TAP_TWILIO_ACCOUNT_SID=config["account_sid"],
            TAP_TWILIO_AUTH_TOKEN=config["auth_token"],
            TAP_TWILIO_API_URL=config["api_url"],
            TAP_TWILIO_MONITOR_URL=config["monitor_url"],
            TAP_TWILIO_BASE_URL_TEMPLATE=config["base_url_template"],
            TAP_TWILIO_START_DATE=config["start_date"],
            TAP_TWILIO_BACKOFF_BASE_SECONDS="0.01",
            TAP_TWILIO_BACKOFF_MAX_SECONDS="0.05",
            TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
            DBT_POSTGRES_SOURCE_SCHEMA=schema,  # dbt reads what the loader wrote, and builds beside it
            DBT_POSTGRES_TARGET_SCHEMA=f"{schema}_analytics",
        )
        self.block_env["PATH"] += os.pathsep + self.block_env.pop("PATH_TAIL")
        # what the walkthrough exports, for the later runs
        self.env = {
            **{k: v for k, v in self.block_env.items() if k != "TAP_TWILIO_AUTH_TOKEN"},
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(project / "orchestrate" / "airflow" / "dags"),
            "MELTANO_ENVIRONMENT": "sandbox",
            "AIRFLOW_CONN_TWILIO_DEFAULT": json.dumps(
                {"conn_type": "generic", "login": config["account_sid"], "password": config["auth_token"]}
            ),
            "TAP_TWILIO_SHARDS": str(SHARDS),
            "TAP_TWILIO_POOL": "twilio",
            "TAP_TWILIO_RETRIES": "0",  # the failing shard of the second run fails at once
        }

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(AIRFLOW_VENV / "bin" / "airflow"), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        self.log += [proc.stdout, proc.stderr]
        with (self.home / "airflow-output.txt").open("a") as out:  # to read after a failure
            out.write(f"$ airflow {' '.join(args)}\n{proc.stdout}\n{proc.stderr}\n")
        assert proc.returncode == 0 or args[:2] == ("dags", "test"), proc.stderr[-3000:]
        return proc

    def walkthrough(self) -> str:
        """docs/orchestration.md's walkthrough, run by bash as written; its output."""
        started = time.monotonic()
        proc = run_block(doc_walkthrough(), self.project, self.block_env, timeout=900)
        self.log += [proc.stdout, proc.stderr]
        assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        print(f"walkthrough: {time.monotonic() - started:.1f}s")
        return proc.stdout

    def test_run(self) -> dict[str, str]:
        """`airflow dags test` once; each task's final state (mapped shards as shard-1, shard-2, ...)."""
        started = time.monotonic()
        self("dags", "test", DAG_ID)
        print(f"airflow dags test: {time.monotonic() - started:.1f}s")
        return self.states()

    def states(self) -> dict[str, str]:
        """The last DAG run's task states."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            (run_id,) = db.execute("SELECT run_id FROM dag_run ORDER BY id DESC LIMIT 1").fetchone()
            rows = db.execute(
                "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)
            ).fetchall()
        states = {(f"shard-{index + 1}" if index >= 0 else task): state for task, index, state in rows}
        assert states, "\n".join(self.log)[-5000:]
        return states

    def logs(self) -> str:
        """Everything Airflow printed and every task log file."""
        files = [p.read_text(errors="replace") for p in (self.home / "logs").rglob("*") if p.is_file()]
        return "\n".join(self.log + files)


def doc_walkthrough() -> str:
    """The bash block below `<!-- walkthrough: airflow -->` in docs/orchestration.md, verbatim."""
    text = (ROOT / "docs" / "orchestration.md").read_text(encoding="utf-8")
    blocks = {m["name"]: m["body"] for m in MARKER.finditer(text)}
    assert set(blocks) == {"airflow"} and text.count("<!-- walkthrough:") == 1
    return blocks["airflow"]


def table_rows(schema: str) -> dict[str, list[str]]:
    """Every table's live rows (metadata columns left out), as sorted JSON texts."""
    tables = [
        r[0] for r in pg_query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", schema)
    ]
    out = {}
    for table in sorted(tables):
        columns = [
            r[0]
            for r in pg_query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                schema,
                table,
            )
        ]
        live = ' WHERE "_sdc_deleted_at" IS NULL' if "_sdc_deleted_at" in columns else ""
        drop = " - ".join(["to_jsonb(t)", *(f"'{c}'" for c in sorted(METADATA & set(columns)))])
        out[table] = sorted(r[0] for r in pg_query(f'SELECT ({drop})::text FROM "{schema}"."{table}" t{live}'))
    return out


def messages_windows(sb: Sandbox) -> dict[str, list[str]]:
    """account -> the DateSent> day of each Messages request since the last reset."""
    out: dict[str, list[str]] = {}
    for _, path in sb.stats.requests:
        route, _, query = path.partition("?")
        if route.endswith("/Messages.json") and "/Accounts/" in route:
            account = route.split("/Accounts/")[1].split("/")[0]
            params = dict(parse_qsl(query))
            out.setdefault(account, []).append(params.get("DateSent>", ""))
    return out


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    # the clock stands still between the reference run and the DAG's: today's usage records compare equal
    with Sandbox(seed=18, subaccounts=5, days=8, now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)) as s:
        yield s


@pytest.fixture(scope="module")
def schemas() -> Iterator[tuple[str, str]]:
    names = (f"tap_twilio_airflow_{uuid.uuid4().hex[:10]}", f"tap_twilio_airflow_ref_{uuid.uuid4().hex[:10]}")
    yield names
    with pg_connect() as conn:
        for name in (*names, f"{names[0]}_analytics"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_airflow_shards_equal_one_run_are_incremental_and_fail_alone(
    sb: Sandbox, schemas: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    schema, reference = schemas
    airflow_executable()
    meltano = meltano_executable()
    project = copy_project(tmp_path_factory.mktemp("airflow-project"))
    airflow = Airflow(project, meltano, sb, schema)
    main = sb.main_account_sid
    split = Shard(1, SHARDS).split(sb.account_sids, main)
    assert [len(a) for a in split.values()] == [2, 2, 2], split  # every shard has work with this seed

    # the walkthrough (install, plan, the DAG's first run), then one unsharded run: every table holds the same rows
    printed = airflow.walkthrough()
    for index, accounts in split.items():
        assert f"shard {index}/{SHARDS}: {len(accounts)} account(s)" in printed
        assert all(f"  {index}/{SHARDS}  {sid}" in printed for sid in accounts)
    proc = melt(
        meltano,
        project,
        sb,
        "--environment=sandbox",
        "run",
        "--state-id-suffix",
        "reference",
        "tap-twilio",
        "target-postgres",
        env={"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": reference},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = airflow.states()
    assert first == {**{f"shard-{i}": "success" for i in split}, "full_table": "success", "transform": "success"}
    loaded, expected = table_rows(schema), table_rows(reference)
    assert set(loaded) == set(expected)
    assert {t for t, rows in loaded.items() if rows} >= {"messages", "calls", "accounts", "sip_domains", "alerts"}
    for table in sorted(expected):
        assert loaded[table] == expected[table], table
    states = {f"sandbox:tap-twilio-to-target-postgres:shard-{i}" for i in split}
    assert states <= set(printed.split()), printed[-2000:]  # the walkthrough's `meltano state list`

    # a second run reads every shard's accounts from their bookmarks; a revoked account fails its shard alone
    revoked_shard = max(split, key=lambda i: (len(split[i]) > 1, i != 1))
    revoked = split[revoked_shard][-1]
    time.sleep(1)
    sb.set_now(dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2))
    updated, added = change_messages(sb)
    time.sleep(1.1)  # a run reads up to its start second: the changes above must be older than that
    sb.forbidden_accounts.add(revoked)
    sb.reset_stats()
    second = airflow.test_run()
    assert second[f"shard-{revoked_shard}"] == "failed"
    assert all(second[f"shard-{i}"] == "success" for i in split if i != revoked_shard), second
    assert second["full_table"] == "success"  # it skips the account (and no table is replaced this run)
    assert second["transform"] == "upstream_failed"  # the DAG run fails visibly
    start_day = sb.tap_config()["start_date"][:10]
    windows = messages_windows(sb)
    assert set(windows) == set(sb.account_sids)
    assert all(day > start_day for days in windows.values() for day in days), windows  # incremental everywhere
    status = dict(pg_query(f'SELECT sid, status FROM "{schema}".messages WHERE sid = ANY(%s)', list(updated)))
    owner = {m["sid"]: m["account_sid"] for a in sb.account_sids for m in sb.expected("messages", a)}
    for sid, fields in updated.items():
        if owner[sid] == revoked:
            assert status[sid] != fields["status"], sid
        else:
            assert status[sid] == fields["status"], sid  # the other accounts of the failing shard load too
    new = {r[0] for r in pg_query(f'SELECT account_sid FROM "{schema}".messages WHERE sid = ANY(%s)', added)}
    assert new == set(sb.account_sids) - {revoked}
    assert pg_query(f'SELECT count(*) FROM "{schema}".sip_domains WHERE account_sid = %s', revoked)[0][0] > 0

    logs = airflow.logs()
    assert "could not be read (fail_on_inaccessible_accounts): " + revoked in logs
    for secret in sb.secrets():
        assert secret not in logs
