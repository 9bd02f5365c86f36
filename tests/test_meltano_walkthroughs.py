"""The README's Meltano walkthroughs, run by bash as written (test_readme_walkthroughs.py runs the others and says how).

* `meltano` with Meltano 4.4.1 (one virtualenv for the session, shared with test_meltano.py; the block's own
  `pip install meltano==4.4.1` finds it installed) and nothing else on PATH: `meltano install` builds the tap, the
  loaders and the sandbox utility from meltano.yml; the sandbox runs on a free port instead of 8765.
* `meltano-prod` with the three variables the README asks for pointing at a sandbox and the local PostgreSQL, plus
  TAP_TWILIO_API_URL/MONITOR_URL/BASE_URL_TEMPLATE (the only additions: a real account is not reachable from a
  test).

A file of their own: together they take minutes, and xdist (--dist loadfile) runs a file on one worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST_RETRIES, discover
from test_meltano import NOT_IN_MELTANO_YML, copy_project, meltano_executable
from test_postgres_e2e import SQLALCHEMY_URL, assert_rows_match, pg_query, stream_info
from test_readme_walkthroughs import (
    free_port,
    fresh_schema,
    last_json,
    partition_accounts,
    run_block,
    user_env,
    walkthrough,
)
from twilio_sandbox import Sandbox

pytestmark = pytest.mark.heavy(seconds=200)


@pytest.fixture
def schema() -> Iterator[str]:
    yield from fresh_schema()


@pytest.mark.postgres
def test_meltano_walkthrough(tmp_path: Path, schema: str) -> None:
    meltano = meltano_executable()
    project = copy_project(tmp_path / "project")
    script = walkthrough("meltano")
    assert script.count("--port 8765") == 1
    script = script.replace("--port 8765", f"--port {free_port()}")  # never collide with a running demo

    env = user_env(
        meltano.parent,
        TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
        DBT_POSTGRES_SOURCE_SCHEMA=schema,  # dbt reads the loader's schema
        DBT_POSTGRES_TARGET_SCHEMA=f"{schema}_analytics",
    )
    proc = run_block(script, project, env, timeout=900)  # two syncs and a dbt build
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-5000:]}"

    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in (project / "sandbox.env").read_text().splitlines()
    )
    assert set(exports) >= {"TAP_TWILIO_ACCOUNT_SID", "TAP_TWILIO_AUTH_TOKEN", "TAP_TWILIO_API_URL"}
    state = last_json(proc.stdout)["singer_state"]  # what `meltano state get` printed
    accounts = partition_accounts(state, "messages")
    assert exports["TAP_TWILIO_ACCOUNT_SID"] in accounts and len(accounts) == 3  # main + 2 subaccounts
    for stream in ("calls", "usage_records", "addresses"):
        assert partition_accounts(state, stream) == accounts, stream
    loaded = dict(pg_query(f'SELECT account_sid, count(*) FROM "{schema}".messages GROUP BY 1'))
    assert set(loaded) == accounts and all(loaded.values())
    assert pg_query(f'SELECT count(*) FROM "{schema}".accounts')[0][0] == len(accounts)
    # the last run ended with dbt-postgres:build: every mart built and tested on the loaded tables
    assert (
        script.rstrip()
        .splitlines()[-2]
        .startswith("meltano --environment=sandbox run tap-twilio target-postgres dbt-postgres:build")
    )
    assert "Completed successfully" in proc.stdout + proc.stderr
    marts = f'"{schema}_analytics"'
    assert pg_query(f"SELECT count(*) FROM {marts}.twilio__messages")[0][0] == sum(loaded.values())
    daily = pg_query(
        f"SELECT count(DISTINCT account_sid), sum(messages_out + messages_in) FROM {marts}.twilio__account_daily"
    )
    assert daily[0] == (len(accounts), sum(loaded.values()))


@pytest.mark.postgres
def test_meltano_prod_walkthrough(tmp_path: Path, schema: str) -> None:
    meltano = meltano_executable()
    project = copy_project(tmp_path / "project")
    with Sandbox(seed=13, days=20) as sb:  # stands in for a real account
        env = user_env(
            meltano.parent,
            TWILIO_ACCOUNT_SID=sb.main_account_sid,
            TWILIO_AUTH_TOKEN=sb.main_auth_token,
            WAREHOUSE_URL=SQLALCHEMY_URL,
            TAP_TWILIO_API_URL=sb.url,
            TAP_TWILIO_MONITOR_URL=sb.url,
            TAP_TWILIO_BASE_URL_TEMPLATE=sb.url + "/{product}",
            TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=schema,
        )
        install = run_block("meltano install", project, env)  # "after meltano install as above"
        assert install.returncode == 0, install.stderr[-3000:]
        proc = run_block(walkthrough("meltano-prod"), project, env)
        assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-5000:]}"

        # the account SID went into meltano.yml's prod environment, the secrets into .env only
        meltano_yml = (project / "meltano.yml").read_text()
        assert sb.main_account_sid in meltano_yml
        assert sb.main_auth_token not in meltano_yml and SQLALCHEMY_URL not in meltano_yml.split("- name: prod")[1]
        dotenv = (project / ".env").read_text()
        assert sb.main_auth_token in dotenv and SQLALCHEMY_URL in dotenv
        assert sb.main_auth_token not in proc.stdout + proc.stderr  # `config list` redacts it

        state = last_json(proc.stdout)["singer_state"]
        assert partition_accounts(state, "messages") == set(sb.account_sids)
        config = sb.tap_config(**FAST_RETRIES)
        streams = {s: i for s, i in stream_info(discover(tmp_path, config)).items() if s not in NOT_IN_MELTANO_YML}
        assert_rows_match(schema, sb, streams, "2025-01-01T00:00:00Z")
