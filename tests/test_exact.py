"""The shared exact comparison (tests/exact.py) finds every kind of difference a tap could make."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from twilio_sandbox import Sandbox

from tests.conftest import FAST_RETRIES, discover, run_tap, select
from tests.exact import assert_exact, committed, hold_clock

STREAMS = {"accounts", "calls", "messages", "message_media", "dependent_phone_numbers", "usage_records"}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, dict[str, Any], str]]:
    tmp_path = tmp_path_factory.mktemp("exact")
    with Sandbox(seed=1, subaccounts=1, days=20) as sb:
        hold_clock(sb)
        config = sb.tap_config(**FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), STREAMS))
        yield sb, config, run.stdout


def edit(stdout: str, stream: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> str:
    """The output with the first record of `stream` that has a price (if the stream has prices) changed (None:
    dropped)."""
    out, done = [], False
    for line in stdout.splitlines():
        message = json.loads(line)
        record = message.get("record", {})
        if (
            not done
            and message["type"] == "RECORD"
            and message["stream"] == stream
            and record.get("price", 0) is not None
        ):
            done = True
            changed = change(record)
            if changed is not None:
                out.append(json.dumps({**message, "record": changed}))
        else:
            out.append(line)
    return "\n".join(out)


def test_the_untouched_output_is_exact(synced):
    sb, config, stdout = synced
    assert set(assert_exact(sb, stdout, config["start_date"])) == STREAMS


TAMPERED = {
    "a price one digit off": ("calls", lambda r: {**r, "price": float(r["price"]) - 0.00001}),
    "a number left as text": ("calls", lambda r: {**r, "price": str(r["price"])}),
    "a timestamp left RFC-2822": ("messages", lambda r: {**r, "date_created": "Mon, 02 Jan 2006 15:04:05 +0000"}),
    "a timestamp in another zone": ("messages", lambda r: {**r, "date_sent": "2006-01-02T15:04:05-07:00"}),
    "a field dropped": ("messages", lambda r: {k: v for k, v in r.items() if k != "body"}),
    "a field added": ("messages", lambda r: {**r, "extra": "x"}),
    "a secret emitted": ("accounts", lambda r: {**r, "auth_token": "0" * 32}),
    "a record dropped": ("messages", lambda r: None),
    "a wrong parent key": ("message_media", lambda r: {**r, "message_sid": "MM" + "0" * 32}),
    "a wrong address of a dependent number": (
        "dependent_phone_numbers",
        lambda r: {**r, "address_sid": "AD" + "0" * 32},
    ),
    "a usage row's value of another moment": ("usage_records", lambda r: {**r, "as_of": "2000-01-01T00:00:00+00:00"}),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_every_kind_of_difference_is_found(synced, case):
    sb, config, stdout = synced
    stream, change = TAMPERED[case]
    with pytest.raises(AssertionError, match=stream):
        assert_exact(sb, edit(stdout, stream, change), config["start_date"])


def test_a_record_emitted_twice_is_found_unless_resumed_runs_are_compared(synced):
    sb, config, stdout = synced
    record = next(
        line for line in stdout.splitlines() if json.loads(line).get("stream") == "messages" and "RECORD" in line
    )
    twice = stdout.rstrip("\n") + "\n" + record
    with pytest.raises(AssertionError, match="more than once"):
        assert_exact(sb, twice, config["start_date"])
    assert_exact(sb, twice, config["start_date"], once=False)


def test_what_a_target_commits_of_a_killed_run_ends_at_its_last_state():
    lines = [
        '{"type":"SCHEMA","stream":"s"}',
        '{"type":"RECORD","stream":"s","record":{}}',
        '{"type": "STATE", "value": {}}',
        '{"type":"RECORD","stream":"s","record":{"a":1}}',
    ]
    assert committed("\n".join(lines)).splitlines() == lines[:3]
    assert committed(lines[1]) == ""


def test_the_comparison_reads_only_the_repository_and_the_sandbox():
    source = (Path(__file__).parent / "exact.py").read_text()
    assert "import tap_twilio" not in source and "from tap_twilio" not in source, (
        "the expected records must not be computed by the code under test"
    )
