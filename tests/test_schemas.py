"""The committed schemas are what tools/build_schemas.py makes from the vendored OpenAPI summary, and consistent."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"

# Field names whose type differs between streams because the meaning differs. Keep this short.
DIFFERENT_MEANINGS = {
    # Conversations: app-defined JSON kept as Twilio's text; Insights call summaries: Twilio's object of call flags
    "attributes": {"call_summaries"},
    # Insights call summaries: caller/callee objects (number, carrier, location); elsewhere a phone number or address
    "from": {"call_summaries"},
    "to": {"call_summaries"},
    # Verify attempts: an object {value, currency}; elsewhere an amount
    "price": {"verify_attempts"},
    # 2010 numbers: a map of booleans {voice, sms, mms, fax}; Messaging service numbers: the list of enabled ones
    "capabilities": {"messaging_service_phone_numbers"},
}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_schemas", ROOT / "tools" / "build_schemas.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _schemas() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(SCHEMAS.glob("*.json"))}


def _kind(prop: dict[str, Any]) -> tuple[str, ...]:
    return (*(t for t in prop["type"] if t != "null"), prop.get("format", ""))


def test_committed_schemas_are_what_the_generator_makes_from_the_vendored_specs():
    generator = _generator()
    assert generator.DEFAULT_SOURCE == ROOT / "vendor" / "twilio" / "twilio-endpoints.json"
    built = generator.build(generator.DEFAULT_SOURCE)
    assert built == _schemas()


def test_a_field_name_has_one_type_in_every_stream():
    kinds: dict[str, dict[tuple[str, ...], set[str]]] = defaultdict(lambda: defaultdict(set))
    for stream, schema in _schemas().items():
        for name, prop in schema["properties"].items():
            if stream not in DIFFERENT_MEANINGS.get(name, ()):
                kinds[name][_kind(prop)].add(stream)
    conflicts = {name: dict(by_kind) for name, by_kind in kinds.items() if len(by_kind) > 1}
    assert conflicts == {}


def test_the_allow_list_names_only_real_differences():
    schemas = _schemas()
    for name, streams in DIFFERENT_MEANINGS.items():
        for stream in streams:
            kind = _kind(schemas[stream]["properties"][name])
            others = {
                _kind(schema["properties"][name])
                for other, schema in schemas.items()
                if other not in streams and name in schema["properties"]
            }
            assert others
            assert kind not in others, (name, stream)


def test_every_field_is_nullable_and_every_record_carries_its_account():
    for stream, schema in _schemas().items():
        props = schema["properties"]
        assert all("null" in prop["type"] for prop in props.values()), stream
        if stream != "accounts":
            assert "account_sid" in props, stream


def test_child_records_carry_their_parent_keys():
    schemas = _schemas()
    parents = {
        "conversation_participants": ("chat_service_sid", "conversation_sid"),
        "conversation_messages": ("chat_service_sid", "conversation_sid"),
        "conversation_users": ("chat_service_sid",),
        "conversation_roles": ("chat_service_sid",),
        "studio_executions": ("flow_sid",),
        "studio_execution_steps": ("flow_sid", "execution_sid"),
        "messaging_service_phone_numbers": ("service_sid",),
        "conference_participant_summaries": ("conference_sid",),
        "sip_credentials": ("credential_list_sid",),
        "sip_ip_addresses": ("ip_access_control_list_sid",),
        "queue_members": ("queue_sid",),
        **{
            f"taskrouter_{name}": ("workspace_sid",)
            for name in ("workspaces", "activities", "task_channels", "task_queues", "workflows", "events")
        },
        "taskrouter_workers": ("workspace_sid",),
        "taskrouter_worker_channels": ("workspace_sid", "worker_sid"),
        "taskrouter_tasks": ("workspace_sid",),
        "taskrouter_task_reservations": ("workspace_sid", "task_sid"),
    }
    for stream, keys in parents.items():
        assert set(keys) <= set(schemas[stream]["properties"]), stream


def test_json_values_stay_json_and_secrets_stay_out():
    schemas = _schemas()
    assert schemas["conversation_roles"]["properties"]["permissions"]["type"] == ["array", "null"]
    assert schemas["studio_executions"]["properties"]["context"]["type"] == ["object", "null"]
    assert schemas["studio_flows"]["properties"]["definition"]["type"] == ["object", "null"]
    assert schemas["conversations"]["properties"]["links"]["type"] == ["object", "null"]
    assert "auth_token" not in schemas["accounts"]["properties"]
    assert schemas["pricing_voice_countries"]["properties"]["outbound_prefix_prices"]["type"] == ["array", "null"]
    assert schemas["monitor_events"]["properties"]["event_date"]["format"] == "date-time"
    # TaskRouter: event_data is an object; attributes and a workflow's configuration are the JSON text Twilio sends
    assert schemas["taskrouter_events"]["properties"]["event_data"]["type"] == ["object", "null"]
    assert schemas["taskrouter_events"]["properties"]["event_date_ms"]["type"] == ["integer", "null"]
    for stream in ("taskrouter_workers", "taskrouter_tasks"):
        assert schemas[stream]["properties"]["attributes"]["type"] == ["string", "null"]
    assert schemas["taskrouter_workflows"]["properties"]["configuration"]["type"] == ["string", "null"]
