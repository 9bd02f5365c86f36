"""Features the Meltano Singer SDK provides, seen through the real `tap-twilio` command.

--about (and the settings reference in docs/configuration.md generated from it), --version, --test, stream maps,
flattening, --config ENV.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

from conftest import discover, run_tap, select
from test_postgres_e2e import BIN
from twilio_sandbox import Sandbox

import tap_twilio

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"
ABOUT_START, ABOUT_END = "<!-- about:start -->", "<!-- about:end -->"
UPDATE_ENV = "TAP_TWILIO_UPDATE_DOCS"
REGENERATE = f"{UPDATE_ENV}=1 .venv/bin/python -m pytest tests/test_sdk_features.py -k reference"


def tap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "tap-twilio"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_about_markdown_matches_the_settings_reference() -> None:
    proc = tap("--about", "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    about = proc.stdout.strip("\n")
    readme = REFERENCE.read_text(encoding="utf-8")
    assert readme.count(ABOUT_START) == 1 and readme.count(ABOUT_END) == 1, (
        f"docs/configuration.md needs exactly one {ABOUT_START} … {ABOUT_END} block (under '## Settings reference')"
    )
    head, rest = readme.split(ABOUT_START)
    block, tail = rest.split(ABOUT_END)
    if block.strip("\n") != about and os.environ.get(UPDATE_ENV) == "1":
        REFERENCE.write_text(f"{head}{ABOUT_START}\n{about}\n{ABOUT_END}{tail}", encoding="utf-8")
        block = f"\n{about}\n"
    assert block.strip("\n") == about, (
        "docs/configuration.md's settings reference is out of date with `tap-twilio --about --format markdown`.\n"
        f"Regenerate it with:\n    {REGENERATE}\n"
    )
    for setting in ("account_sid", "auth_token", "account_sids", "lookback_days", "stream_maps", "flattening_enabled"):
        assert f"| {setting} |" in about


def test_about_json_lists_settings_and_capabilities() -> None:
    proc = tap("--about", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    about = json.loads(proc.stdout)
    assert about["name"] == "tap-twilio"
    assert {"catalog", "state", "discover", "about", "stream-maps", "schema-flattening"} <= set(about["capabilities"])
    settings = about["settings"]["properties"]
    assert settings["auth_token"].get("secret") is True
    assert about["settings"]["required"] == ["account_sid"]


def test_version() -> None:
    proc = tap("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tap-twilio v{tap_twilio.__version__}, Meltano SDK v{version('singer-sdk')}"
    assert tap_twilio.__version__ == version("tap-twilio-sdk")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", tap_twilio.__version__)


def test_connection_test(tmp_path: Path, sandbox: Sandbox, config: dict[str, Any]) -> None:
    """`--test` reads at most one record per stream from the sandbox and exits 0; bad credentials exit non-zero."""
    sandbox.reset_stats()
    run = run_tap(tmp_path, config, args=("--test",))
    assert run.returncode == 0
    records: dict[str, int] = {}
    for line in run.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records[message["stream"]] = records.get(message["stream"], 0) + 1
    assert set(records) >= {"accounts", "messages", "calls", "usage_records"}
    assert set(records.values()) == {1}, records
    assert sandbox.stats.snapshot()["total"] > 0

    bad = run_tap(tmp_path, {**config, "auth_token": "0" * 32}, args=("--test",), check=False)
    assert bad.returncode != 0
    assert "rejected the credentials" in bad.stderr
    assert "0" * 32 not in bad.stderr


def test_stream_maps_hash_phone_numbers(tmp_path: Path, sandbox: Sandbox, config: dict[str, Any]) -> None:
    """SDK stream maps: `to` by its name, `from` (a Python keyword) through `record[...]`."""
    maps = {"messages": {"to": "md5(to)", "from": "md5(record['from'])"}}
    config = {**config, "stream_maps": maps}
    catalog = select(discover(tmp_path, config), {"messages"})
    run = run_tap(tmp_path, config, catalog=catalog)
    raw = {m["sid"]: m for m in sandbox.expected("messages")}
    records = run.records["messages"]
    assert len(records) == len(raw)
    for record in records:
        original = raw[record["sid"]]
        assert record["to"] == hashlib.md5(original["to"].encode()).hexdigest()
        assert record["from"] == hashlib.md5(original["from"].encode()).hexdigest()
        assert record["body"] == original["body"]
    assert not any(r["to"].startswith("+") or r["from"].startswith("+") for r in records)
    assert set(run.schemas["messages"]["schema"]["properties"]) >= {"to", "from", "sid", "price"}


def test_config_from_environment(tmp_path: Path, sandbox: Sandbox, config: dict[str, Any]) -> None:
    """`--config ENV` reads TAP_TWILIO_* (arrays as JSON, numbers as text)."""
    env = {
        "TAP_TWILIO_ACCOUNT_SID": config["account_sid"],
        "TAP_TWILIO_AUTH_TOKEN": config["auth_token"],
        "TAP_TWILIO_API_URL": config["api_url"],
        "TAP_TWILIO_MONITOR_URL": config["monitor_url"],
        "TAP_TWILIO_START_DATE": config["start_date"],
        "TAP_TWILIO_ACCOUNT_SIDS": json.dumps([sandbox.account_sids[1]]),
        "TAP_TWILIO_PAGE_SIZE": "37",
    }
    catalog = select(discover(tmp_path, config), {"accounts", "messages"})
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    sandbox.reset_stats()
    proc = tap("--config", "ENV", "--catalog", str(tmp_path / "catalog.json"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records: dict[str, list[dict[str, Any]]] = {}
    for line in proc.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    assert {r["sid"] for r in records["accounts"]} == {sandbox.account_sids[1]}
    assert {r["account_sid"] for r in records["messages"]} == {sandbox.account_sids[1]}
    assert len(records["messages"]) == len(sandbox.expected("messages", sandbox.account_sids[1]))
    # the numeric setting arrived as a number: every first page asked for 37 records
    firsts = [path for _, path in sandbox.stats.snapshot()["requests"] if "/Messages.json?" in path]
    assert firsts
    assert all("PageSize=37" in path for path in firsts), firsts[:3]
    assert not any(sandbox.account_sids[0] in path for path in firsts)


def test_flattening_expands_subresource_uris(tmp_path: Path, sandbox: Sandbox, config: dict[str, Any]) -> None:
    """flattening_enabled + flattening_max_depth turn subresource_uris into one column per link."""
    config = {**config, "flattening_enabled": True, "flattening_max_depth": 1}
    catalog = select(discover(tmp_path, config), {"messages"})
    run = run_tap(tmp_path, config, catalog=catalog)
    properties = run.schemas["messages"]["schema"]["properties"]
    records = run.records["messages"]
    assert records
    raw = {m["sid"]: m for m in sandbox.expected("messages")}
    # the SDK keeps schema and record consistent either way: no nested objects remain
    assert not any(isinstance(v, dict) for r in records for v in r.values())
    assert {"subresource_uris__media", "subresource_uris__feedback"} <= set(properties), (
        "flattening left subresource_uris as "
        f"{properties.get('subresource_uris')} (a JSON string): schemas/messages.json declares subresource_uris "
        "as a bare object without 'properties', so the SDK cannot flatten it into columns"
    )
    for record in records:
        uris = raw[record["sid"]]["subresource_uris"]
        assert record["subresource_uris__media"] == uris["media"]
        assert record["subresource_uris__feedback"] == uris["feedback"]
        assert "subresource_uris" not in record
