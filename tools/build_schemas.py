"""Regenerate schemas/<stream>.json from Twilio's OpenAPI summary (shared/twilio/twilio-endpoints.json).

Run: python tools/build_schemas.py [path/to/twilio-endpoints.json]
The output is committed; the tap never reads the OpenAPI spec at run time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "twilio" / "twilio-endpoints.json"

# stream name -> Twilio resource name in twilio-endpoints.json
RESOURCES = {
    "accounts": "accounts",
    "account_balance": "balance",
    "addresses": "addresses",
    "dependent_phone_numbers": "dependent_phone_numbers",
    "alerts": "alerts",
    "applications": "applications",
    "available_phone_number_countries": "available_phone_number_countries",
    "available_phone_numbers_local": "available_phone_numbers_local",
    "available_phone_numbers_mobile": "available_phone_numbers_mobile",
    "available_phone_numbers_toll_free": "available_phone_numbers_toll_free",
    "calls": "calls",
    "conferences": "conferences",
    "conference_participants": "conference_participants",
    "incoming_phone_numbers": "incoming_phone_numbers",
    "keys": "keys",
    "messages": "messages",
    "message_media": "message_media",
    "outgoing_caller_ids": "outgoing_caller_ids",
    "queues": "queues",
    "recordings": "recordings",
    "transcriptions": "transcriptions",
    "usage_records": "usage_records_daily",
    "usage_triggers": "usage_triggers",
}

# Twilio sends these as decimal strings ("-0.00750", "3"); the tap emits exact JSON numbers.
NUMERIC_STRINGS = {
    "account_balance": {"balance"},
    "available_phone_numbers_local": {"latitude", "longitude"},
    "available_phone_numbers_mobile": {"latitude", "longitude"},
    "available_phone_numbers_toll_free": {"latitude", "longitude"},
    "calls": {"duration", "price", "queue_time"},
    "messages": {"price", "num_segments", "num_media"},
    "recordings": {"duration", "price"},
    "transcriptions": {"duration", "price"},
    "usage_records": {"count", "usage", "price"},
    "usage_triggers": {"current_value", "trigger_value"},
}

# Secrets Twilio returns that must never reach a warehouse: left out of the schema and the records.
SECRETS = {"accounts": {"auth_token"}}

# Parent keys the tap adds to child records (Twilio leaves them out of some payloads).
PARENT_KEYS = {
    "dependent_phone_numbers": ("address_sid",),
    "available_phone_number_countries": ("account_sid",),
    "available_phone_numbers_local": ("account_sid", "country_code"),
    "available_phone_numbers_mobile": ("account_sid", "country_code"),
    "available_phone_numbers_toll_free": ("account_sid", "country_code"),
    "keys": ("account_sid",),
    "message_media": ("message_sid",),
    "conference_participants": ("conference_sid",),
}

DATE_TIME_FORMATS = {"date-time-rfc-2822", "date-time"}
STRING = {"type": ["string", "null"]}


def property_schema(stream: str, name: str, spec: dict) -> dict:
    """JSON schema of one property: nullable, no enums (Twilio adds values), exact numbers."""
    kind, fmt = spec.get("type"), spec.get("format")
    if name in NUMERIC_STRINGS.get(stream, ()) or kind == "number":
        return {"type": ["number", "null"]}
    if kind == "string" and fmt in DATE_TIME_FORMATS:
        return {"type": ["string", "null"], "format": "date-time"}
    if kind == "string" and fmt == "date":
        return {"type": ["string", "null"], "format": "date"}
    if kind in {"string", "integer", "boolean"}:
        return {"type": [kind, "null"]}
    if kind == "array":
        return {"type": ["array", "null"], "items": {}}
    return {"type": ["object", "null"]}


def build(source: Path) -> dict[str, dict]:
    """Every stream's schema, keyed by stream name."""
    resources = {r["name"]: r for r in json.loads(source.read_text())["resources"]}
    schemas = {}
    for stream, resource in RESOURCES.items():
        spec = resources[resource]["properties"]
        props = {
            name: property_schema(stream, name, prop)
            for name, prop in spec.items()
            if name not in SECRETS.get(stream, ())
        }
        links = (resources[resource].get("example_record") or {}).get("subresource_uris")
        if "subresource_uris" in props and isinstance(links, dict):
            # named links, so flattening can split them into columns (unknown ones still pass through)
            props["subresource_uris"]["properties"] = {key: STRING for key in sorted(links)}
        if stream == "usage_records":
            props["as_of"] = {"type": ["string", "null"], "format": "date-time"}
        for key in PARENT_KEYS.get(stream, ()):
            props.setdefault(key, STRING)
        schemas[stream] = {"type": "object", "properties": dict(sorted(props.items()))}
    return schemas


def main() -> None:
    """Write schemas/ from the OpenAPI summary."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    out = ROOT / "schemas"
    out.mkdir(exist_ok=True)
    for stream, schema in build(source).items():
        (out / f"{stream}.json").write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    main()
