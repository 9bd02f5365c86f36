"""End to end: `tap-twilio | target-duckdb` (0.8.0 with duckdb 1.2.2), the embedded demo warehouse.

Row counts per table catch duckdb releases that silently drop the first row of every batch (1.3 and later).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import discover
from test_postgres_e2e import bookmarks_by_account, change_messages, expected_keys, pipe, stream_info
from twilio_sandbox import Sandbox

from tests.exact import assert_exact, hold_clock

pytestmark = pytest.mark.heavy(seconds=60)

SCHEMA = "twilio"


def test_duckdb_is_the_pinned_release() -> None:
    assert duckdb.__version__ == "1.2.2", "target-duckdb 0.8.0 loses the first row of each batch on duckdb 1.3+"


def table_counts(path: Path) -> dict[str, int]:
    """table -> rows."""
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [SCHEMA]
            ).fetchall()
        ]
        return {t: conn.execute(f'SELECT count(*) FROM {SCHEMA}."{t}"').fetchone()[0] for t in tables}


def distinct_keys(path: Path, table: str, keys: list[str]) -> int:
    columns = ", ".join(f'"{k}"' for k in keys)
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(f'SELECT count(*) FROM (SELECT DISTINCT {columns} FROM {SCHEMA}."{table}")').fetchone()[0]


def assert_counts(path: Path, sb: Sandbox, streams: dict[str, dict[str, Any]], start_date: str) -> None:
    counts = table_counts(path)
    problems = []
    for stream, info in sorted(streams.items()):
        want = sum(len(keys) for keys in expected_keys(sb, stream, info, start_date).values())
        got = counts.get(stream, 0)
        if got != want:
            problems.append(f"{stream}: {got} rows, expected {want}")
        elif got and distinct_keys(path, stream, info["key_properties"]) != got:
            problems.append(f"{stream}: duplicate primary keys")
    assert not problems, "\n".join(problems)


def test_duckdb_full_then_incremental(tmp_path: Path, sandbox: Sandbox, config: dict[str, Any]) -> None:
    streams = stream_info(discover(tmp_path, config))
    db = tmp_path / "warehouse.duckdb"
    target_config = {"filepath": str(db), "default_target_schema": SCHEMA}

    hold_clock(sandbox)  # today's usage and Insights move with the clock: what is served is what is compared
    state1 = pipe(tmp_path, config, "target-duckdb", target_config, name="first")
    assert_exact(sandbox, (tmp_path / "first" / "tap.out").read_text(), config["start_date"])
    assert_counts(db, sandbox, streams, config["start_date"])

    hold_clock(sandbox)  # the changes are stamped after the first run started
    updated, added = change_messages(sandbox)
    state2 = pipe(tmp_path, config, "target-duckdb", target_config, state=state1, name="second")
    assert_exact(sandbox, (tmp_path / "second" / "tap.out").read_text(), config["start_date"], every=False)
    assert_counts(db, sandbox, streams, config["start_date"])

    sids = [*updated, *added]
    with duckdb.connect(str(db), read_only=True) as conn:
        rows = dict(
            (sid, (status, price))
            for sid, status, price in conn.execute(
                f"SELECT sid, status, price FROM {SCHEMA}.messages WHERE sid IN ({', '.join('?' * len(sids))})", sids
            ).fetchall()
        )
    for sid, fields in updated.items():
        assert rows[sid][0] == fields["status"]
        assert rows[sid][1] == pytest.approx(float(fields["price"]))  # DuckDB stores JSON numbers as DOUBLE
    assert set(added) <= set(rows)
    old, new = bookmarks_by_account(state1, "messages"), bookmarks_by_account(state2, "messages")
    assert set(new) == set(old) == set(sandbox.account_sids)
    assert all(new[a] >= old[a] for a in old)
    first, second = loaded_rows(tmp_path / "first", "messages"), loaded_rows(tmp_path / "second", "messages")
    assert first == len(sandbox.expected("messages")) - len(added)
    assert len(updated) + len(added) <= second < first / 3, "the second run should re-send only recent messages"


def loaded_rows(run_dir: Path, table: str) -> int:
    """Rows target-duckdb reports loading into a table during one run."""
    pattern = re.compile(rf"Loading (\d+) rows into '.*\"{table}\"'")
    return sum(int(m.group(1)) for m in pattern.finditer((run_dir / "target.err").read_text()))
