"""Typed records (tap_twilio/typed.py): a page decodes into Structs of the schema's fields, the output is the same."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import msgspec
import pytest
from test_engine import sync_in_process
from twilio_sandbox import Sandbox

from tap_twilio import convert
from tap_twilio.page import Page
from tap_twilio.tap import TapTwilio
from tap_twilio.typed import RecordDecoder, TypedRecord
from tap_twilio.windows import Window
from tap_twilio.writer import BufferedMsgSpecWriter

CONFIG = {"account_sid": "AC" + "0" * 32, "auth_token": "x", "start_date": "2024-01-01T00:00:00Z"}
MESSAGE = {
    "account_sid": "AC" + "0" * 32,
    "api_version": "2010-04-01",
    "body": "hi",
    "date_created": "Fri, 18 Oct 2024 17:00:00 +0000",
    "date_sent": "Fri, 18 Oct 2024 17:00:01 +0000",
    "date_updated": "Fri, 18 Oct 2024 17:00:02 +0000",
    "direction": "outbound-api",
    "error_code": None,
    "error_message": None,
    "from": "+15005550006",
    "messaging_service_sid": None,
    "num_media": "0",
    "num_segments": "1",
    "price": "-0.00750",
    "price_unit": "USD",
    "sid": "SM" + "1" * 32,
    "status": "delivered",
    "subresource_uris": {"media": "/2010-04-01/Accounts/AC/Messages/SM/Media.json"},
    "to": "+15005550007",
    "uri": "/2010-04-01/Accounts/AC/Messages/SM.json",
}


def page_of(*records: dict[str, Any]) -> Page:
    return Page(
        "https://api.twilio.com/x", content=json.dumps({"messages": list(records), "next_page_uri": None}).encode()
    )


def written(stream: Any, records: list[Any]) -> list[dict[str, Any]]:
    writer = BufferedMsgSpecWriter()
    writer.write_records("messages", records, None)
    lines = writer.take_pending().splitlines()  # (nothing left to write out at exit)
    return [json.loads(line)["record"] for line in lines]


def test_every_stream_writes_the_same_messages_typed_as_read_into_dicts(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    decoded: Counter[tuple[str, bool]] = Counter()
    decode = RecordDecoder.decode

    def counted(self: RecordDecoder, content: bytes) -> list[Any] | None:
        records = decode(self, content)
        decoded[self.record_type.__name__.removesuffix("_record"), records is not None] += 1
        return records

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with Sandbox(seed=3, days=12, subaccounts=1, now=now - dt.timedelta(minutes=1)) as sb:
        config = sb.tap_config()
        monkeypatch.setattr(RecordDecoder, "decode", counted)
        typed = sync_in_process(config, capsysbinary, now)
        with monkeypatch.context() as patched:  # typed, converted by the generated Python, not the C converter
            patched.setattr(convert, "speedups", None)
            typed_python = sync_in_process(config, capsysbinary, now)
        monkeypatch.setattr(RecordDecoder, "decode", lambda self, content: None)
        as_dicts = sync_in_process(config, capsysbinary, now)
    # STATE is written when a checkpoint finds it due, which depends on timing: its last value must agree
    for other in (as_dicts, typed_python):
        assert [m for m in typed if m["type"] != "STATE"] == [m for m in other if m["type"] != "STATE"]
        assert [m for m in typed if m["type"] == "STATE"][-1] == [m for m in other if m["type"] == "STATE"][-1]
    typed_streams = {stream for (stream, ok), _ in decoded.items() if ok}
    written_streams = {m["stream"] for m in typed if m["type"] == "RECORD"}
    # the busy lists, parents and children alike, were typed; a page the sandbox fills with a field our schema
    # does not name (none today) would have been read as dicts
    assert {"messages", "calls", "message_media", "conference_participants", "usage_records"} <= typed_streams
    assert len(typed_streams) >= len(written_streams) // 2, sorted(written_streams - typed_streams)
    assert not {stream for (stream, ok), _ in decoded.items() if not ok}


def typed_or_not(monkeypatch: pytest.MonkeyPatch, stream: Any, typed: bool) -> None:
    monkeypatch.setattr(type(stream), "typed_records", property(lambda self: typed))


def test_a_page_with_a_field_the_schema_does_not_name_is_read_as_dicts_and_the_field_passes_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream: Any = TapTwilio(config=CONFIG, parse_env_config=False).streams["messages"]
    typed_or_not(monkeypatch, stream, True)
    window = Window(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    typed = stream.records_of(page_of(MESSAGE, {**MESSAGE, "sid": "SM" + "2" * 32}))
    assert [type(r).__name__ for r in typed] == ["messages_record"] * 2
    newer = stream.records_of(page_of(MESSAGE, {**MESSAGE, "brand_new": 7}))
    assert [type(r) for r in newer] == [dict, dict]
    typed_or_not(monkeypatch, stream, False)
    as_dicts = stream.records_of(page_of(MESSAGE, {**MESSAGE, "sid": "SM" + "2" * 32}))
    assert [type(r) for r in as_dicts] == [dict, dict]
    unit = stream.units({"account_sid": CONFIG["account_sid"]})[0]
    unit = type(unit)(unit.context, window, unit.lists, True)
    out = [written(stream, stream._keep(records, unit, unit.context, set())) for records in (typed, newer, as_dicts)]
    assert out[0] == out[2]
    assert isinstance(typed[0].account_sid, msgspec.Raw), "the partition's key is present: not decoded to see that"
    assert out[0][0] == {
        **MESSAGE,
        "date_created": "2024-10-18T17:00:00+00:00",
        "date_sent": "2024-10-18T17:00:01+00:00",
        "date_updated": "2024-10-18T17:00:02+00:00",
        "num_media": 0,
        "num_segments": 1,
        "price": -0.0075,
    }
    assert out[1][1]["brand_new"] == 7 and out[1][0] == out[0][0]


def test_typed_records_without_a_filter_date_are_kept_once_per_key_as_dicts_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream: Any = TapTwilio(config=CONFIG, parse_env_config=False).streams["messages"]
    window = Window(dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc))
    unit = stream.units({"account_sid": CONFIG["account_sid"]})[0]
    unit = type(unit)(unit.context, window, unit.lists, True)
    queued = {k: v for k, v in MESSAGE.items() if k != "date_sent"}  # absent, and null below
    late = {**MESSAGE, "sid": "SM" + "3" * 32, "date_sent": "Fri, 18 Oct 2030 17:00:01 +0000"}  # after the window
    kinds = []
    for typed in (True, False):
        typed_or_not(monkeypatch, stream, typed)
        seen: set[Any] = set()
        pages = [page_of(MESSAGE, queued, {**queued, "sid": "SM" + "4" * 32, "date_sent": None}, late) for _ in "ab"]
        kept = [stream._keep(stream.records_of(page), unit, unit.context, seen) for page in pages]
        kinds.append([[written(stream, [r])[0]["sid"][-1] for r in records] for records in kept])
    assert kinds[0] == kinds[1] == [["1", "1", "4"], ["1"]]


def test_a_typed_record_reads_like_a_dict_and_an_absent_field_stays_absent() -> None:
    decoder = RecordDecoder("messages", "messages", ["sid", "from", "keys", "date_sent"])
    records = decoder.decode(json.dumps({"messages": [{"sid": "SM1", "from": "+1", "keys": None}]}).encode())
    assert records is not None
    record = records[0]
    assert isinstance(record, TypedRecord)
    assert record["from"] == "+1" and record.get("keys", 5) is None and record.get("date_sent", 5) == 5
    assert "sid" in record and "date_sent" not in record and "nope" not in record
    assert record.keys() == ["sid", "from", "keys"] and dict(record.items()) == {
        "sid": "SM1",
        "from": "+1",
        "keys": None,
    }
    assert record.setdefault("date_sent", "x") == "x" and record["date_sent"] == "x"
    with pytest.raises(KeyError):
        record["nope"] = 1
    with pytest.raises(KeyError):
        record["nope"]
    records = decoder.decode(json.dumps({"messages": [{"sid": "SM1"}]}).encode())
    assert records is not None
    assert msgspec.json.decode(msgspec.json.encode(records[0])) == {"sid": "SM1"}
    assert decoder.decode(b'{"messages": [{"sid": "SM1", "other": 1}]}') is None  # a field the schema lacks
    assert decoder.decode(b'{"meta": {"key": "messages"}}') is None  # no list where it is expected: dicts say why


def test_fields_the_hot_path_does_not_read_pass_through_as_twilios_json_text_and_read_like_a_dict() -> None:
    decoder = RecordDecoder(
        "messages", "messages", ["sid", "body", "links", "num", "gone", "date_sent"], frozenset({"date_sent"})
    )
    content = (
        b'{"messages": [{"sid": "SM1", "body": "caf\\u00e9 \\"q\\"", "links": {"media": "/M.json"}, "num": 1.50,'
        b' "gone": null, "date_sent": "Fri, 18 Oct 2024 17:00:01 +0000"}]}'
    )
    records = decoder.decode(content)
    assert records is not None
    record = records[0]
    assert record.raw == {"sid", "body", "links", "num", "gone"}
    assert isinstance(record.body, msgspec.Raw) and bytes(record.body) == b'"caf\\u00e9 \\"q\\""'
    assert record.date_sent == "Fri, 18 Oct 2024 17:00:01 +0000"  # built: the converter reads it by attribute
    # encoded as Twilio sent it: the same JSON as the dict path writes
    assert msgspec.json.decode(msgspec.json.encode(record)) == json.loads(content)["messages"][0]
    assert record.keys() == ["sid", "body", "links", "num", "gone", "date_sent"]
    assert isinstance(record.sid, msgspec.Raw)  # listing the keys decodes nothing
    getter = record.getter("links")
    assert getter(record) == {"media": "/M.json"}
    assert isinstance(record.getter("sid", raw=True)(record), msgspec.Raw)
    assert record["body"] == 'caf\u00e9 "q"' and record.body == 'caf\u00e9 "q"'  # decoded once, then kept
    assert record.get("gone", 5) is None and "gone" in record and record["num"] == 1.5
    record["links"]["media"] = "/N.json"  # a nested value read like a dict's is the record's own
    assert msgspec.json.decode(msgspec.json.encode(record))["links"] == {"media": "/N.json"}
