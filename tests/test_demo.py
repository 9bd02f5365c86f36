"""The README's first command, `bash scripts/demo.sh`, run as written: every stream lands in DuckDB."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest

from tap_twilio.streams import STREAM_TYPES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.heavy(seconds=40)
ROW = re.compile(r"^(\w+) +(\d+)$")


def test_the_demo_syncs_every_stream_into_duckdb_as_the_readme_says():
    assert "bash scripts/demo.sh" in (ROOT / "README.md").read_text()
    proc = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Synced every stream in" in proc.stdout
    printed = {m.group(1): int(m.group(2)) for line in proc.stdout.splitlines() if (m := ROW.match(line))}
    assert set(printed) == {stream.name for stream in STREAM_TYPES}
    assert all(printed.values()), {t: n for t, n in printed.items() if not n}
    with duckdb.connect(str(ROOT / "output" / "twilio.duckdb"), read_only=True) as db:
        for table, rows in printed.items():
            assert db.execute(f'select count(*) from twilio.twilio."{table}"').fetchone() == (rows,)
    requests = re.search(r"Requests: (\d+), retries: (\d+)", proc.stdout)
    assert requests and int(requests.group(2)) == 0
