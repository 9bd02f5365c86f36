"""End to end: `tap-twilio | target-postgres` (MeltanoLabs 0.8.1) against the sandbox, checked with SQL.

The helpers at the top (expected rows, the pipe runner, PostgreSQL access) are shared by the DuckDB, Stitch-pipe and
Meltano tests.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_RETRIES, PG_DSN, SQLALCHEMY_URL, discover, select, tap_args
from twilio_sandbox import Sandbox

from tap_twilio.dates import to_iso
from tests import test_conversations_incremental as conversations
from tests.exact import served

BIN = Path(sys.executable).parent
ALL_ACCOUNTS = "*"  # the accounts stream is keyed by its own sid


pytestmark = [pytest.mark.postgres, pytest.mark.heavy(seconds=100)]


# --- what the sandbox holds ----------------------------------------------------------------------


def stream_info(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """stream -> key_properties, replication_key and schema, from a discovered catalog."""
    info = {}
    for entry in catalog["streams"]:
        root = next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])
        info[entry["tap_stream_id"]] = {
            "key_properties": list(entry.get("key_properties") or root.get("table-key-properties") or []),
            "replication_key": entry.get("replication_key") or root.get("replication-key"),
            "schema": entry["schema"],
        }
    return info


def expected_keys(sb: Sandbox, stream: str, info: dict[str, Any], start_date: str) -> dict[str, set[tuple[str, ...]]]:
    """account -> primary keys (as text) of the rows a full first run must load.

    Incremental streams keep only records whose replication key is on or after start_date; usage_records
    (replication key start_date, a date) keep the rows from start_date's day on.
    """
    keys, rkey = info["key_properties"], info["replication_key"]
    start_iso = to_iso(start_date)
    assert start_iso is not None
    out: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    accounts = [None] if stream == "accounts" else sb.account_sids
    if stream.startswith("pricing_"):  # the same for every account: read once, as the main account's
        accounts = [sb.main_account_sid]
    for account in accounts:
        for raw in served(sb, stream, account):
            record = dict(raw)
            if account is not None:
                record.setdefault("account_sid", account)  # available numbers carry no account_sid
            if rkey and record.get(rkey):
                value = str(record[rkey])
                if len(value) == 10:  # a date (usage_records.start_date)
                    if value < start_iso[:10]:
                        continue
                elif (to_iso(value) or "") < start_iso:
                    continue
            owner = ALL_ACCOUNTS if account is None else record["account_sid"]
            out[owner].add(tuple(str(record[k]) for k in keys))
    return dict(out)


def recent_messages(sb: Sandbox, per_account: int, within: dt.timedelta) -> list[dict[str, Any]]:
    """A few messages per account sent within `within` of now (inside the tap's lookback)."""
    floor = (sb.now - within).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    chosen = []
    for account in sb.account_sids:
        fresh = [m for m in sb.expected("messages", account) if (to_iso(m.get("date_sent")) or "") >= floor]
        assert len(fresh) >= per_account, f"sandbox account {account} has too few recent messages"
        chosen += fresh[:per_account]
    return chosen


def change_messages(sb: Sandbox) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Update status and price of a few recent messages and add new ones; (sid -> new fields, new sids).

    The new messages are sent 2 s ago: a run reads up to the second its sync started (exclusive), so a message
    stamped in that very second belongs to the next run, and a run starting right after this would miss it.
    """
    updated = {}
    for i, message in enumerate(recent_messages(sb, per_account=2, within=dt.timedelta(days=2))):
        fields = {"status": "undelivered", "price": f"-0.{1234 + i:05d}"}
        sb.update_record("messages", message["sid"], **fields)
        updated[message["sid"]] = fields
    sent = sb.now - dt.timedelta(seconds=2)
    added = [sb.add_record("messages", a, date_sent=sent)["sid"] for a in sb.account_sids for _ in range(2)]
    return updated, added


def change_products(sb: Sandbox) -> list[tuple[str, str, str, str]]:
    """A new message in a subaccount's conversation, an ended Studio execution, a renamed flow, a new Verify
    attempt; (table, sid, column, value now) of each."""
    sub = sb.account_sids[1]  # an odd subaccount: Conversations, Studio and Verify
    conversation = next(c for c in reversed(sb.expected("conversations", sub)) if c["state"] != "closed")
    message = sb.products.add_conversation_message(conversation["sid"], body="late reply")
    execution = sb.expected("studio_executions", sub)[0]
    ended = sb.products.end_execution(execution["sid"])
    flow = sb.products.rename_flow(sb.expected("studio_flows", sub)[0]["sid"], "IVR v2")
    attempt = sb.products.add_verify_attempt(sub)
    return [
        ("conversation_messages", message["sid"], "body", "late reply"),
        ("conversations", conversation["sid"], "date_updated", pg_time(message["date_created"])),
        ("studio_executions", execution["sid"], "date_updated", pg_time(ended["date_updated"])),
        ("studio_flows", flow["sid"], "friendly_name", "IVR v2"),
        ("verify_attempts", attempt["sid"], "channel", attempt["channel"]),
    ]


def pg_time(value: str) -> str:
    """An ISO-8601 UTC time as PostgreSQL prints a timestamp without time zone."""
    return str(to_iso(value))[:19].replace("T", " ")


# --- running the pipe -----------------------------------------------------------------------------


def pipe(
    tmp_path: Path,
    tap_config: dict[str, Any],
    target: str,
    target_config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    name: str = "run",
) -> dict[str, Any]:
    """`tap-twilio ... | target-x --config t` as two processes joined by a pipe; returns the target's last state."""
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "target.json").write_text(json.dumps(target_config))
    tap_cmd = [str(BIN / "tap-twilio"), *tap_args(run_dir, tap_config, state=state, catalog=catalog)]
    with (run_dir / "tap.err").open("w") as tap_err, (run_dir / "target.err").open("w") as target_err:
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=tap_err)
        assert tap.stdout is not None
        # `tee` keeps what the tap wrote (run_dir/tap.out), for the exact comparison with the sandbox
        tee = subprocess.Popen(["tee", str(run_dir / "tap.out")], stdin=tap.stdout, stdout=subprocess.PIPE)
        tap.stdout.close()  # tee owns the read end: the tap gets SIGPIPE if the pipe breaks
        assert tee.stdout is not None
        loader = subprocess.Popen(
            [str(BIN / target), "--config", str(run_dir / "target.json")],
            stdin=tee.stdout,
            stdout=subprocess.PIPE,
            stderr=target_err,
            text=True,
        )
        tee.stdout.close()  # the target owns the read end
        out, _ = loader.communicate(timeout=300)
        tap_rc = tap.wait(timeout=60)
        tee.wait(timeout=60)
    assert tap_rc == 0, f"tap-twilio failed:\n{(run_dir / 'tap.err').read_text()[-3000:]}"
    assert loader.returncode == 0, f"{target} failed:\n{(run_dir / 'target.err').read_text()[-3000:]}"
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, f"{target} printed no state"
    return json.loads(lines[-1])


def bookmarks_by_account(state: dict[str, Any], stream: str) -> dict[str, str]:
    """account -> replication_key_value of a stream in a tap state."""
    return {
        p["context"]["account_sid"]: p["replication_key_value"]
        for p in state["bookmarks"][stream].get("partitions", [])
        if "replication_key_value" in p
    }


# --- PostgreSQL -------------------------------------------------------------------------------------


def pg_connect() -> Any:
    import psycopg  # noqa: PLC0415

    return psycopg.connect(PG_DSN, autocommit=True)


def pg_query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with pg_connect() as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture
def pg_schema() -> Any:
    """A fresh, uniquely named target schema, dropped afterwards."""
    name = f"tap_twilio_test_{uuid.uuid4().hex[:10]}"
    yield name
    with pg_connect() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_target_config(schema: str) -> dict[str, Any]:
    return {"sqlalchemy_url": SQLALCHEMY_URL, "default_target_schema": schema}


def pg_keys(schema: str, table: str, info: dict[str, Any]) -> dict[str, list[tuple[str, ...]]]:
    """account -> primary keys (as text) of a table's rows, duplicates kept."""
    owner = "sid" if table == "accounts" else "account_sid"
    columns = ", ".join(f'"{k}"::text' for k in info["key_properties"])
    out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for row in pg_query(f'SELECT "{owner}", {columns} FROM "{schema}"."{table}"'):
        out[ALL_ACCOUNTS if table == "accounts" else row[0]].append(tuple(row[1:]))
    return dict(out)


def assert_rows_match(schema: str, sb: Sandbox, streams: dict[str, dict[str, Any]], start_date: str) -> None:
    """Every table holds exactly the sandbox's rows, per account, each once."""
    tables = {
        r[0] for r in pg_query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", schema)
    }
    problems = []
    for stream, info in sorted(streams.items()):
        expected = expected_keys(sb, stream, info, start_date)
        if stream not in tables:
            if any(expected.values()):
                problems.append(f"{stream}: no table, expected {sum(map(len, expected.values()))} rows")
            continue
        loaded = pg_keys(schema, stream, info)
        for account in sorted(set(expected) | set(loaded)):
            rows = loaded.get(account, [])
            if len(rows) != len(set(rows)):
                problems.append(f"{stream} {account}: duplicate primary keys")
            want = expected.get(account, set())
            if set(rows) != want:
                problems.append(
                    f"{stream} {account}: {len(set(rows))} rows loaded, {len(want)} expected "
                    f"(missing {sorted(want - set(rows))[:3]}, extra {sorted(set(rows) - want)[:3]})"
                )
    assert not problems, "\n".join(problems)


# --- the tests ----------------------------------------------------------------------------------------


def test_postgres_full_then_incremental(
    tmp_path: Path, sandbox: Sandbox, config: dict[str, Any], pg_schema: str
) -> None:
    streams = stream_info(discover(tmp_path, config))
    target_config = pg_target_config(pg_schema)

    state1 = pipe(tmp_path, config, "target-postgres", target_config, name="first")
    assert_rows_match(pg_schema, sandbox, streams, config["start_date"])
    assert set(bookmarks_by_account(state1, "messages")) == set(sandbox.account_sids)

    # column types: date-times are timestamps, numbers exact numerics
    columns = {
        (table, column): data_type
        for table, column, data_type in pg_query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = %s",
            pg_schema,
        )
    }
    wrong = []
    for stream, info in streams.items():
        for prop, spec in info["schema"]["properties"].items():
            types = spec.get("type") if isinstance(spec.get("type"), list) else [spec.get("type")]
            want = None
            if spec.get("format") == "date-time":
                want = "timestamp"
            elif "number" in types:
                want = "numeric"
            got = columns.get((stream, prop))
            if want and got is not None and not got.startswith(want):
                wrong.append(f"{stream}.{prop}: {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
    for table, column in [("messages", "date_sent"), ("calls", "start_time"), ("usage_records", "as_of")]:
        assert columns[(table, column)] == "timestamp without time zone"
    for table, column in [
        ("messages", "price"),
        ("calls", "price"),
        ("calls", "duration"),
        ("recordings", "duration"),
        ("usage_records", "usage"),
        ("account_balance", "balance"),
    ]:
        assert columns[(table, column)] == "numeric", (table, column)

    # primary keys are declared on every table
    declared: dict[str, list[str]] = defaultdict(list)
    for table, column in pg_query(
        """SELECT tc.table_name, kcu.column_name
             FROM information_schema.table_constraints tc
             JOIN information_schema.key_column_usage kcu
               ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
            WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = %s
            ORDER BY tc.table_name, kcu.ordinal_position""",
        pg_schema,
    ):
        declared[table].append(column)
    loaded_tables = {table for table, _ in columns}
    missing_pk = {
        s: (declared.get(s), i["key_properties"])
        for s, i in streams.items()
        if s in loaded_tables and sorted(declared.get(s, [])) != sorted(i["key_properties"])
    }
    assert not missing_pk, f"primary keys differ (declared, key_properties): {missing_pk}"

    # exact values survive: a price and a date-time of one message
    message = sandbox.expected("messages")[0]
    price, sent = pg_query(f'SELECT price, date_sent FROM "{pg_schema}".messages WHERE sid = %s', message["sid"])[0]
    assert price == Decimal(message["price"])
    assert sent.isoformat() + "+00:00" == to_iso(message["date_sent"])

    # the sandbox changes, the second run starts from the first run's state
    updated, added = change_messages(sandbox)
    product_changes = change_products(sandbox)
    time.sleep(1.1)  # the product changes are stamped now: a run reads up to its start second, exclusive
    second_started = pg_query("SELECT now() AT TIME ZONE 'UTC'")[0][0]
    state2 = pipe(tmp_path, config, "target-postgres", target_config, state=state1, name="second")

    assert_rows_match(pg_schema, sandbox, streams, config["start_date"])
    rows = {
        sid: (status, price)
        for sid, status, price in pg_query(
            f'SELECT sid, status, price FROM "{pg_schema}".messages WHERE sid = ANY(%s)', [*updated, *added]
        )
    }
    for sid, fields in updated.items():
        assert rows[sid] == (fields["status"], Decimal(fields["price"])), sid
    assert set(added) <= set(rows)
    for table, sid, column, value in product_changes:
        assert pg_query(f'SELECT "{column}"::text FROM "{pg_schema}"."{table}" WHERE sid = %s', sid) == [(value,)]
    total, touched = pg_query(
        f'SELECT count(*), count(*) FILTER (WHERE _sdc_batched_at >= %s) FROM "{pg_schema}".messages',
        second_started,
    )[0]
    assert total == len(sandbox.expected("messages"))
    assert len(updated) + len(added) <= touched < total / 3, "the second run should re-send only recent messages"
    old, new = bookmarks_by_account(state1, "messages"), bookmarks_by_account(state2, "messages")
    assert set(new) == set(old)
    assert all(new[a] >= old[a] for a in old)


def test_postgres_selected_streams_only(tmp_path: Path, sandbox: Sandbox, pg_schema: str) -> None:
    """A catalog selecting two streams loads exactly those two tables."""
    config = sandbox.tap_config(**FAST_RETRIES)
    catalog = select(discover(tmp_path, config), {"messages", "usage_records"})
    pipe(tmp_path, config, "target-postgres", pg_target_config(pg_schema), catalog=catalog)
    tables = {
        r[0] for r in pg_query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", pg_schema)
    }
    assert tables == {"messages", "usage_records"}
    streams = stream_info(catalog)
    assert_rows_match(pg_schema, sandbox, {s: streams[s] for s in tables}, config["start_date"])


def _force_full_table(catalog: dict[str, Any], stream: str) -> None:
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == stream:
            entry["replication_method"] = "FULL_TABLE"
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["forced-replication-method"] = "FULL_TABLE"


@pytest.mark.parametrize("hard_delete", [True, False], ids=["hard_delete", "flag"])
def test_rows_deleted_in_twilio_leave_postgres_or_are_flagged(
    tmp_path: Path, sandbox: Sandbox, pg_schema: str, *, hard_delete: bool
) -> None:
    """A removed SIP credential and a released number (incoming_phone_numbers forced FULL_TABLE in the catalog)
    are deleted or flagged after the next run; incremental streams' rows and the participant summaries of
    conferences the second run does not read again stay as they were."""
    config = {**sandbox.tap_config(**FAST_RETRIES), "lookback_days": 0}
    streams = {
        "sip_credential_lists",
        "sip_credentials",
        "incoming_phone_numbers",
        "notifications",
        "conference_summaries",
        "conference_participant_summaries",
    }
    catalog = select(discover(tmp_path, config), streams)
    _force_full_table(catalog, "incoming_phone_numbers")
    target_config = {**pg_target_config(pg_schema), "hard_delete": hard_delete}
    state1 = pipe(tmp_path, config, "target-postgres", target_config, catalog=catalog, name="first")

    def rows(table: str, where: str = "TRUE") -> dict[str, Any]:
        return dict(pg_query(f'SELECT {KEYS[table]}::text, _sdc_deleted_at FROM "{pg_schema}"."{table}" WHERE {where}'))

    before = {table: rows(table) for table in KEYS}
    assert all(before.values()), before
    main = sandbox.main_account_sid
    credential = sandbox.expected("sip_credentials", main)[0]["sid"]
    number = sandbox.expected("incoming_phone_numbers", main)[0]["sid"]
    sandbox.delete_record("sip_credentials", credential)
    sandbox.delete_record("incoming_phone_numbers", number)

    pipe(tmp_path, config, "target-postgres", target_config, catalog=catalog, state=state1, name="second")

    after = {table: rows(table) for table in KEYS}
    for table, gone in (("sip_credentials", credential), ("incoming_phone_numbers", number)):
        if hard_delete:
            assert gone not in after[table], table
            assert set(after[table]) == set(before[table]) - {gone}, table
        else:
            assert after[table][gone] is not None, f"{table}: the deleted row is not flagged"
            assert set(after[table]) == set(before[table]), table
        assert all(at is None for sid, at in after[table].items() if sid != gone), table
    # incremental streams and children of incremental parents: every row kept, none flagged
    for table in ("notifications", "conference_summaries", "conference_participant_summaries"):
        assert set(after[table]) == set(before[table]), table
        assert all(at is None for at in after[table].values()), table


KEYS = {
    "sip_credentials": "sid",
    "incoming_phone_numbers": "sid",
    "notifications": "sid",
    "conference_summaries": "conference_sid",
    "conference_participant_summaries": "participant_sid",
}


CONVERSATION_COLUMNS = {  # table -> columns compared with the sandbox, as text
    "conversations": ("state", "date_updated", "friendly_name"),
    "conversation_messages": ("conversation_sid", "participant_sid", "author", "body", "index", "date_updated"),
    "conversation_participants": ("conversation_sid", "identity", "role_sid", "date_updated"),
}


def pg_conversation_rows(schema: str, table: str) -> dict[str, tuple[str | None, ...]]:
    columns = ", ".join(f'"{c}"::text' for c in CONVERSATION_COLUMNS[table])
    return {row[0]: tuple(row[1:]) for row in pg_query(f'SELECT sid, {columns} FROM "{schema}"."{table}"')}


def sandbox_conversation_rows(sb: Sandbox, table: str) -> dict[str, tuple[str | None, ...]]:
    def text(column: str, value: Any) -> str | None:
        if value is None:
            return None
        return pg_time(value) if column.startswith("date_") else str(value)

    return {r["sid"]: tuple(text(c, r[c]) for c in CONVERSATION_COLUMNS[table]) for r in sb.expected(table)}


@pytest.mark.parametrize("moves", [True, False], ids=["message-moves-conversation", "message-keeps-it"])
def test_postgres_conversations_incremental_is_exact(tmp_path: Path, pg_schema: str, *, moves: bool) -> None:
    """New messages (one by a participant who just joined) and a conversation closed since the last run reach
    PostgreSQL whether or not a new message moves its conversation's date_updated; every row as Twilio serves it."""
    with Sandbox(seed=25, subaccounts=1, days=20) as sb:
        sb.products.messages_move_conversation = moves
        config = sb.tap_config(**FAST_RETRIES)
        catalog = select(discover(tmp_path, config), conversations.STREAMS)
        target_config = pg_target_config(pg_schema)
        state = pipe(tmp_path, config, "target-postgres", target_config, catalog=catalog, name="first")
        changed = conversations.changes(sb)
        pipe(tmp_path, config, "target-postgres", target_config, catalog=catalog, state=state, name="second")
        for table in CONVERSATION_COLUMNS:
            loaded, want = pg_conversation_rows(pg_schema, table), sandbox_conversation_rows(sb, table)
            assert set(loaded) == set(want), f"{table}: missing {sorted(set(want) - set(loaded))[:3]}"
            assert loaded == want, table
        closing = changed["closing"]["sid"]
        assert pg_query(f'SELECT state FROM "{pg_schema}".conversations WHERE sid = %s', closing) == [("closed",)]
