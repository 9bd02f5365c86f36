"""A config's problems, one fix per line: the schema's constraints, then what no schema can say (pairs of
settings, URLs, dates)."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from singer_sdk.typing import extend_validator_with_defaults

from tap_twilio.config import CONFIG_SCHEMA
from tap_twilio.dates import parse_iso
from tap_twilio.shards import SHARD_PATTERN, Shard

if TYPE_CHECKING:
    from collections.abc import Mapping

HINTS = {  # what a user should do when a setting fails the schema (never echoes the value: it may be a secret)
    "account_sid": "must be 'AC' followed by 32 hex characters (your Twilio Console's Account SID)",
    "api_key_sid": "must be 'SK' followed by 32 hex characters",
    "account_sids": "must be a list of account SIDs ('AC' + 32 hex characters)",
    "shard": "must look like 3/16 (shard 3 of 16)",
    "start_date": "must be an ISO-8601 date, e.g. 2024-01-01T00:00:00Z",
    "base_url_template": "must contain {product}, e.g. https://{product}.twilio.com",
}
_VALIDATOR = extend_validator_with_defaults(Draft202012Validator)


def config_problems(config: dict[str, Any]) -> list[str]:
    """What is wrong with a config, one fix per line (fills in defaults, like the SDK's validation)."""
    problems = []
    for error in _VALIDATOR(CONFIG_SCHEMA, format_checker=FormatChecker()).iter_errors(config):
        name = str(error.absolute_path[0]) if error.absolute_path else ""
        if error.validator == "required":
            problems.append(f"{error.message.split(chr(39))[1]} is required")
        elif name:
            problems.append(f"{name} {HINTS.get(name) or _constraint(CONFIG_SCHEMA['properties'][name])}")
        else:
            problems.append(error.message)
    problems += _cross_field_problems(config)
    return list(dict.fromkeys(problems))


def _constraint(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return f"must be one of {', '.join(str(v) for v in prop['enum'])}"
    if "maximum" in prop:
        return f"must be a whole number from {prop['minimum']} to {prop['maximum']}"
    if "exclusiveMinimum" in prop:
        return f"must be a number more than {prop['exclusiveMinimum']}"
    if "minimum" in prop:
        kind = "a whole number" if "integer" in str(prop.get("type")) else "a number"
        return f"must be {kind}, at least {prop['minimum']}"
    return f"must be {prop.get('type')}"


def _cross_field_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    key = config.get("api_key_sid")
    if key and not config.get("api_key_secret"):
        problems.append("api_key_secret is required with api_key_sid")
    if not key and not config.get("auth_token"):
        problems.append("set auth_token, or api_key_sid and api_key_secret")
    shard = config.get("shard")
    if isinstance(shard, str) and re.match(SHARD_PATTERN, shard):
        try:
            Shard.parse(shard)
        except ValueError as exc:
            problems.append(str(exc))
    start = config.get("start_date")
    if isinstance(start, str):
        try:
            parse_iso(start)
        except ValueError:
            problems.append(f"start_date {HINTS['start_date']}")
    for name in ("api_url", "monitor_url", "base_url_template"):
        url = config.get(name)
        if not isinstance(url, str):
            continue
        parts = urlsplit(url.replace("{product}", "api"))
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            problems.append(f"{name} must be an http(s) URL")
        elif parts.scheme != "https" and not _is_local(parts.hostname):
            problems.append(f"{name} must use https (plain http is allowed only for localhost)")
    return problems


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
