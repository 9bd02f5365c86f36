"""The walkthroughs of the README and docs/, run by bash as written, as a user would, so the docs cannot drift.

Each block follows an HTML comment `<!-- walkthrough: NAME -->` in README.md or docs/*.md. They run in a fresh copy
of the project:

* `meltano` and `meltano-prod`: in test_meltano_walkthroughs.py (a file of their own, to run beside these).
* `stitch` in a fresh virtualenv with `pip install . meltanolabs-target-postgres==0.8.1`, as the docs say.
* `stitch-sandbox` then `stitch` twice, then `kill %1`, as docs/stitch.md says, in that virtualenv, from a copy of
  the project (the sandbox on a free port, the schema a fresh one).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_RETRIES
from test_meltano import copy_project
from test_postgres_e2e import (
    SQLALCHEMY_URL,
    assert_rows_match,
    pg_connect,
    pg_query,
    stream_info,
)
from twilio_sandbox import Sandbox

pytestmark = pytest.mark.heavy(seconds=150)

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!-- walkthrough: (?P<name>[\w-]+) -->\n+```bash\n(?P<body>.*?)\n```", re.S)
STRIPPED = ("TAP_TWILIO", "TARGET_", "MELTANO_", "VIRTUAL_ENV", "TWILIO_", "WAREHOUSE_URL")


DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))


def walkthroughs() -> dict[str, str]:
    """name -> the bash block below `<!-- walkthrough: name -->` in README.md or a file of docs/."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        here = [(m["name"], m["body"]) for m in MARKER.finditer(text)]
        assert len(here) == text.count("<!-- walkthrough:"), f"{path.name}: a marker without a ```bash block after it"
        found += here
    blocks = dict(found)
    assert len(blocks) == len(found), "walkthrough names are unique"
    return blocks


def walkthrough(name: str) -> str:
    """One walkthrough block, verbatim."""
    return walkthroughs()[name]


def test_the_docs_mark_their_walkthroughs() -> None:
    # each is run as written: here, and in test_airflow.py, test_dbt_duckdb.py, test_docs_taskrouter.py and
    # test_conversations_incremental.py
    assert set(walkthroughs()) == {
        "meltano",
        "meltano-prod",
        "stitch",
        "stitch-sandbox",
        "airflow",
        "dbt-duckdb",
        "taskrouter",
        "conversations-cost",
    }


# --- running a block ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def user_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without this venv, tap/target/Meltano variables; bin_dir first on PATH."""
    here = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != here]
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED)}
    env.update(PATH=os.pathsep.join([str(bin_dir), *path]), VIRTUAL_ENV=str(bin_dir.parent), **extra)
    return env


def run_block(script: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """bash -e, in its own process group, killed whole afterwards (the block's background sandbox included)."""
    with subprocess.Popen(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(f"walkthrough timed out after {timeout}s:\n{stderr[-3000:]}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def last_json(stdout: str) -> dict[str, Any]:
    line = next(line for line in reversed(stdout.splitlines()) if line.startswith("{"))
    value: dict[str, Any] = json.loads(line)
    return value


# --- the walkthroughs -----------------------------------------------------------------------------


def fresh_schema() -> Iterator[str]:
    """A schema name no other test uses; the schema and dbt's beside it are dropped afterwards."""
    name = f"tap_twilio_readme_{uuid.uuid4().hex[:10]}"
    yield name
    with pg_connect() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}_analytics" CASCADE')  # dbt's models


@pytest.fixture
def schema() -> Iterator[str]:
    yield from fresh_schema()


def partition_accounts(state: dict[str, Any], stream: str) -> set[str]:
    return {p["context"]["account_sid"] for p in state["bookmarks"][stream]["partitions"]}


@pytest.fixture(scope="session")
def stitch_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with `pip install . meltanolabs-target-postgres==0.8.1` from a copy of the project."""
    project = copy_project(tmp_path_factory.mktemp("stitch-project"))
    venv = tmp_path_factory.mktemp("stitch-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    proc = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            str(project),
            "meltanolabs-target-postgres==0.8.1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv / "bin"


@pytest.mark.postgres
def test_stitch_walkthrough(tmp_path: Path, schema: str, stitch_venv: Path) -> None:
    with Sandbox(seed=14, days=15) as sb:
        work = tmp_path / "job"
        work.mkdir()
        config = sb.tap_config(**FAST_RETRIES)
        (work / "config.json").write_text(json.dumps(config))
        (work / "target.json").write_text(
            json.dumps({"sqlalchemy_url": SQLALCHEMY_URL, "default_target_schema": schema})
        )
        env = user_env(stitch_venv)
        first = run_block(walkthrough("stitch"), work, env)
        assert first.returncode == 0, first.stderr[-5000:]
        catalog = json.loads((work / "catalog.json").read_text())
        state1 = json.loads((work / "state.json").read_text())
        assert partition_accounts(state1, "messages") == set(sb.account_sids)
        streams = stream_info(catalog)
        assert_rows_match(schema, sb, streams, config["start_date"])

        # the same block again: no new discovery, the state moves on
        sb.add_record("messages", sb.main_account_sid)
        time.sleep(1.1)  # the message is stamped now: a run reads up to its start second, exclusive
        second = run_block(walkthrough("stitch"), work, env)
        assert second.returncode == 0, second.stderr[-5000:]
        assert json.loads((work / "catalog.json").read_text()) == catalog
        state2 = json.loads((work / "state.json").read_text())
        assert state2 != state1 and partition_accounts(state2, "messages") == set(sb.account_sids)
        assert_rows_match(schema, sb, streams, config["start_date"])

        # a wrong auth token: the state stays, the block fails
        good = (work / "state.json").read_bytes()
        (work / "config.json").write_text(json.dumps({**config, "auth_token": "0" * 32}))
        failed = run_block(walkthrough("stitch"), work, env)
        assert failed.returncode != 0
        assert (work / "state.json").read_bytes() == good


@pytest.mark.postgres
def test_stitch_walkthrough_on_the_bundled_sandbox(tmp_path: Path, schema: str, stitch_venv: Path) -> None:
    project = copy_project(tmp_path / "project")
    setup = walkthrough("stitch-sandbox")
    assert setup.count("--port 8765") == 1 and setup.count('"twilio_stitch"') == 1
    setup = setup.replace("--port 8765", f"--port {free_port()}").replace('"twilio_stitch"', f'"{schema}"')
    recipe = walkthrough("stitch")
    # as the docs say: the setup block, the recipe twice, then stop the sandbox
    script = f"{setup}\n{recipe}\ncp state.json first-state.json\n{recipe}\nkill %1"
    proc = run_block(script, project, user_env(stitch_venv))
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-5000:]}"

    config = json.loads((project / "config.json").read_text())
    first = json.loads((project / "first-state.json").read_text())
    second = json.loads((project / "state.json").read_text())
    accounts = partition_accounts(first, "messages")
    assert config["account_sid"] in accounts and len(accounts) == 3  # main + 2 subaccounts
    assert partition_accounts(second, "messages") == accounts
    loaded = dict(pg_query(f'SELECT account_sid, count(*) FROM "{schema}".messages GROUP BY 1'))
    assert set(loaded) == accounts and all(loaded.values())
    assert pg_query(f'SELECT count(*) FROM "{schema}".accounts')[0][0] == len(accounts)
