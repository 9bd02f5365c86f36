"""dbt on DuckDB: every model and test of transform/ builds on the sandbox's data as target-duckdb loads it (doubles,
json, no _sdc_* columns), after a full load (by docs/dbt.md's walkthrough, as pasted) and again after an incremental
one, with the marts' figures checked against the raw tables in Python (the checks of test_dbt_postgres.py). Also:
the staging layer is what tools/build_dbt_staging.py generates, and the dbt pins agree everywhere.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml  # type: ignore[import-untyped]
from conftest import FAST_RETRIES, discover
from dbt_runner import MARTS, PINS, ROOT, build, dbt_executable
from test_dbt_postgres import change_everything, check_marts
from test_meltano import copy_project
from test_postgres_e2e import pipe, stream_info
from test_readme_walkthroughs import MARKER, run_block, user_env
from twilio_sandbox import Sandbox

pytestmark = pytest.mark.heavy(seconds=190)

RAW, MODELS = "twilio", "twilio_analytics"


def docs_walkthrough(name: str) -> str:
    """The bash block below `<!-- walkthrough: name -->` in docs/dbt.md."""
    text = (ROOT / "docs" / "dbt.md").read_text(encoding="utf-8")
    blocks = {m["name"]: m["body"] for m in MARKER.finditer(text)}
    assert len(blocks) == text.count("<!-- walkthrough:")
    return blocks[name]


def test_dbt_builds_and_reconciles_on_duckdb(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    db = project / "output" / "twilio.duckdb"
    target = {"filepath": str(db), "default_target_schema": RAW}
    env = {"TWILIO_SOURCE_SCHEMA": RAW, "DBT_TARGET_SCHEMA": MODELS, "DBT_DUCKDB_PATH": str(db)}

    def rows(sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(db), read_only=True) as conn:
            cursor = conn.execute(sql.replace("FROM twilio__", f"FROM {MODELS}.twilio__"))
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    with Sandbox(seed=1) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        streams = stream_info(discover(tmp_path, config))
        db.parent.mkdir()
        state = pipe(tmp_path, config, "target-duckdb", target, name="full")
        # docs/dbt.md's plain-dbt walkthrough, as pasted, in the dbt virtualenv (its pip install finds dbt there)
        proc = run_block(docs_walkthrough("dbt-duckdb"), project, user_env(dbt_executable().parent))
        assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
        assert " WARN=0 ERROR=0 SKIP=0 " in proc.stdout
        assert (project / "transform" / "target" / "index.html").exists()
        assert (project / "transform" / "target" / "catalog.json").exists()
        check_marts(rows, f"{RAW}.{RAW}", rows, sb, streams, config["start_date"])  # file twilio.duckdb: catalog twilio

        deleted = change_everything(sb)
        pipe(tmp_path, config, "target-duckdb", target, state=state, name="incremental")
        build("duckdb", tmp_path, **env)
        check_marts(rows, f"{RAW}.{RAW}", rows, sb, streams, config["start_date"])  # file twilio.duckdb: catalog twilio

    # a soft-deleted recording is flagged; target-duckdb ignores ACTIVATE_VERSION, so a short code deleted in
    # Twilio stays as last seen (docs/dbt.md)
    flagged = {
        s: rows(f"SELECT is_deleted FROM {MODELS}.stg_twilio__{s} WHERE sid = '{sid}'") for s, sid in deleted.items()
    }
    assert flagged == {"short_codes": [{"is_deleted": False}], "recordings": [{"is_deleted": True}]}
    built = {
        r["table_name"]
        for r in rows(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{MODELS}'")
    }
    assert set(MARTS) <= built and {f"stg_twilio__{s}" for s in streams} <= built


def test_the_staging_layer_is_generated_from_the_catalog() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_dbt_staging.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"run python tools/build_dbt_staging.py:\n{proc.stderr}"


def test_dbt_is_pinned_alike_in_meltano_setup_and_tests() -> None:
    meltano = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (core,) = [p for p in meltano["plugins"]["transformers"] if p["name"] == "dbt-core"]
    assert core["pip_url"].split() == list(PINS)
    assert {p["name"]: p.get("inherit_from") for p in meltano["plugins"]["transformers"]} == {
        "dbt-core": None,
        "dbt-postgres": "dbt-core",
        "dbt-duckdb": "dbt-core",
    }
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert all(pin in setup for pin in PINS)
    docs = (ROOT / "docs" / "dbt.md").read_text(encoding="utf-8")
    assert all(pin in docs for pin in PINS)
