"""The documented plain Singer pipe (Stitch-style scheduling), run by a shell twice with changes in between:

tap-twilio --config c --catalog cat --state s | target-postgres --config t > out; tail -1 out > s
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from conftest import discover, select
from test_postgres_e2e import (
    BIN,
    assert_rows_match,
    bookmarks_by_account,
    change_messages,
    pg_query,
    pg_schema,  # noqa: F401  # fixture
    pg_target_config,
    requires_pg,
    stream_info,
)

from twilio_sandbox import Sandbox

pytestmark = requires_pg
STREAMS = {"accounts", "messages", "message_media", "calls", "usage_records"}
# the documented line, verbatim; pipefail + -e keep the old state when either side fails
PIPE = (
    "tap-twilio --config c.json --catalog cat.json --state s.json | target-postgres --config t.json > out.txt; "
    "tail -1 out.txt > s.json"
)
SCRIPT = f"set -euo pipefail\n{PIPE}\n"


def run_pipe(workdir: Path) -> dict[str, Any]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        ["bash", "-c", SCRIPT], cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"{shlex.quote(SCRIPT)} failed:\n{proc.stderr[-3000:]}"
    state = json.loads((workdir / "s.json").read_text())
    assert state == json.loads((workdir / "out.txt").read_text().splitlines()[-1])
    return state


def test_stitch_style_pipe(tmp_path: Path, sandbox: Sandbox, config: dict[str, Any], pg_schema: str) -> None:  # noqa: F811
    catalog = select(discover(tmp_path, config), STREAMS)
    work = tmp_path / "job"
    work.mkdir()
    (work / "c.json").write_text(json.dumps(config))
    (work / "t.json").write_text(json.dumps(pg_target_config(pg_schema)))
    (work / "cat.json").write_text(json.dumps(catalog))
    (work / "s.json").write_text("{}")  # a first run: empty state

    state1 = run_pipe(work)
    streams = {s: i for s, i in stream_info(catalog).items() if s in STREAMS}
    assert_rows_match(pg_schema, sandbox, streams, config["start_date"])
    assert set(bookmarks_by_account(state1, "messages")) == set(sandbox.account_sids)

    updated, added = change_messages(sandbox)
    state2 = run_pipe(work)

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
