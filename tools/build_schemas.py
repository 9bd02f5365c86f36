"""Regenerate schemas/<stream>.json from Twilio's OpenAPI summary (vendor/twilio/twilio-endpoints.json).

Run: python tools/build_schemas.py [path/to/twilio-endpoints.json]
Reads only this repository; the output is committed; the tap never reads the OpenAPI spec at run time.
A new stream is one row in STREAMS (plus, if Twilio sends numbers as text, its fields in `numeric`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT / "vendor" / "twilio" / "twilio-endpoints.json"


@dataclass(frozen=True, kw_only=True)
class Stream:
    """How one stream's schema derives from one Twilio list in twilio-endpoints.json."""

    resource: str  # the list's name in twilio-endpoints.json
    numeric: tuple[str, ...] = ()  # Twilio sends these as decimal strings ("-0.00750", "3"): exact JSON numbers
    parent_keys: tuple[str, ...] = ()  # keys the tap adds to each record (Twilio leaves them out of some payloads)
    secrets: tuple[str, ...] = ()  # returned by Twilio, never written to a warehouse: left out
    detail: bool = False  # records are the per-item detail endpoint's (pricing countries), not the list's
    extra: tuple[tuple[str, str], ...] = ()  # (field, "date-time") the tap adds


STREAMS: dict[str, Stream] = {
    # --- 2010 API
    "accounts": Stream(resource="accounts", secrets=("auth_token",)),
    "account_balance": Stream(resource="balance", numeric=("balance",)),
    "addresses": Stream(resource="addresses"),
    "dependent_phone_numbers": Stream(resource="dependent_phone_numbers", parent_keys=("address_sid",)),
    "applications": Stream(resource="applications"),
    "available_phone_number_countries": Stream(
        resource="available_phone_number_countries", parent_keys=("account_sid",)
    ),
    "available_phone_numbers_local": Stream(
        resource="available_phone_numbers_local",
        numeric=("latitude", "longitude"),
        parent_keys=("account_sid", "country_code"),
    ),
    "available_phone_numbers_mobile": Stream(
        resource="available_phone_numbers_mobile",
        numeric=("latitude", "longitude"),
        parent_keys=("account_sid", "country_code"),
    ),
    "available_phone_numbers_toll_free": Stream(
        resource="available_phone_numbers_toll_free",
        numeric=("latitude", "longitude"),
        parent_keys=("account_sid", "country_code"),
    ),
    "calls": Stream(resource="calls", numeric=("duration", "price", "queue_time")),
    "conferences": Stream(resource="conferences"),
    "conference_participants": Stream(
        resource="conference_participants", numeric=("queue_time",), parent_keys=("conference_sid",)
    ),
    "incoming_phone_numbers": Stream(resource="incoming_phone_numbers"),
    "keys": Stream(resource="keys", parent_keys=("account_sid",)),
    "messages": Stream(resource="messages", numeric=("price", "num_segments", "num_media")),
    "message_media": Stream(resource="message_media", parent_keys=("message_sid",)),
    "notifications": Stream(resource="notifications", numeric=("error_code",)),
    "outgoing_caller_ids": Stream(resource="outgoing_caller_ids"),
    "queues": Stream(resource="queues"),
    "queue_members": Stream(resource="queue_members", parent_keys=("account_sid", "queue_sid")),
    "recordings": Stream(resource="recordings", numeric=("duration", "price")),
    "short_codes": Stream(resource="short_codes"),
    "signing_keys": Stream(resource="signing_keys", parent_keys=("account_sid",)),
    "sip_domains": Stream(resource="sip_domains"),
    "sip_credential_lists": Stream(resource="sip_credential_lists"),
    "sip_credentials": Stream(resource="sip_credentials", parent_keys=("credential_list_sid",)),
    "sip_ip_access_control_lists": Stream(resource="sip_ip_access_control_lists"),
    "sip_ip_addresses": Stream(resource="sip_ip_addresses", parent_keys=("ip_access_control_list_sid",)),
    "transcriptions": Stream(resource="transcriptions", numeric=("duration", "price")),
    "usage_records": Stream(
        resource="usage_records_daily", numeric=("count", "usage", "price"), extra=(("as_of", "date-time"),)
    ),
    "usage_triggers": Stream(resource="usage_triggers", numeric=("current_value", "trigger_value")),
    # --- Monitor v1
    "alerts": Stream(resource="alerts", numeric=("error_code",)),
    "monitor_events": Stream(resource="monitor_events"),
    # --- Conversations v1: every service, read with each account's own credentials
    "conversation_services": Stream(resource="conversation_services"),
    "conversations": Stream(resource="conversations"),
    "conversation_participants": Stream(
        resource="conversation_participants", parent_keys=("chat_service_sid", "conversation_sid")
    ),
    "conversation_messages": Stream(
        resource="conversation_messages", parent_keys=("chat_service_sid", "conversation_sid")
    ),
    "conversation_users": Stream(resource="conversation_users", parent_keys=("chat_service_sid",)),
    "conversation_roles": Stream(resource="conversation_roles", parent_keys=("chat_service_sid",)),
    # --- Studio v2
    "studio_flows": Stream(resource="studio_flows"),
    "studio_executions": Stream(resource="studio_executions", parent_keys=("flow_sid",)),
    "studio_execution_steps": Stream(resource="studio_execution_steps", parent_keys=("flow_sid", "execution_sid")),
    # --- Verify v2, Messaging v1, Trunking v1
    "verify_services": Stream(resource="verify_services"),
    "verify_attempts": Stream(resource="verify_attempts"),
    "messaging_services": Stream(resource="messaging_services"),
    "messaging_service_phone_numbers": Stream(resource="messaging_service_phone_numbers", parent_keys=("service_sid",)),
    "trunks": Stream(resource="trunks"),
    # --- Pricing: the same for every account, so read once per run with the configured (main) account's
    # credentials; Twilio's payload has no account_sid: the tap adds that account's sid (key stays iso_country)
    "pricing_voice_countries": Stream(resource="pricing_voice_countries", detail=True, parent_keys=("account_sid",)),
    "pricing_messaging_countries": Stream(
        resource="pricing_messaging_countries", detail=True, parent_keys=("account_sid",)
    ),
    "pricing_phone_number_countries": Stream(
        resource="pricing_phone_number_countries", detail=True, parent_keys=("account_sid",)
    ),
    # --- TaskRouter v1: per workspace; attributes, configuration and addons stay the JSON text Twilio sends
    "taskrouter_workspaces": Stream(resource="taskrouter_workspaces", parent_keys=("workspace_sid",)),
    "taskrouter_activities": Stream(resource="taskrouter_activities"),
    "taskrouter_task_channels": Stream(resource="taskrouter_task_channels"),
    "taskrouter_task_queues": Stream(resource="taskrouter_task_queues"),
    "taskrouter_workers": Stream(resource="taskrouter_workers"),
    "taskrouter_worker_channels": Stream(resource="taskrouter_worker_channels"),
    "taskrouter_workflows": Stream(resource="taskrouter_workflows"),
    "taskrouter_tasks": Stream(resource="taskrouter_tasks"),
    "taskrouter_task_reservations": Stream(resource="taskrouter_task_reservations"),
    "taskrouter_events": Stream(resource="taskrouter_events"),
    # --- Voice Insights v1
    "call_summaries": Stream(resource="call_summaries"),
    "conference_summaries": Stream(resource="conference_summaries"),
    "conference_participant_summaries": Stream(
        resource="conference_participant_summaries", parent_keys=("conference_sid",)
    ),
}

# One type per field name across all streams (tests/test_schemas.py checks it). These names mean the same number
# everywhere but Twilio sends text in some lists and JSON numbers in others: "number" in every stream, and the tap
# turns numeric text into exact numbers (an int Twilio sends as an int stays an int).
NUMBER_EVERYWHERE = frozenset({"duration", "error_code", "queue_time"})

DATE_TIME_FORMATS = {"date-time-rfc-2822", "date-time"}
STRING = {"type": ["string", "null"]}


def property_schema(name: str, spec: dict[str, Any], numeric: tuple[str, ...]) -> dict[str, Any]:
    """JSON schema of one property: nullable, no enums (Twilio adds values), exact numbers."""
    kind, fmt = spec.get("type"), spec.get("format")
    if name in numeric or name in NUMBER_EVERYWHERE or kind == "number":
        return {"type": ["number", "null"]}
    if kind == "string" and fmt in DATE_TIME_FORMATS:
        return {"type": ["string", "null"], "format": "date-time"}
    if kind == "string" and fmt == "date":
        return {"type": ["string", "null"], "format": "date"}
    if kind in {"string", "integer", "boolean"}:
        return {"type": [kind, "null"]}
    if kind == "array":
        return {"type": ["array", "null"], "items": {}}
    return {"type": ["object", "null"]}  # objects, and the spec's free-form JSON (no type): kept as JSON


def stream_schema(stream: Stream, resource: dict[str, Any]) -> dict[str, Any]:
    """One stream's schema from its twilio-endpoints.json entry."""
    spec = resource["detail_properties"] if stream.detail else resource["properties"]
    props = {
        name: property_schema(name, prop, stream.numeric) for name, prop in spec.items() if name not in stream.secrets
    }
    example = resource.get("example_record") or {}
    for link_field in ("subresource_uris", "links"):
        links = example.get(link_field)
        if link_field in props and isinstance(links, dict) and links:
            # named links, so flattening can split them into columns (unknown ones still pass through)
            props[link_field]["properties"] = {key: STRING for key in sorted(links)}
    for name, fmt in stream.extra:
        props[name] = {"type": ["string", "null"], "format": fmt}
    for key in stream.parent_keys:
        props.setdefault(key, STRING)
    return {"type": "object", "properties": dict(sorted(props.items()))}


def build(source: Path) -> dict[str, dict[str, Any]]:
    """Every stream's schema, keyed by stream name."""
    resources = {r["name"]: r for r in json.loads(source.read_text())["resources"]}
    return {name: stream_schema(stream, resources[stream.resource]) for name, stream in STREAMS.items()}


def main() -> None:
    """Write schemas/ from the OpenAPI summary."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    out = ROOT / "schemas"
    out.mkdir(exist_ok=True)
    for stream, schema in build(source).items():
        (out / f"{stream}.json").write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    main()
