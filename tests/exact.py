"""The one exact comparison of what the tap emitted with what the sandbox serves, by the README's conversion rules.

Written from the documentation, not from the tap's code (nothing of `tap_twilio` is imported): what the sandbox
serves is converted by the rules the README states ("## Streams"), and every emitted record must equal the converted
record field by field, including its type (numbers are read from the output as exact decimals):

- a timestamp (RFC-2822 of the 2010 API, ISO-8601 of the product APIs) becomes ISO-8601 UTC,
  `2024-05-01T13:45:00+00:00`; recognised by its value, so an unconverted timestamp in any field is a difference;
- a numeric string in a field the emitted schema types `number` or `integer` becomes that exact number, an empty
  one null;
- `accounts.auth_token` is dropped; nothing else is dropped or added, but
- parent keys: a key Twilio leaves out of a child's payload is added, `account_sid` as the account the list was read
  for, any other with a value the served record names (its `uri`/`url`, its country).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from twilio_sandbox import Faults, Sandbox
from twilio_sandbox.insights import call_summary, conference_summary, participant_summaries

RFC_2822 = re.compile(r"^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
KEPT_30_DAYS = {
    "call_summaries",
    "conference_summaries",
    "conference_participant_summaries",
    "monitor_events",
    "taskrouter_events",
    "alerts",
}
KEPT_BY = {"monitor_events": "event_date", "taskrouter_events": "event_date", "alerts": "date_created"}
SECRETS = {"accounts": {"auth_token"}}
ONCE_AS_MAIN = "pricing_"  # pricing lists are the same for every account: read once, as the main account
SAME_FOR_EVERY_ACCOUNT = {  # the sandbox serves one listing to every account; the tap keeps a copy per account
    "available_phone_number_countries",
    "available_phone_numbers_local",
    "available_phone_numbers_mobile",
    "available_phone_numbers_toll_free",
}

Key = tuple[Any, ...]


def decimal_records(stdout: str) -> dict[str, list[dict[str, Any]]]:
    """stream -> records of Singer output, numbers as exact decimals (a float would hide a rounding)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in stdout.splitlines():
        message = json.loads(line, parse_float=Decimal)
        if message["type"] == "RECORD":
            out[message["stream"]].append(message["record"])
    return out


def schemas_of(stdout: str) -> dict[str, dict[str, Any]]:
    """stream -> the SCHEMA message of Singer output."""
    out = {}
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            out[message["stream"]] = message
    return out


def iso_utc(value: str) -> str:
    """A Twilio timestamp in the one form the README documents."""
    if RFC_2822.match(value):
        parsed = parsedate_to_datetime(value)
    else:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _plain(value: Any) -> Any:
    """A served value as it reads back from JSON with exact decimals (floats are written as their repr)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _numeric(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return "number" in kinds or "integer" in kinds


def convert(stream: str, served: dict[str, Any], properties: dict[str, Any], account: str) -> dict[str, Any]:
    """A served record as the tap must emit it (parent keys absent from `served` are left for `compare`)."""
    out: dict[str, Any] = {}
    for name, value in served.items():
        if name in SECRETS.get(stream, ()):
            continue
        if isinstance(value, str) and (RFC_2822.match(value) or ISO_TIMESTAMP.match(value)):
            out[name] = iso_utc(value)
        elif isinstance(value, str) and _numeric(properties.get(name, {})):
            out[name] = Decimal(value) if value.strip() else None
        else:
            out[name] = _plain(value)
    if "account_sid" in properties:
        out.setdefault("account_sid", account)  # keys, signing keys, queue members: the account read for
    return out


def served(sb: Sandbox, stream: str, account: str | None) -> list[dict[str, Any]]:
    """What a full run reads of a stream for an account: deleted recordings too; of Insights summaries, Monitor
    alerts and events, and TaskRouter events what Twilio keeps from 30 days ago (less the tap's hour of margin)."""
    if stream == "recordings":
        return sb.expected(stream, account, include_soft_deleted=True)
    if stream not in KEPT_30_DAYS:
        return sb.expected(stream, account)
    now = sb.clock()
    floor = dt.datetime.fromtimestamp(now, dt.timezone.utc) - dt.timedelta(days=30, hours=-1)

    def kept(value: str | None) -> bool:
        return bool(value) and dt.datetime.fromisoformat(iso_utc(str(value))) >= floor

    if stream in KEPT_BY:
        return [r for r in sb.expected(stream, account) if kept(r[KEPT_BY[stream]])]
    insights = next(h for h in sb.products.handlers if "call_summaries" in h.resources())
    if not insights.enabled(sb.accounts_by_sid[str(account)]):
        return []  # no Voice Insights Advanced Features: skipped
    if stream == "call_summaries":
        summaries = [call_summary(c, now) for c in sb.expected("calls", account)]
        return [s for s in summaries if s and kept(s["start_time"])]
    out = []
    for conference in sb.expected("conferences", account):
        summary = conference_summary(conference, now)
        if kept(summary["create_time"]):
            out += [summary] if stream == "conference_summaries" else participant_summaries(conference, now)
    return out


def _served_by_account(sb: Sandbox, stream: str, start_date: str) -> list[tuple[str, dict[str, Any]]]:
    """(account the list is read for, served record) for every record a full run from start_date reads."""
    if stream == "accounts":
        return [(r["sid"], r) for r in sb.expected("accounts")]
    accounts = [sb.main_account_sid] if stream.startswith(ONCE_AS_MAIN) else list(sb.account_sids)
    out = []
    for account in accounts:
        rows = served(sb, stream, account)
        if stream == "usage_records":
            rows = [r for r in rows if r["start_date"] >= start_date[:10]]
        out += [(account, r) for r in rows]
    return out


def expected_records(sb: Sandbox, schema: dict[str, Any], start_date: str) -> dict[Key, list[dict[str, Any]]]:
    """Primary key -> the converted served record(s) with that key (more than one only if the sandbox repeats one)."""
    stream, key = schema["stream"], schema["key_properties"]
    properties = schema["schema"]["properties"]
    out: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for account, served in _served_by_account(sb, stream, start_date):
        record = convert(stream, served, properties, account)
        if stream in SAME_FOR_EVERY_ACCOUNT or stream.startswith(ONCE_AS_MAIN):
            record["account_sid"] = account
        if any(k not in record for k in key):
            continue  # a parent key the tap adds: `compare` checks it; such streams are keyed by their own fields
        out[tuple(record[k] for k in key)].append(record)
    return out


def _names_parent(served: dict[str, Any], value: Any) -> bool:
    """Whether a served record names `value` (a parent's sid in its uri, its country in iso_country, ...)."""
    if not isinstance(value, str) or not value:
        return False
    return any(isinstance(v, str) and (v == value or f"/{value}/" in v or f"/{value}." in v) for v in served.values())


def _listed_under(sb: Sandbox, stream: str, record: dict[str, Any], value: Any) -> bool:
    """Whether the sandbox lists `record` under the parent `value` (a child whose payload names no parent)."""
    lists = {"dependent_phone_numbers": "Addresses/{}/DependentPhoneNumbers.json"}
    if stream not in lists or not isinstance(value, str):
        return False
    url = f"{sb.url}/2010-04-01/Accounts/{record['account_sid']}/{lists[stream].format(value)}"
    auth = (sb.main_account_sid, sb.main_auth_token)
    faults, sb.faults = sb.faults, Faults()  # the test's faults are for the tap
    try:
        page = requests.get(url, auth=auth, params={"PageSize": 1000}, timeout=30).json()
    finally:
        sb.faults = faults
    return any(r.get("sid") == record.get("sid") for r in page.get(stream, []))


def compare(sb: Sandbox, stream: str, emitted: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """The differences between one emitted record and the converted served one (empty: equal)."""
    problems = []
    for name in sorted(set(emitted) | set(expected)):
        if name not in expected:
            value = emitted[name]
            if not _names_parent(expected, value) and not _listed_under(sb, stream, expected, value):
                problems.append(f"{name}: emitted {value!r}, which the served record does not name")
        elif name not in emitted:
            problems.append(f"{name}: missing, served {expected[name]!r}")
        elif type(emitted[name]) is not type(expected[name]) and not (
            isinstance(emitted[name], (int, Decimal)) and isinstance(expected[name], (int, Decimal))
        ):
            problems.append(f"{name}: emitted {emitted[name]!r}, served {expected[name]!r} (type)")
        elif emitted[name] != expected[name]:
            problems.append(f"{name}: emitted {emitted[name]!r}, served {expected[name]!r}")
    return [f"{stream} {expected.get('sid') or expected.get('uri') or ''}: {p}" for p in problems]


def assert_exact(
    sb: Sandbox,
    stdout: str,
    start_date: str,
    *,
    streams: Iterable[str] | None = None,
    every: bool = True,
    once: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    """Every emitted record of `streams` (default: every stream with a SCHEMA) equals the sandbox's record with its
    primary key, converted, and (`every`) every record a full run from start_date must read was emitted, once.

    With every=False (an incremental run, a killed run's committed part) only the first holds: the caller asserts
    which keys must be there; once=False allows a record to arrive more than once (output of resumed runs).
    Call it before changing the sandbox: records are compared with what it serves now.
    Returns the emitted records (exact decimals)."""
    schemas = schemas_of(stdout)
    emitted = decimal_records(stdout)
    names = list(schemas) if streams is None else list(streams)
    problems: list[str] = []
    for stream in names:
        schema = schemas[stream]
        expected = expected_records(sb, schema, start_date)
        key = schema["key_properties"]
        seen: dict[Key, int] = defaultdict(int)
        for record in emitted.get(stream, []):
            k = tuple(record.get(f) for f in key)
            seen[k] += 1
            candidates = expected.get(k)
            if not candidates:
                problems.append(f"{stream} {k}: emitted, but the sandbox serves no record with this key")
                continue
            diffs = [compare(sb, stream, record, c) for c in candidates]
            if all(diffs):
                problems += diffs[0]
        if every:
            missing = set(expected) - set(seen) - _expiring(stream, expected)
            repeated = [k for k, n in seen.items() if n > 1]
            if missing:
                problems.append(f"{stream}: {len(missing)} records not emitted, e.g. {sorted(missing, key=str)[:3]}")
            if repeated and once:
                problems.append(f"{stream}: {len(repeated)} keys emitted more than once, e.g. {repeated[:3]}")
            if not expected:
                problems.append(f"{stream}: the sandbox serves nothing, so the comparison proves nothing")
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:40])
    return emitted


def _expiring(stream: str, expected: dict[Key, list[dict[str, Any]]]) -> set[Key]:
    """Alerts Twilio keeps for 30 days: with the sandbox's clock held, the tap's own clock (the real one) may have
    moved a later run's 30-day floor past an alert the sandbox still serves; those are not required (a record a run
    emits is still compared)."""
    if stream != "alerts":
        return set()
    edge = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30, minutes=-10)
    return {
        k
        for k, records in expected.items()
        if all(dt.datetime.fromisoformat(r["date_created"]) < edge for r in records)
    }


def hold_clock(sb: Sandbox) -> None:
    """Stop the sandbox's clock at the current second, so what it serves during a run (today's usage, Insights'
    processing states) is what it serves when the test compares; call again before changing its data, so changes
    are stamped after the last run started."""
    sb.set_now(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))


def committed(stdout: str) -> str:
    """What a downstream target would have committed of a killed run: the output up to its last STATE."""
    lines = stdout.splitlines()
    last = max((i for i, line in enumerate(lines) if '"type":"STATE"' in line.replace(" ", "")), default=-1)
    return "\n".join(lines[: last + 1])
