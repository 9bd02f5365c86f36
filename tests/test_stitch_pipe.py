"""The README's Stitch-style recipe (plain pipe + state file), run by bash as written, with target-postgres:

tap-twilio … --state state.json | target-postgres … > target-output.jsonl
tap-twilio-save-state state.json --exit-codes "${PIPESTATUS[@]}" < target-output.jsonl

A failing tap (wrong auth token) or target leaves a good state.json byte for byte, fails the block and names the side
that failed; a failed first discovery leaves no catalog behind and the next run discovers again; the helper itself
refuses empty, cut-off and bookmark-less output.
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

pytestmark = pytest.mark.heavy(seconds=45)

STREAMS = {"accounts", "messages", "message_media", "calls", "usage_records"}
SAVE_STATE = str(BIN / "tap-twilio-save-state")
GOOD = {"bookmarks": {"messages": {"partitions": [{"context": {"account_sid": "AC1"}, "replication_key_value": "x"}]}}}


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
    assert "tap-twilio-save-state: the tap failed (exit 1; see its error above)" in stderr
    (work / "config.json").write_text(json.dumps(config))

    # the target cannot reach its database
    bad_target = {**pg_target_config(pg_schema), "sqlalchemy_url": "postgresql+psycopg://root@127.0.0.1:1/test"}
    (work / "target.json").write_text(json.dumps(bad_target))
    stderr = failed_run(work, good)
    assert "tap-twilio-save-state: the target failed (exit 1; see its messages above)" in stderr
    if "so the tap stopped" in stderr:  # the tap was still writing when the target died: one line, no traceback
        assert "The target stopped reading the tap's output (broken pipe)" in stderr
    assert "BrokenPipeError" not in stderr
    (work / "target.json").write_text(json.dumps(pg_target_config(pg_schema)))

    # the tap fails half-way (one subaccount's calls keep answering 503): the target commits what it received and
    # prints its state, which is saved (a resume point that is never behind the last good state); the pipe fails
    sub = sandbox.account_sids[1]
    sandbox.faults = Faults(scripted=[ScriptedFault(f"{sub}/Calls.json", "503", times=100)])
    (work / "config.json").write_text(json.dumps({**config, "max_retries": 1}))
    half = run_recipe(work)
    assert half.returncode != 0 and "Sync failed" in half.stderr, half.stderr[-3000:]
    assert "tap-twilio-save-state: wrote state.json" in half.stderr
    assert "tap-twilio-save-state: the tap failed (exit 1" in half.stderr
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


@pytest.mark.postgres
def test_a_failed_first_discovery_leaves_no_catalog_and_the_next_run_discovers(
    tmp_path: Path,
    sandbox: Sandbox,
    config: dict[str, Any],
    pg_schema: str,  # noqa: F811
) -> None:
    work = tmp_path / "job"
    work.mkdir()
    (work / "config.json").write_text(json.dumps({**config, "start_date": "yesterday"}))
    (work / "target.json").write_text(json.dumps(pg_target_config(pg_schema)))

    first = run_recipe(work)
    assert first.returncode != 0
    assert "Invalid config: start_date must be an ISO-8601 date" in first.stderr
    assert not (work / "catalog.json").exists()

    (work / "catalog.json").write_text("")  # what the old recipe left behind: rediscovered too
    (work / "config.json").write_text(json.dumps({**config, "start_date": "2000-01-01T00:00:00Z"}))
    good_run(work)
    catalog = json.loads((work / "catalog.json").read_text())
    assert {s["tap_stream_id"] for s in catalog["streams"]} >= STREAMS
    assert "messages" in json.loads((work / "state.json").read_text())["bookmarks"]


def save_state(path: Path, stdin: str, *codes: int) -> subprocess.CompletedProcess[str]:
    extra = ["--exit-codes", *map(str, codes)] if codes else []
    return subprocess.run(
        [SAVE_STATE, str(path), *extra], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("codes", "output", "said", "saved"),
    [
        ((141, 1), "", "the target failed (exit 1; see its messages above), so the tap stopped", False),
        ((1, 0), "", "the tap failed (exit 1; see its error above)", False),
        ((1, 0), json.dumps(GOOD), "the tap failed (exit 1; see its error above)", True),
        ((143, 0), json.dumps(GOOD), "the tap was interrupted (SIGTERM)", True),
        ((0, 2), "", "the target failed (exit 2; see its messages above)", False),
    ],
)
def test_save_state_names_the_side_that_failed_from_the_exit_codes(
    tmp_path: Path, codes: tuple[int, int], output: str, said: str, *, saved: bool
) -> None:
    path = tmp_path / "state.json"
    path.write_text("{}")
    proc = save_state(path, output, *codes)
    assert proc.returncode == 1
    assert f"tap-twilio-save-state: {said}" in proc.stderr
    assert "did the tap fail" not in proc.stderr
    assert (json.loads(path.read_text()) == GOOD) is saved


def test_save_state_without_exit_codes_blames_neither_side(tmp_path: Path) -> None:
    proc = save_state(tmp_path / "state.json", "")
    assert proc.returncode == 1
    assert "the target printed no state (the tap or the target failed: see their messages above" in proc.stderr


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
