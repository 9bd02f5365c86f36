"""Small pieces with exact contracts: dates, windows, Retry-After, the limiter, config and state checks."""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import threading
import time
from decimal import Decimal

import msgspec
import pytest

from tap_twilio import page as page_module
from tap_twilio.config import Settings
from tap_twilio.dates import format_iso, to_iso
from tap_twilio.http import RetryPolicy, retry_after_seconds
from tap_twilio.limits import AdaptiveLimiter
from tap_twilio.tap import TapTwilio, UsageError, migrate_state
from tap_twilio.validation import config_problems
from tap_twilio.windows import Window

UTC = dt.timezone.utc
SID = "AC" + "a" * 32


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("Fri, 18 Oct 2019 17:00:00 +0000", "2019-10-18T17:00:00+00:00"),
        ("Tue, 01 Jan 2019 00:00:00 +0000", "2019-01-01T00:00:00+00:00"),
        ("Thu, 29 Feb 2024 23:59:59 +0000", "2024-02-29T23:59:59+00:00"),
        ("Fri, 8 Oct 2019 17:00:00 +0200", "2019-10-08T15:00:00+00:00"),  # not the fixed form: slow path
        ("2015-07-30T20:00:00Z", "2015-07-30T20:00:00+00:00"),  # Monitor
        ("2019-06-24T22:32:49+00:00", "2019-06-24T22:32:49+00:00"),
        (None, None),
        ("", None),
    ],
)
def test_twilio_dates_become_iso_8601_utc(raw, iso):
    assert to_iso(raw) == iso


def test_the_fast_path_agrees_with_email_utils_for_every_day_of_a_year():
    day = dt.datetime(2024, 1, 1, 13, 5, 9, tzinfo=UTC)
    for _ in range(366):
        raw = email.utils.format_datetime(day).replace("-0000", "+0000")
        assert to_iso(raw) == format_iso(email.utils.parsedate_to_datetime(raw))
        day += dt.timedelta(days=1)


def test_an_impossible_date_is_an_error_not_a_wrong_value():
    with pytest.raises(ValueError):
        to_iso("Sat, 31 Feb 2024 00:00:00 +0000")


def test_a_streams_converter_types_dates_and_numbers_as_the_rules_say():
    messages = TapTwilio(config={"account_sid": SID, "auth_token": "x"}, parse_env_config=False).streams["messages"]
    convert = messages._convert  # type: ignore[attr-defined]
    raws = [
        "Fri, 18 Oct 2019 17:00:00 +0000",
        "Fri, 8 Oct 2019 17:00:00 +0200",
        "Fri, 8 Oct 2019 17:00:00 +0000",  # one character short of the fixed form: sliced, it would be wrong
        "Fri, 18 Oct 2019 17.00.00 +0000",
        "2015-07-30T20:00:00Z",
        None,
        "",
    ]
    for raw in raws:
        record = convert({"date_created": raw, "date_sent": raw, "price": "-0.00790", "num_media": "2"})
        assert record["date_created"] == record["date_sent"] == (to_iso(raw) if raw else raw)
        assert record["price"] == Decimal("-0.00790") and record["num_media"] == 2
    assert convert({"num_segments": "n/a", "error_code": 30003, "price": None}) == {
        "num_segments": None,  # not a number: null, with one warning
        "error_code": 30003,
        "price": None,
    }
    with pytest.raises(ValueError):
        convert({"date_updated": "Sat, 31 Feb 2024 00:00:00 +0000"})
    accounts = TapTwilio(config={"account_sid": SID, "auth_token": "x"}, parse_env_config=False).streams["accounts"]
    assert "auth_token" not in accounts._convert({"sid": SID, "auth_token": "secret"})  # type: ignore[attr-defined]


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 31


def waits(policy: RetryPolicy, failures: int) -> list[float]:
    """The waits backoff would take after `failures` failures without Retry-After."""
    generator = policy.waits()
    next(generator)
    return [generator.send(None) for _ in range(failures)]


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(max_retries=8, backoff_base=1.0, backoff_max=10.0, connect_timeout=1, read_timeout=1)
    runs = [waits(policy, 6) for _ in range(200)]
    for attempt, cap in ((0, 1.0), (1, 2.0), (2, 4.0), (5, 10.0)):
        delays = [run[attempt] for run in runs]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(set(delays)) > 100


def test_the_limiter_caps_in_flight_and_halves_on_429():
    limiter = AdaptiveLimiter(4, recovery_seconds=0.0)
    active, peak, lock = [0], [0], threading.Lock()

    def work():
        limiter.acquire()
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        limiter.release()

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 4 == limiter.max_in_flight
    limiter.throttle()
    assert limiter.limit == 2
    limiter.throttle()
    limiter.throttle()
    assert limiter.limit == 1


def test_windows_are_half_open_and_cut_at_utc_midnights():
    window = Window(dt.datetime(2024, 1, 1, 6, tzinfo=UTC), dt.datetime(2024, 1, 3, tzinfo=UTC))
    assert (window.start_iso, window.end_iso) == ("2024-01-01T06:00:00+00:00", "2024-01-03T00:00:00+00:00")


def tap(**config):
    return TapTwilio(config={"account_sid": SID, "auth_token": "x", **config}, parse_env_config=False)


def test_windows_of_a_stream_cover_start_to_sync_start_without_gaps():
    t = tap(start_date="2024-01-01T06:30:00Z", date_window_days=7)
    stream = t.streams["calls"]  # no retention clamp
    windows = stream.windows({"account_sid": SID})
    assert windows[0].start_iso == "2024-01-01T06:30:00+00:00"
    assert windows[0].end_iso == "2024-01-08T00:00:00+00:00"
    assert windows[-1].end == t.run.started_at
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    params = stream.window_params(windows[1])
    assert params == {"StartTime>": "2024-01-08", "StartTime<": "2024-01-14"}  # sent as StartTime>=…&StartTime<=…


def test_messages_older_than_twilio_retention_are_not_asked_for():
    t = tap(start_date="2020-01-01T00:00:00Z")
    first = t.streams["messages"].windows({"account_sid": SID})[0]
    assert dt.timedelta(days=399) < t.run.started_at - first.start < dt.timedelta(days=400)


def test_lookback_is_in_days_and_accepts_numeric_text():
    assert tap(lookback_days=2).run.settings.lookback == dt.timedelta(days=2)
    assert tap(lookback_days=0.5).run.settings.lookback == dt.timedelta(hours=12)
    assert tap(lookback_days="0.5").run.settings.lookback == dt.timedelta(hours=12)  # Meltano env: text


def test_region_and_edge_build_the_host():
    settings = tap(region="ie1", edge="dublin").run.settings
    assert settings.base_url("api") == "https://api.dublin.ie1.twilio.com"
    assert settings.base_url("conversations") == "https://conversations.dublin.ie1.twilio.com"
    assert tap(region="au1").run.settings.base_url("api") == "https://api.sydney.au1.twilio.com"
    assert tap().run.settings.base_url("api") == "https://api.twilio.com"
    assert tap().run.settings.base_url("monitor") == "https://monitor.twilio.com"


def test_one_template_reaches_every_product_and_the_old_overrides_win():
    settings = Settings.from_config(
        {"account_sid": SID, "auth_token": "x", "base_url_template": "http://127.0.0.1:9/{product}/"}
    )
    assert settings.base_url("studio") == "http://127.0.0.1:9/studio"
    assert settings.base_url("api") == "http://127.0.0.1:9/api"
    overridden = Settings.from_config({"account_sid": SID, "auth_token": "x", "api_url": "https://a.example/"})
    assert overridden.base_url("api") == "https://a.example"
    assert overridden.base_url("verify") == "https://verify.twilio.com"


def test_defaults_are_written_once_in_the_config_schema():
    settings = Settings.from_config({"account_sid": SID, "auth_token": "x"})
    schema = TapTwilio.config_jsonschema["properties"]
    assert settings.page_size == schema["page_size"]["default"]
    assert settings.max_concurrency == schema["max_concurrency"]["default"]
    assert settings.lookback == dt.timedelta(days=schema["lookback_days"]["default"])
    assert schema["page_size"]["maximum"] == 1000 and schema["account_sid"]["pattern"].startswith("^AC")
    assert schema["region"]["enum"]


def test_config_problems_never_echo_secrets():
    problems = config_problems({"account_sid": "nope", "auth_token": "SECRET-TOKEN", "page_size": 5000})
    assert problems and all("SECRET-TOKEN" not in p and "nope" not in p for p in problems)


def test_singer_io_state_migrates_and_unknown_state_is_refused():
    migrated = migrate_state({"bookmarks": {"messages": "2024-01-01T00:00:00Z"}, "currently_syncing": None})
    assert migrated == {"bookmarks": {"messages": {"replication_key_value": "2024-01-01T00:00:00+00:00"}}}
    wrapped = migrate_state({"value": {"bookmarks": {"calls": {"partitions": []}}}})
    assert wrapped == {"bookmarks": {"calls": {"partitions": []}}}
    with pytest.raises(UsageError):
        migrate_state({"streams": {}})


def test_other_clients_on_the_account_hold_back_recovery_after_a_429():
    limiter = AdaptiveLimiter(8, recovery_seconds=0.05)
    limiter.throttle()
    assert limiter.limit == 4
    for _ in range(6):
        limiter.observe(12)  # Twilio-Concurrent-Requests: 12 in flight for the account, none of them ours
        time.sleep(0.02)
        limiter.acquire()
        limiter.release()
    assert limiter.limit == 4
    time.sleep(0.12)
    limiter.acquire()
    limiter.release()
    assert limiter.limit > 4, "once only our requests remain, the cap is earned back"


NEXT = "/2010-04-01/Accounts/" + SID + "/Messages.json?PageSize=2&Page=1&PageToken=PASMb"
_QUOTED = '{"body": "say \\"next_page_uri\\": \\"/x\\"}", "sid": "SMa"}'  # the key's text in a string


@pytest.mark.parametrize(
    ("content", "link"),
    [
        # the envelope after the list, as Twilio and the sandbox sort it
        (b'{"end": 1, "messages": [{"sid": "SMa"}], "next_page_uri": "' + NEXT.encode() + b'", "page": 0}', NEXT),
        (b'{"messages": [], "next_page_uri": null, "page": 0, "uri": "/x"}', None),
        # the envelope before the list, and records that hold the key's text: the whole page is skimmed
        (b'{"next_page_uri": "' + NEXT.encode() + b'", "messages": [{"sid": "SMa"}]}', NEXT),
        (b'{"next_page_uri": null, "messages": [{"x": {"next_page_uri": "/nested"}}]}', None),
        (b'{"messages": [{"x": {"next_page_uri": "/nested"}}], "next_page_uri": "/real"}', "/real"),
        (b'{"next_page_uri": "/real", "messages": [' + _QUOTED.encode() + b"]}", "/real"),
        (b'{"messages": [' + _QUOTED.encode() + b'], "next_page_uri": null}', None),
        (b'{"next_page_uri": "/real", "messages": [{"body": "x \\"next_page_uri\\"", "n": 1}]}', "/real"),
        (b'{"next_page_uri": "/real", "messages": [{"body": "ends in \\"next_page_uri", "n": 1}]}', "/real"),
        # product APIs: meta after the list, before it, and a record with a "meta" of its own
        (
            b'{"users": [{"sid": "US1"}], "meta": {"next_page_url": "https://x/v1/Users?Page=1", "key": "users"}}',
            "https://x/v1/Users?Page=1",
        ),
        (b'{"meta": {"next_page_url": null, "key": "users"}, "users": [{"meta": {"next_page_url": "/no"}}]}', None),
        (b'  {"messages": [], "next_page_uri": "/after-space"}', "/after-space"),
        # the envelope before the list, as Twilio's OpenAPI schema orders it
        (b'{"end": 1, "next_page_uri": "/next", "page": 0, "uri": "/x", "messages": [{"sid": "SMa"}]}', "/next"),
        (b'{"end": 1, "next_page_uri": null, "uri": "/x", "messages": [{"next_page_uri": "/no"}]}', None),
        (b'{"next_page_uri": "/next", "uri": "/x?a=[1", "messages": []}', "/next"),  # a "[" in a string
        (b'{"uri": "/x?a=1,2", "next_page_uri": "/next", "messages": []}', "/next"),  # a comma in a string
        (b'{"next_page_uri": "/n", "uri": "/x,[", "messages": [{"next_page_uri": "/no"}]}', "/n"),
        (b'{"end": 1, "uri": "/x", "messages": [{"next_page_uri": "/no"}], "next_page_uri": "/yes"}', "/yes"),
    ],
)
def test_a_pages_next_link_is_read_from_its_envelope_wherever_the_envelope_is(content, link):
    assert page_module.next_link(content) == link == page_module.LINKS.decode(content).next()


@pytest.mark.parametrize(
    "content",
    [
        b"<html><body>502 Bad Gateway</body></html>",
        b"",
        b'{"messages": [{"sid": "SMa"}, {"sid": "SM',  # a cut body has lost its envelope
        b'[{"next_page_uri": null}]',
        b'{"messages": [], "next_page_uri": null} trailing',
    ],
)
def test_a_page_that_is_not_one_json_object_is_rejected_as_before(content):
    with pytest.raises(msgspec.DecodeError):
        page_module.next_link(content)


@pytest.mark.parametrize("order", ["list first (sorted, as the sandbox writes)", "envelope first (the OpenAPI order)"])
def test_a_pages_envelope_is_read_without_skimming_its_list(monkeypatch, order):
    """The worker reads a page's next link from its envelope, a few hundred bytes, not from its megabyte of records,
    whether the envelope comes before the list or after it."""
    records = ", ".join(f'{{"sid": "SM{i:032x}", "body": "hello, [world]"}}' for i in range(1000))
    listed = '"messages": [' + records + "]"
    envelope = '"end": 999, "first_page_uri": "/x?Page=0", "next_page_uri": "' + NEXT + '", "page": 0'
    first, second = (listed, envelope) if order.startswith("list") else (envelope, listed)
    content = ("{" + first + ", " + second + "}").encode()
    read: list[int] = []

    class Counting:
        def __init__(self, decoder: msgspec.json.Decoder) -> None:
            self.decoder = decoder

        def decode(self, data: bytes) -> object:
            read.append(len(data))
            return self.decoder.decode(data)

    monkeypatch.setattr(page_module, "LINKS", Counting(page_module.LINKS))
    monkeypatch.setattr(page_module, "HEAD", Counting(page_module.HEAD))
    assert page_module.next_link(content) == NEXT
    assert read and max(read) < 300, read
