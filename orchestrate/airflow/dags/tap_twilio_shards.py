"""tap-twilio on Airflow: one mapped task per shard, then the full-table tables of every account, then dbt.

Each shard task runs `meltano run tap-twilio <loader>` with its own `shard` setting and its own state ID, and is
retried on its own; a failing shard fails only its task. The full-table task then reads the small tables a complete
read replaces, for every account, so deletions reach the warehouse (ACTIVATE_VERSION). The transform task runs
`meltano run dbt-postgres:build` when meltano.yml declares dbt-postgres. Secrets come from Airflow connections or the
workers' environment, never from this file. Deployment settings are environment variables (docs/orchestration.md).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from airflow.sdk import Connection, dag, task
from airflow.sdk.exceptions import AirflowNotFoundException

SHARDS = int(os.environ.get("TAP_TWILIO_SHARDS", "4"))
PROJECT = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[3])
MELTANO = os.environ.get("TAP_TWILIO_MELTANO", "meltano")
LOADER = os.environ.get("TAP_TWILIO_LOADER", "target-postgres")
PARALLEL_SHARDS = int(os.environ.get("TAP_TWILIO_PARALLEL_SHARDS", "4"))  # shards running at once per DAG run
CONCURRENCY_CAP = int(os.environ.get("TAP_TWILIO_CONCURRENCY_CAP", "32"))  # requests in flight, all shards together
POOL = os.environ.get("TAP_TWILIO_POOL", "default_pool")  # a pool shared by every DAG reading the same account
RETRIES = int(os.environ.get("TAP_TWILIO_RETRIES", "2"))
RETRY_DELAY = dt.timedelta(seconds=float(os.environ.get("TAP_TWILIO_RETRY_DELAY_SECONDS", "300")))
SCHEDULE = os.environ.get("TAP_TWILIO_SCHEDULE", "@hourly")
TWILIO_CONNECTION = os.environ.get("TAP_TWILIO_CONNECTION", "twilio_default")
WAREHOUSE_CONNECTION = os.environ.get("TAP_TWILIO_WAREHOUSE_CONNECTION", "tap_twilio_warehouse")
MAX_CONCURRENCY = 64  # the tap's largest max_concurrency


def _connection(conn_id: str) -> Any:
    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def secrets_env() -> dict[str, str]:
    """Credentials from Airflow connections (masked in task logs); without them, the worker's environment."""
    env: dict[str, str] = {}
    twilio = _connection(TWILIO_CONNECTION)
    if twilio is not None:  # login: the account SID; password: its auth token; or an API key in extra
        env["TAP_TWILIO_ACCOUNT_SID"] = twilio.login
        extra = twilio.extra_dejson
        if extra.get("api_key_sid"):
            env["TAP_TWILIO_API_KEY_SID"] = extra["api_key_sid"]
            env["TAP_TWILIO_API_KEY_SECRET"] = extra["api_key_secret"]
        else:
            env["TAP_TWILIO_AUTH_TOKEN"] = twilio.password
    warehouse = _connection(WAREHOUSE_CONNECTION)
    if warehouse is not None and LOADER == "target-postgres":
        user = quote(warehouse.login or "", safe="")
        password = f":{quote(warehouse.password, safe='')}" if warehouse.password else ""
        env["TARGET_POSTGRES_SQLALCHEMY_URL"] = (
            f"postgresql+psycopg://{user}{password}@{warehouse.host}:{warehouse.port or 5432}/{warehouse.schema}"
        )
    return env


def meltano(*args: str, env: dict[str, str] | None = None) -> None:
    """Run Meltano in the project, its output in the task log; a non-zero exit fails the task."""
    command = [MELTANO, *args]
    print("$", " ".join(command), flush=True)
    with subprocess.Popen(  # noqa: S603 - our own command line, no shell
        command,
        cwd=PROJECT,
        env={**os.environ, **secrets_env(), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
    if process.returncode:
        msg = f"meltano {' '.join(args)} exited with {process.returncode}"
        raise RuntimeError(msg)


def declares(plugin: str) -> bool:
    """Whether the project's meltano.yml declares this plugin."""
    config = yaml.safe_load((PROJECT / "meltano.yml").read_text(encoding="utf-8"))
    plugins = (config or {}).get("plugins") or {}
    return any(p.get("name") == plugin for kind in plugins.values() for p in kind or ())


@dag(
    dag_id="tap_twilio_shards",
    schedule=SCHEDULE,
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,  # a run reads up to its start: two at once would read the same data twice
    tags=["tap-twilio", "meltano"],
    doc_md=__doc__,
)
def tap_twilio_shards() -> None:
    """Shards, then full-table tables, then the transform."""

    @task(
        retries=RETRIES,
        retry_delay=RETRY_DELAY,
        pool=POOL,
        max_active_tis_per_dagrun=PARALLEL_SHARDS,
        map_index_template="shard {{ task.op_kwargs['index'] }}",
    )
    def shard(index: int) -> None:
        """One shard's accounts, incremental tables only, with the shard's own state ID."""
        meltano(
            "run",
            "--state-id-suffix",
            f"shard-{index}",  # without the count: growing N -> N+1 shards moves accounts only into the new one
            "tap-twilio",
            LOADER,
            env={
                "TAP_TWILIO_SHARD": f"{index}/{SHARDS}",
                "TAP_TWILIO_TABLES": "incremental",
                "TAP_TWILIO_FAIL_ON_INACCESSIBLE_ACCOUNTS": "true",
                "TAP_TWILIO_MAX_CONCURRENCY": str(max(1, min(MAX_CONCURRENCY, CONCURRENCY_CAP // PARALLEL_SHARDS))),
            },
        )

    @task(retries=RETRIES, retry_delay=RETRY_DELAY, pool=POOL, trigger_rule="all_done")
    def full_table() -> None:
        """Every account's full-table tables, replaced as a whole (deletes); runs even when a shard failed."""
        meltano(
            "run",
            "--state-id-suffix",
            "full-table",
            "tap-twilio",
            LOADER,
            env={
                "TAP_TWILIO_TABLES": "full_table",
                "TAP_TWILIO_MAX_CONCURRENCY": str(max(1, min(MAX_CONCURRENCY, CONCURRENCY_CAP))),
            },
        )

    @task(retries=RETRIES, retry_delay=RETRY_DELAY)
    def transform() -> None:
        """dbt on the loaded tables, when the project has a dbt-postgres transformer; only after every load."""
        if not declares("dbt-postgres"):
            print("meltano.yml declares no dbt-postgres transformer: nothing to transform")
            return
        meltano("run", "dbt-postgres:build")

    shards = shard.expand(index=list(range(1, SHARDS + 1)))
    tables = full_table()
    shards >> tables
    [shards, tables] >> transform()  # a failed shard leaves the transform upstream_failed: the run fails


tap_twilio_shards()
