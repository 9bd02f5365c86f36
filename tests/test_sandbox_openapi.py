"""The sandbox stays honest: every list it serves validates against the response schema in Twilio's OpenAPI specs.

Each list endpoint (2010 API and every product) is fetched from a running sandbox, one page with records, and checked
against its endpoint's 200-response schema in vendor/twilio: the envelope, every field name (none missing, none extra),
types, enums and sid patterns. OpenAPI 3.0 is turned into JSON Schema here: ``$ref`` resolved, ``nullable`` allows
null, ``x-twilio.overrideType`` (prices Twilio sends as text) wins over ``type``.
"""

from __future__ import annotations

import base64
import copy
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from twilio_sandbox import Sandbox

VENDOR = Path(__file__).resolve().parent.parent / "vendor" / "twilio"

# Every list endpoint the sandbox serves, by its name in twilio-endpoints.json, and the sandbox resource whose records
# fill the path's placeholders (None: only the account). Each must answer a page with records.
SERVED: dict[str, str | None] = {
    "accounts": None,
    "addresses": None,
    "dependent_phone_numbers": "dependent_phone_numbers",
    "applications": None,
    "available_phone_number_countries": None,
    "available_phone_numbers_local": "available_phone_numbers_local",
    "available_phone_numbers_mobile": "available_phone_numbers_mobile",
    "available_phone_numbers_toll_free": "available_phone_numbers_toll_free",
    "calls": None,
    "conferences": None,
    "conference_participants": "conference_participants",
    "incoming_phone_numbers": None,
    "keys": None,
    "signing_keys": None,
    "messages": None,
    "message_media": "message_media",
    "notifications": None,
    "outgoing_caller_ids": None,
    "queues": None,
    "queue_members": "queue_members",
    "recordings": None,
    "transcriptions": None,
    "usage_records_daily": None,
    "usage_triggers": None,
    "short_codes": None,
    "sip_domains": None,
    "sip_credential_lists": None,
    "sip_credentials": "sip_credentials",
    "sip_ip_access_control_lists": None,
    "sip_ip_addresses": "sip_ip_addresses",
    "alerts": None,
    "monitor_events": None,
    "conversation_services": None,
    "conversations": "conversations",
    "conversation_participants": "conversation_participants",
    "conversation_messages": "conversation_messages",
    "conversation_users": "conversation_users",
    "conversation_roles": "conversation_roles",
    "studio_flows": None,
    "studio_executions": "studio_executions",
    "studio_execution_steps": "studio_execution_steps",
    "verify_services": None,
    "verify_attempts": None,
    "messaging_services": None,
    "messaging_service_phone_numbers": "messaging_service_phone_numbers",
    "trunks": None,
    "pricing_voice_countries": None,
    "pricing_messaging_countries": None,
    "pricing_phone_number_countries": None,
    "call_summaries": None,
    "conference_summaries": None,
    "conference_participant_summaries": "conference_participant_summaries",
    "taskrouter_workspaces": None,
    **{
        f"taskrouter_{name}": f"taskrouter_{name}"
        for name in (
            "activities",
            "task_channels",
            "task_queues",
            "workers",
            "worker_channels",
            "workflows",
            "tasks",
            "task_reservations",
            "events",
        )
    },
}

# path placeholder -> field of the child record that names its parent
PLACEHOLDER_FIELDS = {
    "ChatServiceSid": "chat_service_sid",
    "ConversationSid": "conversation_sid",
    "FlowSid": "flow_sid",
    "ExecutionSid": "execution_sid",
    "ServiceSid": "service_sid",
    "ConferenceSid": "conference_sid",
    "MessageSid": "parent_sid",
    "CredentialListSid": "credential_list_sid",
    "IpAccessControlListSid": "ip_access_control_list_sid",
    "QueueSid": "queue_sid",
    "AddressSid": "address_sid",
    "WorkspaceSid": "workspace_sid",
    "WorkerSid": "worker_sid",
    "TaskSid": "task_sid",
}

# placeholder -> (sandbox resource, account) whose records name the parent, when the child record does not
FALLBACK = {"AddressSid": ("incoming_phone_numbers",)}

# query parameters a page needs to have records (Twilio's defaults hide some)
QUERY = {
    "conferences": "Status=completed",
    "call_summaries": "StartTime=29d&ProcessingState=all",
    "usage_records_daily": "StartDate=-3days",
    "taskrouter_events": "Minutes=43200",  # 30 days: without StartDate or Minutes, the last 15 minutes only
}


@cache
def endpoints() -> dict[str, dict[str, Any]]:
    doc = json.loads((VENDOR / "twilio-endpoints.json").read_text())
    return {r["name"]: r for r in doc["resources"]}


@cache
def spec(name: str) -> dict[str, Any]:
    return json.loads((VENDOR / name).read_text())  # type: ignore[no-any-return]


def to_json_schema(node: Any, root: dict[str, Any], *, seen: tuple[str, ...] = ()) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema; an object with properties allows no others."""
    if isinstance(node, list):
        return [to_json_schema(n, root, seen=seen) for n in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    ref = node.pop("$ref", None)
    if isinstance(ref, str) and ref not in seen:
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        return to_json_schema({**target, **node}, root, seen=(*seen, ref))
    nullable = node.pop("nullable", False)
    override = (node.pop("x-twilio", None) or {}).get("overrideType")
    if override:
        node["type"] = override
    for key in ("format", "description", "x-class-extra-annotation"):
        node.pop(key, None)  # formats (uri, date-time, phone-number) are shapes Twilio does not keep to either
    out = {k: to_json_schema(v, root, seen=seen) for k, v in node.items() if k != "properties"}
    if isinstance(node.get("properties"), dict):  # a map of names, not a schema
        out["properties"] = {k: to_json_schema(v, root, seen=seen) for k, v in node["properties"].items()}
        out.setdefault("additionalProperties", False)
    if nullable:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def response_schema(resource: dict[str, Any], *, detail: bool = False) -> dict[str, Any]:
    """The 200 response's schema; every envelope key of Twilio's example and every record field is required.

    Where Twilio's example record contradicts its spec (decimal text for a ``number``, ``""`` for an unset sid), the
    example is what the API sends, so both are accepted.
    """
    doc = spec(resource["spec"])
    path = resource["detail_path"] if detail else resource["list_path"]
    content = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    schema: dict[str, Any] = to_json_schema(content["schema"], doc)
    example = next(iter((content.get("examples") or {}).values()), {}).get("value") or {}
    schema["required"] = sorted(example) if example else sorted(schema["properties"])
    if "meta" in schema["properties"]:
        meta = schema["properties"]["meta"]
        meta["required"] = sorted(meta["properties"])
    key = None if detail else resource["list_key"]
    record = schema["properties"][key]["items"] if key else schema
    record["required"] = sorted(record["properties"])
    for name, prop in record["properties"].items():
        mismatch = (resource.get("example_type_mismatches") or {}).get(name)
        if mismatch or name in blank_in_examples(resource["spec"]):
            record["properties"][name] = {"anyOf": [prop, {"type": "string", "pattern": "^$" if not mismatch else ""}]}
    return schema


@cache
def blank_in_examples(spec_name: str) -> frozenset[str]:
    """Fields Twilio's example records of one spec show as "" (the 2010 API's unset application sids)."""
    return frozenset(
        name
        for r in endpoints().values()
        if r["spec"] == spec_name
        for name, value in (r.get("example_record") or {}).items()
        if value == ""
    )


def errors(schema: dict[str, Any], document: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def product_of(resource: dict[str, Any]) -> str:
    return str(resource["host"]).removeprefix("https://").split(".")[0]


def get(url: str, sid: str, token: str) -> Any:
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        raise AssertionError(f"{url}: {e.code} {e.read()!r}") from None


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=3) as sb:
        yield sb


def list_url(sb: Sandbox, name: str) -> str:
    resource = endpoints()[name]
    path = str(resource["list_path"]).replace("{AccountSid}", sb.main_account_sid)
    child = SERVED[name]
    if child is not None:
        records = sb.expected(child, sb.main_account_sid)
        assert records, f"the sandbox has no {child} for the main account"
        record = records[0]
        for param in resource["path_params"]:
            placeholder = param["name"]
            if placeholder == "AccountSid":
                continue
            if placeholder == "CountryCode":
                path = path.replace("{CountryCode}", str(record["iso_country"]))
                continue
            field = PLACEHOLDER_FIELDS[placeholder]
            if field not in record:  # Twilio leaves the parent out: the parent's sid from the record it belongs to
                owner = next(r for r in sb.expected(*FALLBACK[placeholder]) if r.get(field))
                record = {**record, field: owner[field]}
            path = path.replace("{" + placeholder + "}", str(record[field]))
    query = QUERY.get(name, "")
    return f"{sb.url}/{product_of(resource)}{path}?PageSize=5" + (f"&{query}" if query else "")


@pytest.mark.parametrize("name", sorted(SERVED))
def test_a_sandbox_page_is_what_twilio_specifies(sandbox: Sandbox, name: str) -> None:
    resource = endpoints()[name]
    document = get(list_url(sandbox, name), sandbox.main_account_sid, sandbox.main_auth_token)
    assert document[resource["list_key"]], f"{name}: empty page, nothing validated"
    assert errors(response_schema(resource), document) == []


@pytest.mark.parametrize(
    "name", ["pricing_voice_countries", "pricing_messaging_countries", "pricing_phone_number_countries"]
)
def test_a_pricing_country_is_what_twilio_specifies(sandbox: Sandbox, name: str) -> None:
    resource = endpoints()[name]
    url = f"{sandbox.url}/pricing{str(resource['detail_path']).replace('{IsoCountry}', 'GB')}"
    document = get(url, sandbox.main_account_sid, sandbox.main_auth_token)
    assert errors(response_schema(resource, detail=True), document) == []


def test_every_endpoint_of_the_products_we_sync_is_checked() -> None:
    products = {product_of(r) for r in endpoints().values() if r["name"] in SERVED}
    assert products == {
        "api",
        "monitor",
        "conversations",
        "studio",
        "verify",
        "messaging",
        "trunking",
        "insights",
        "pricing",
        "taskrouter",
    }


def test_a_wrong_record_fails_validation(sandbox: Sandbox) -> None:
    """The check can fail: a wrong sid, a wrong type, a missing and an unknown field, a broken envelope."""
    resource = endpoints()["conversations"]
    schema = response_schema(resource)
    good = get(list_url(sandbox, "conversations"), sandbox.main_account_sid, sandbox.main_auth_token)
    assert errors(schema, good) == []

    def broken(change: Any) -> list[str]:
        document = copy.deepcopy(good)
        change(document)
        return errors(schema, document)

    assert broken(lambda d: d["conversations"][0].update(sid="CH123"))  # sid pattern
    assert broken(lambda d: d["conversations"][0].update(chat_service_sid="MG" + "0" * 32))  # wrong prefix
    assert broken(lambda d: d["conversations"][0].update(attributes={"topic": "x"}))  # Twilio sends text
    assert broken(lambda d: d["conversations"][0].update(state="open"))  # not one of Twilio's states
    assert broken(lambda d: d["conversations"][0].pop("friendly_name"))  # missing field
    assert broken(lambda d: d["conversations"][0].update(updated_at="2024-01-01"))  # unknown field
    assert broken(lambda d: d["meta"].pop("next_page_url"))  # envelope
    assert broken(lambda d: d.update(next_page_uri=None))  # a 2010 envelope key on a product list

    calls = endpoints()["calls"]
    page = get(list_url(sandbox, "calls"), sandbox.main_account_sid, sandbox.main_auth_token)
    page["calls"][0]["price"] = 0.5  # Twilio's spec says price is text on the wire
    page["calls"][0]["start_time"] = 1700000000
    assert len(errors(response_schema(calls), page)) == 2
