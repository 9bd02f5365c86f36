"""The README's Stitch-style recipe (plain pipe + state file), run by bash as written, with target-postgres:

set -o pipefail; tap-twilio … --state state.json | target-postgres … | tap-twilio-save-state state.json

A failing tap (wrong auth token) or target leaves a good state.json byte for byte and fails the pipe; the helper
itself refuses empty, cut-off and bookmark-less output.
"""

from __future__ import annotations

import json
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import discover, select
from test_postgres_e2e import (
    BIN,
    assert_rows_match,
    bookmarks_by_account,
    change_messages,
    pg_query,
    pg_schema,  # noqa: F401  # fixture
    pg_target_config,
    stream_info,
)
from test_readme_walkthroughs import walkthrough
from twilio_sandbox import Faults, Sandbox, ScriptedFault

pytestmark = pytest.mark.heavy  # a minute or more: started first, so the workers end together

STREAMS = {"accounts", "messages", "message_media", "calls", "usage_records"}
SAVE_STATE = str(BIN / "tap-twilio-save-state")


def run_recipe(workdir: Path) -> subprocess.CompletedProcess[str]:
    """The README's block, verbatim, with this venv's tap-twilio, target-postgres and tap-twilio-save-state."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        ["bash", "-c", walkthrough("stitch")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def good_run(workdir: Path) -> dict[str, Any]:
    proc = run_recipe(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state: dict[str, Any] = json.loads((workdir / "state.json").read_text())
    return state


def failed_run(workdir: Path, before: bytes) -> str:
    """A run that must fail and leave state.json exactly as it was; its stderr."""
    proc = run_recipe(workdir)
    assert proc.returncode != 0, proc.stderr[-3000:]
    assert (workdir / "state.json").read_bytes() == before
    assert not [p.name for p in workdir.iterdir() if p.name.startswith(".state.json.")]  # no temp file left
    assert "state.json left unchanged" in proc.stderr
    return proc.stderr


@pytest.mark.postgres
def test_stitch_style_pipe_keeps_the_last_good_state(
    tmp_path: Path,
    sandbox: Sandbox,
    config: dict[str, Any],
    pg_schema: str,  # noqa: F811
) -> None:
    catalog = select(discover(tmp_path, config), STREAMS)
    work = tmp_path / "job"
    work.mkdir()
    (work / "config.json").write_text(json.dumps(config))
    (work / "target.json").write_text(json.dumps(pg_target_config(pg_schema)))
    (work / "catalog.json").write_text(json.dumps(catalog))  # the recipe discovers only when there is none

    state1 = good_run(work)  # the recipe writes the empty first state itself
    streams = {s: i for s, i in stream_info(catalog).items() if s in STREAMS}
    assert_rows_match(pg_schema, sandbox, streams, config["start_date"])
    assert set(bookmarks_by_account(state1, "messages")) == set(sandbox.account_sids)
    good = (work / "state.json").read_bytes()

    # a wrong auth token: the tap stops at its first request, the target prints nothing
    (work / "config.json").write_text(json.dumps({**config, "auth_token": "0" * 32}))
    stderr = failed_run(work, good)
    assert "the target printed no state" in stderr
    (work / "config.json").write_text(json.dumps(config))

    # the target cannot reach its database
    bad_target = {**pg_target_config(pg_schema), "sqlalchemy_url": "postgresql+psycopg://root@127.0.0.1:1/test"}
    (work / "target.json").write_text(json.dumps(bad_target))
    failed_run(work, good)
    (work / "target.json").write_text(json.dumps(pg_target_config(pg_schema)))

    # the tap fails half-way (one subaccount's calls keep answering 503): the target commits what it received and
    # prints its state, which is saved (a resume point that is never behind the last good state); the pipe fails
    sub = sandbox.account_sids[1]
    sandbox.faults = Faults(scripted=[ScriptedFault(f"{sub}/Calls.json", "503", times=100)])
    (work / "config.json").write_text(json.dumps({**config, "max_retries": 1}))
    half = run_recipe(work)
    assert half.returncode != 0 and "Sync failed" in half.stderr, half.stderr[-3000:]
    assert "tap-twilio-save-state: wrote state.json" in half.stderr
    partial = json.loads((work / "state.json").read_text())
    for stream in ("messages", "calls", "usage_records"):
        old, new = bookmarks_by_account(state1, stream), bookmarks_by_account(partial, stream)
        assert all(new.get(a, "") >= old[a] for a in old), (stream, old, new)
    sandbox.faults = Faults()
    (work / "config.json").write_text(json.dumps(config))

    updated, added = change_messages(sandbox)
    state2 = good_run(work)

    # the state file advanced for every account of every incremental stream
    for stream in ("messages", "calls", "usage_records"):
        old, new = bookmarks_by_account(state1, stream), bookmarks_by_account(state2, stream)
        assert set(new) == set(old) == set(sandbox.account_sids), stream
        assert all(new[a] > old[a] for a in old), (stream, old, new)

    # rows were updated in place and the new ones added, nothing duplicated
    assert_rows_match(pg_schema, sandbox, streams, config["start_date"])
    rows = dict(
        (sid, (status, price))
        for sid, status, price in pg_query(
            f'SELECT sid, status, price FROM "{pg_schema}".messages WHERE sid = ANY(%s)', [*updated, *added]
        )
    )
    for sid, fields in updated.items():
        assert rows[sid] == (fields["status"], Decimal(fields["price"]))
    assert set(added) <= set(rows)


def save_state(path: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SAVE_STATE, str(path)], input=stdin, capture_output=True, text=True, timeout=60, check=False)


GOOD = {"bookmarks": {"messages": {"partitions": [{"context": {"account_sid": "AC1"}, "replication_key_value": "x"}]}}}


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "the target printed no state"),
        ("\n\n", "the target printed no state"),
        ('{"bookmarks": {"messages": {"partitions": [{"con', "not JSON"),
        ('{"bookmarks": {}}\n{"currently_syncing": "messages"}\n', "not a state with bookmarks"),
        ('["bookmarks"]\n', "not a state with bookmarks"),
        ('{"bookmarks": {}}\n', "would replace one that has"),
    ],
    ids=["empty", "blank", "cut-off", "no-bookmarks", "not-an-object", "empty-bookmarks"],
)
def test_save_state_refuses_output_without_a_state(tmp_path: Path, output: str, reason: str) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(GOOD))
    before = path.read_bytes()
    proc = save_state(path, output)
    assert proc.returncode == 1
    assert reason in proc.stderr and "left unchanged" in proc.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_save_state_writes_the_last_state_line(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")
    path.chmod(0o640)
    older: dict[str, Any] = {"bookmarks": {"messages": {}}}
    assert save_state(path, f"{json.dumps(older)}\n{json.dumps(GOOD)}\n").returncode == 0
    assert json.loads(path.read_text()) == GOOD
    assert path.stat().st_mode & 0o777 == 0o640  # the file keeps its permissions
    # a Singer STATE message is unwrapped; a first state may have no bookmarks yet when the file has none
    message = {"type": "STATE", "value": GOOD}
    assert save_state(path, json.dumps(message)).returncode == 0
    assert json.loads(path.read_text()) == GOOD
    fresh = tmp_path / "new.json"
    assert save_state(fresh, '{"bookmarks": {}}').returncode == 0
    assert json.loads(fresh.read_text()) == {"bookmarks": {}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "state.json"]


def test_save_state_needs_an_existing_directory(tmp_path: Path) -> None:
    proc = save_state(tmp_path / "missing" / "state.json", json.dumps(GOOD))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
