"""dbt on PostgreSQL: every model and test of transform/ builds on the sandbox's data as target-postgres loads it,
after a full load and again after an incremental one, and the marts' figures equal what Python computes from the
raw tables. The checks at the top are shared with the DuckDB test.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_RETRIES, discover
from dbt_runner import MARTS, build
from test_postgres_e2e import (
    change_messages,
    change_products,
    expected_keys,
    pg_connect,
    pg_target_config,
    pipe,
    stream_info,
)
from twilio_sandbox import Sandbox

pytestmark = pytest.mark.heavy(seconds=80)

Rows = Callable[[str], list[dict[str, Any]]]  # SQL -> rows as dicts
CENT = Decimal("0.000001")  # the staging layer's exact decimals: 6 places
PG_PROFILE = {"DBT_POSTGRES_HOST": "127.0.0.1", "DBT_POSTGRES_USER": "root", "DBT_POSTGRES_DBNAME": "test"}


# --- what the raw tables say, in Python ------------------------------------------------------------


def live(rows: list[dict[str, Any]], keys: tuple[str, ...] = ("sid",)) -> list[dict[str, Any]]:
    """The latest version of each key (by _sdc_batched_at/_sdc_sequence when the loader wrote them), not deleted."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        version = (row.get("_sdc_batched_at") or dt.datetime.min, row.get("_sdc_sequence") or 0)
        held = latest.get(key)
        if held is None or version >= (held.get("_sdc_batched_at") or dt.datetime.min, held.get("_sdc_sequence") or 0):
            latest[key] = row
    return [row for row in latest.values() if row.get("_sdc_deleted_at") is None]


def exact(value: Any) -> Decimal:
    """A raw number as the exact decimal Twilio sent (target-duckdb stores doubles)."""
    return Decimal("0") if value is None else Decimal(str(value)).quantize(CENT)


def day_of(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value)[:10])


def as_json(value: Any) -> Any:
    """jsonb arrives parsed (psycopg), DuckDB's json as text."""
    return json.loads(value) if isinstance(value, str) else value


def expected_account_daily(raw: Rows, schema: str) -> dict[tuple[str, dt.date], dict[str, Any]]:
    """(account, day) -> the figures twilio__account_daily must hold, from the raw tables."""
    out: dict[tuple[str, dt.date], dict[str, Any]] = defaultdict(lambda: defaultdict(Decimal))
    for m in live(raw(f'SELECT * FROM {schema}."messages"')):
        row = out[m["account_sid"], day_of(m["date_sent"] or m["date_created"])]
        way = "in" if m["direction"] == "inbound" else "out"
        row[f"messages_{way}"] += 1
        row[f"messages_{way}_{m['status']}"] += 1
        row["messages_cost"] += abs(exact(m["price"]))
    for c in live(raw(f'SELECT * FROM {schema}."calls"')):
        row = out[c["account_sid"], day_of(c["start_time"] or c["date_created"])]
        seconds = exact(c["duration"])
        row["calls"] += 1
        row["call_seconds"] += seconds
        row["call_minutes"] += math.ceil(seconds / 60)
        row["calls_cost"] += abs(exact(c["price"]))
    usage = live(raw(f'SELECT * FROM {schema}."usage_records"'), ("account_sid", "category", "start_date"))
    for u in usage:
        if day_of(u["start_date"]) == day_of(u["end_date"]) and u["category"] in {"totalprice", "sms", "calls"}:
            name = "spend_total" if u["category"] == "totalprice" else f"spend_{u['category']}"
            out[u["account_sid"], day_of(u["start_date"])][name] += abs(exact(u["price"]))
    return out


CHECKED = (
    "messages_out",
    "messages_in",
    "messages_out_delivered",
    "messages_out_failed",
    "messages_in_received",
    "messages_cost",
    "calls",
    "call_seconds",
    "call_minutes",
    "calls_cost",
    "spend_total",
    "spend_sms",
    "spend_calls",
)


def check_marts(raw: Rows, schema: str, marts: Rows, sb: Sandbox, streams: dict[str, Any], start: str) -> None:
    """The marts' figures against the raw tables (and the messages against the sandbox itself)."""
    # twilio__messages: every message the sandbox holds since start_date, once
    want = {key[0] for keys in expected_keys(sb, "messages", streams["messages"], start).values() for key in keys}
    messages = marts("SELECT message_sid, cost, status FROM twilio__messages")
    assert {m["message_sid"] for m in messages} == want
    assert sum(m["cost"] or 0 for m in messages) == sum(
        abs(exact(m["price"])) for m in live(raw(f"SELECT * FROM {schema}.messages"))
    )

    # twilio__account_daily: every (account, day) and figure
    expected = expected_account_daily(raw, schema)
    got = {
        (r["account_sid"], day_of(r["day"])): {**r, "calls": r["calls_out"] + r["calls_in"]}
        for r in marts("SELECT * FROM twilio__account_daily")
    }
    assert set(got) == set(expected)
    problems = [
        f"{key} {name}: mart {got[key][name]}, raw {expected[key][name]}"
        for key in sorted(expected)
        for name in CHECKED
        if got[key][name] != expected[key][name]
    ]
    assert not problems, "\n".join(problems[:20])
    assert sum(r["spend_total"] for r in got.values()) > 0 and sum(r["messages_out"] for r in got.values()) > 0

    # twilio__verify_daily: attempts, conversions and cost per service, channel and day
    verify: dict[tuple[str, str, dt.date], list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    for a in live(raw(f"SELECT * FROM {schema}.verify_attempts")):
        figures = verify[a["service_sid"], a["channel"], day_of(a["date_created"])]
        figures[0] += 1
        figures[1] += a["conversion_status"] == "converted"
        figures[2] += abs(exact((as_json(a["price"]) or {}).get("value")))
    rows = marts("SELECT service_sid, channel, day, attempts, conversions, cost FROM twilio__verify_daily")
    assert {
        (r["service_sid"], r["channel"], day_of(r["day"])): [r["attempts"], r["conversions"], r["cost"]] for r in rows
    } == verify
    assert verify

    # twilio__conversation_overview: messages, participants, first message per conversation
    per: dict[str, list[Any]] = defaultdict(lambda: [0, 0, None])
    for m in live(raw(f"SELECT * FROM {schema}.conversation_messages")):
        per[m["conversation_sid"]][0] += 1
        first = per[m["conversation_sid"]][2]
        per[m["conversation_sid"]][2] = m["date_created"] if first is None else min(first, m["date_created"])
    for p in live(raw(f"SELECT * FROM {schema}.conversation_participants")):
        per[p["conversation_sid"]][1] += 1
    rows = marts("SELECT conversation_sid, messages, participants, first_message_at FROM twilio__conversation_overview")
    assert len(rows) == len(live(raw(f"SELECT * FROM {schema}.conversations")))
    assert all(
        [r["messages"], r["participants"], r["first_message_at"]] == per.get(r["conversation_sid"], [0, 0, None])
        for r in rows
    )

    # twilio__calls: the Voice Insights figures of each summarised call
    summaries = {s["call_sid"]: s for s in live(raw(f"SELECT * FROM {schema}.call_summaries"), ("call_sid",))}
    calls = marts("SELECT call_sid, has_insights_summary, packets_lost, disconnected_by FROM twilio__calls")
    assert {c["call_sid"] for c in calls if c["has_insights_summary"]} == set(summaries) & {
        c["call_sid"] for c in calls
    }
    for c in calls:
        if c["has_insights_summary"]:
            edge = as_json(summaries[c["call_sid"]]["carrier_edge"]) or {}
            lost = ((edge.get("metrics") or {}).get("inbound") or {}).get("packets_lost")
            assert c["packets_lost"] == lost, c
            assert c["disconnected_by"] == (as_json(summaries[c["call_sid"]]["properties"]) or {}).get(
                "disconnected_by"
            )
    assert summaries


def change_everything(sb: Sandbox) -> dict[str, str]:
    """Late message updates and new messages, product changes, a deleted short code (full table) and a
    soft-deleted recording; stream -> the sid deleted."""
    change_messages(sb)
    change_products(sb)
    code = sb.expected("short_codes", sb.main_account_sid)[0]["sid"]
    sb.delete_record("short_codes", code)
    recording = next(r for r in sb.expected("recordings", sb.main_account_sid) if r["status"] != "deleted")["sid"]
    sb.delete_record("recordings", recording)
    time.sleep(1.1)  # stamped now: a run reads up to its start second, exclusive
    return {"short_codes": code, "recordings": recording}


# --- PostgreSQL --------------------------------------------------------------------------------------


def pg_rows(sql: str) -> list[dict[str, Any]]:
    with pg_connect() as conn:
        cursor = conn.execute(sql)
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def pg_schemas() -> Iterator[tuple[str, str]]:
    """A unique schema for the raw tables and one for the models, both dropped afterwards."""
    raw = f"tap_twilio_dbt_{uuid.uuid4().hex[:10]}"
    yield raw, f"{raw}_models"
    with pg_connect() as conn:
        for name in (raw, f"{raw}_models"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.mark.postgres
def test_dbt_builds_and_reconciles_on_postgres(tmp_path: Path, pg_schemas: tuple[str, str]) -> None:
    raw, models = pg_schemas
    env = {"TWILIO_SOURCE_SCHEMA": raw, "DBT_TARGET_SCHEMA": models, **PG_PROFILE}

    def marts(sql: str) -> list[dict[str, Any]]:
        return pg_rows(sql.replace("FROM twilio__", f'FROM "{models}".twilio__'))

    with Sandbox(seed=1) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        streams = stream_info(discover(tmp_path, config))
        state = pipe(tmp_path, config, "target-postgres", pg_target_config(raw), name="full")
        build("postgres", tmp_path, **env)
        check_marts(pg_rows, raw, marts, sb, streams, config["start_date"])

        deleted = change_everything(sb)
        pipe(tmp_path, config, "target-postgres", pg_target_config(raw), state=state, name="incremental")
        build("postgres", tmp_path, **env)
        check_marts(pg_rows, raw, marts, sb, streams, config["start_date"])

    flagged = {
        stream: pg_rows(f"SELECT is_deleted FROM \"{models}\".stg_twilio__{stream} WHERE sid = '{sid}'")
        for stream, sid in deleted.items()
    }
    assert flagged == {"short_codes": [{"is_deleted": True}], "recordings": [{"is_deleted": True}]}
    built = {
        r["table_name"]
        for r in pg_rows(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{models}'")
    }
    assert set(MARTS) <= built and {f"stg_twilio__{s}" for s in streams} <= built
