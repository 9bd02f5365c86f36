"""Survive Twilio and bad input: retries, throttling, partial failures, clear errors, no leaked secrets."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest
from twilio_sandbox import Faults, Sandbox, ScriptedFault

from tests.conftest import FAST_RETRIES, discover, leaked_secrets, run_tap, select
from tests.exact import assert_exact, hold_clock


def record_keys(run):
    return {
        (stream, tuple(r.get(k) for k in run.schemas[stream]["key_properties"]))
        for stream, records in run.records.items()
        for r in records
    }


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or line.startswith("tap-twilio:")]


def test_a_sync_full_of_faults_emits_exactly_the_records_of_a_clean_sync(tmp_path):
    with Sandbox(seed=21, subaccounts=2, days=60, sizes={"messages": 400, "calls": 200}) as sb:
        hold_clock(sb)
        config = sb.tap_config(page_size=100, request_timeout_seconds=1.0, max_retries=16, **FAST_RETRIES)
        clean = run_tap(tmp_path, config)
        sb.faults = Faults(
            rate_429=0.10,
            rate_429_retry_after=0.5,
            rate_5xx=0.05,
            rate_reset=0.02,
            rate_stall=0.01,
            stall_seconds=2.0,
            seed=5,
        )
        sb.reset_stats()
        faulty = run_tap(tmp_path, config)
        assert_exact(sb, faulty.stdout, config["start_date"])  # every record of every stream, each as served
        assert record_keys(faulty) == record_keys(clean)
        for stream in clean.records:
            assert len(faulty.records[stream]) == len(clean.records[stream]), stream
        assert sum(sb.stats.faults.values()) > 20, sb.stats.faults
        summary = [line for line in faulty.stderr.splitlines() if "Requests:" in line][-1]
        assert int(re.search(r"retries: (\d+)", summary).group(1)) >= sum(sb.stats.faults.values()) * 0.8


@pytest.mark.parametrize("kind", ["html", "empty", "truncated", "502", "reset", "429-retry-after"])
def test_a_transient_bad_answer_is_retried(sandbox, config, tmp_path, kind):
    sandbox.faults = Faults(scripted=[ScriptedFault("/Messages.json", kind, times=2)])
    catalog = select(discover(tmp_path, config), {"messages"})
    run = run_tap(tmp_path, config, catalog=catalog)
    assert len(run.records["messages"]) == len(sandbox.expected("messages"))
    assert "Retrying /2010-04-01/Accounts/" in run.stderr


def test_retry_after_is_honoured(sandbox, config, tmp_path):
    sandbox.faults = Faults(scripted=[ScriptedFault("/Calls.json", "429-retry-after", times=1)])
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"calls"}))
    waits = [float(w) for w in re.findall(r"Retrying \S+/Calls.json in ([\d.]+)s", run.stderr)]
    assert waits and 0.0 <= waits[0] <= 1.0  # the sandbox asks for 0-1 s; our own backoff here is 0.01-0.05 s
    assert "HTTP 429, Twilio error 20429" in run.stderr


def test_when_retries_run_out_the_error_names_stream_account_and_path(sandbox, config, tmp_path):
    sub = sandbox.account_sids[1]
    sandbox.faults = Faults(scripted=[ScriptedFault(f"{sub}/Calls.json", "503", times=100)])
    run = run_tap(
        tmp_path, {**config, "max_retries": 2}, catalog=select(discover(tmp_path, config), {"calls"}), check=False
    )
    assert run.returncode == 1
    (line,) = [ln for ln in error_lines(run.stderr) if "Sync failed" in ln]
    assert "'calls'" in line and sub in line and f"/2010-04-01/Accounts/{sub}/Calls.json" in line
    assert "gave up" in line and "3 attempts" in line
    assert "Traceback" not in run.stderr
    # what was emitted before the failure resumes: the main account's calls are bookmarked
    states = [json.loads(line)["value"] for line in run.stdout.splitlines() if line.startswith('{"type":"STATE"')]
    assert states and states[-1]["bookmarks"]["calls"]["partitions"]


@pytest.mark.parametrize(
    ("kind", "message"),
    [("missing-list-key", "has no 'messages' list"), ("repeat-next", "repeated a next-page link")],
)
def test_a_malformed_page_is_a_clear_error_not_a_silent_gap_or_a_loop(sandbox, config, tmp_path, kind, message):
    sandbox.faults = Faults(scripted=[ScriptedFault("/Messages.json", kind, times=1)])
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"messages"}), check=False)
    assert run.returncode == 1
    assert any(message in line for line in error_lines(run.stderr)), run.stderr[-2000:]


def test_too_many_concurrent_requests_slow_the_tap_down(tmp_path):
    with Sandbox(seed=22, subaccounts=2, days=60, concurrency_limit=2, latency_ms=20) as sb:
        config = sb.tap_config(max_concurrency=8, page_size=50, **FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"messages", "calls"}))
        assert len(run.records["messages"]) == len(sb.expected("messages"))
        assert sb.stats.by_status[429] > 0
        assert sb.stats.max_in_flight <= 8
        summary = [line for line in run.stderr.splitlines() if "Requests:" in line][-1]
        assert int(re.search(r"throttled (\d+)", summary).group(1)) > 0


def test_a_429_halves_that_accounts_share_not_the_others(tmp_path):
    """The main account allows one request at a time (Twilio's limits are per account); the subaccounts, read with
    the same main credentials, keep their whole share while the main account is throttled."""
    with Sandbox(seed=41, subaccounts=2, days=30, latency_ms=60, sizes={"messages": 1500}) as sb:
        hold_clock(sb)
        main, max_concurrency = sb.main_account_sid, 8
        sb.account_concurrency_limits[main] = 1
        config = sb.tap_config(
            max_concurrency=max_concurrency,
            page_size=20,
            date_window_days=1,
            max_retries=40,
            backoff_base_seconds=0.1,
            backoff_max_seconds=0.4,
        )
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"messages"}))
        assert_exact(sb, run.stdout, config["start_date"])
        timeline = sb.stats.timeline  # (time, account, its requests in flight, status; 0 = began)
    throttled = [t for t, account, _, status in timeline if account == main and status == 429]
    assert len(throttled) > 3, "the main account's limit should have been hit"

    def most_in_flight(account: str, since: float) -> int:
        return max((n for t, a, n, status in timeline if a == account and status == 0 and t >= since), default=0)

    for sub in sb.account_sids[1:]:  # not halved: each reaches more than half the run's cap after the first 429
        assert most_in_flight(sub, throttled[0]) > max_concurrency // 2, sub
    assert most_in_flight(main, throttled[-1]) <= max_concurrency // 2  # the main account's share was cut


def test_requests_in_flight_never_exceed_max_concurrency(tmp_path):
    with Sandbox(seed=23, subaccounts=3, days=90, latency_ms=30) as sb:
        config = sb.tap_config(max_concurrency=3, page_size=100, **FAST_RETRIES)
        run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"messages", "message_media", "calls"}))
        assert sb.stats.max_in_flight == 3


def test_a_suspended_subaccount_is_skipped_with_one_warning(tmp_path):
    with Sandbox(seed=24, subaccounts=2, suspended_subaccounts=1, days=30) as sb:
        suspended = sb.account_sids[-1]
        config = sb.tap_config(**FAST_RETRIES)
        run = run_tap(tmp_path, config)
        warnings = [line for line in run.stderr.splitlines() if "WARNING" in line and suspended in line]
        assert len(warnings) == 1 and "suspended" in warnings[0]
        assert suspended not in {r["account_sid"] for r in run.records["messages"]}
        assert {r["account_sid"] for r in run.records["messages"]} == set(sb.account_sids[:-1])
        assert suspended in {r["sid"] for r in run.records["accounts"]}


def test_an_account_whose_resources_answer_403_is_skipped_and_the_others_complete(tmp_path):
    with Sandbox(seed=25, subaccounts=2, days=30) as sb:
        forbidden = sb.account_sids[1]
        sb.faults = Faults(scripted=[ScriptedFault(f"{forbidden}/Calls.json", "403", times=100)])
        config = sb.tap_config(**FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"calls", "messages"}))
        assert {r["account_sid"] for r in run.records["calls"]} == set(sb.account_sids) - {forbidden}
        assert {r["account_sid"] for r in run.records["messages"]} == set(sb.account_sids)
        skips = [line for line in run.stderr.splitlines() if "Skipping calls for account " + forbidden in line]
        assert len(skips) == 1


def test_a_standard_api_key_syncs_the_configured_account_and_skips_keys(sandbox, tmp_path):
    sid, secret = sandbox.api_keys["standard"]
    config = {**sandbox.tap_config(**FAST_RETRIES), "api_key_sid": sid, "api_key_secret": secret}
    del config["auth_token"]
    run = run_tap(tmp_path, config)
    assert {r["account_sid"] for r in run.records["messages"]} == {sandbox.main_account_sid}
    assert not run.records["accounts"] and not run.records["keys"]
    assert len([ln for ln in run.stderr.splitlines() if "cannot list accounts" in ln]) == 1
    assert secret not in run.stderr and secret not in run.stdout


def skipped(stderr: str) -> set[str]:
    """The stream and account of every 'Skipping <stream> for account <sid>' warning."""
    return set(re.findall(r"Skipping (\w+ for account \w+)", stderr))


def test_a_main_api_key_reads_each_subaccount_with_its_own_credentials(sandbox, tmp_path):
    """A main account's API key reaches only the main account's resources (the sandbox answers 403 to it on a
    subaccount's lists, as Twilio does), so the tap reads each subaccount with the credentials the account listing
    gives for it: every stream gets the same records as with the main auth token, and nothing is skipped."""
    sid, secret = sandbox.api_keys["main"]
    config = {**sandbox.tap_config(**FAST_RETRIES), "api_key_sid": sid, "api_key_secret": secret}
    del config["auth_token"]
    (tmp_path / "key").mkdir()
    (tmp_path / "token").mkdir()
    with_key = run_tap(tmp_path / "key", config)
    with_token = run_tap(tmp_path / "token", sandbox.tap_config(**FAST_RETRIES))
    assert skipped(with_key.stderr) == skipped(with_token.stderr)  # only the account without Voice Insights' features
    assert {r["account_sid"] for r in with_key.records["messages"]} == set(sandbox.account_sids)
    assert with_key.records["keys"]
    assert set(with_key.records) == set(with_token.records)
    for stream in with_token.records:
        assert sorted(with_key.keys(stream)) == sorted(with_token.keys(stream)), stream
    assert leaked_secrets(sandbox, with_key.stdout, with_key.stderr) == []


def test_no_secret_appears_in_output_or_debug_logs(sandbox, config, tmp_path):
    sandbox.faults = Faults(
        scripted=[ScriptedFault("/Calls.json", "401", times=1), ScriptedFault("/Messages.json", "500", times=1)]
    )
    run = run_tap(tmp_path, config, env={"TAP_TWILIO_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"})
    assert "DEBUG" in run.stderr
    assert leaked_secrets(sandbox, run.stdout) == [], "secret in output"
    assert leaked_secrets(sandbox, run.stderr) == [], "secret in logs"
    assert leaked_secrets(sandbox, *(json.dumps(state) for state in run.states)) == [], "secret in state"


def test_the_secret_check_finds_credentials_in_every_encoding(sandbox):
    sid, token = sandbox.main_account_sid, sandbox.main_auth_token
    key_sid, key_secret = sandbox.api_keys["main"]
    basic = base64.b64encode(f"{key_sid}:{key_secret}".encode()).decode()
    assert leaked_secrets(sandbox, f"DEBUG Authorization: Basic {basic}") != []
    assert leaked_secrets(sandbox, f"GET https://{sid}:{token}@api.twilio.com/") != []
    assert leaked_secrets(sandbox, "u=" + quote(f"{sid}:{token}", safe="")) != []
    assert leaked_secrets(sandbox, f"token={token}") != []
    assert leaked_secrets(sandbox, f"Authorization: Basic {base64.b64encode(sid.encode()).decode()}") == []


BAD_CONFIGS = [
    ({"account_sid": "AC123"}, "account_sid must be 'AC' followed by 32 hex characters"),
    ({"api_key_sid": "SKnothex", "api_key_secret": "x"}, "api_key_sid must be 'SK' followed by 32 hex characters"),
    ({"start_date": "last tuesday"}, "start_date must be an ISO-8601 date"),
    ({"date_window_days": 0}, "date_window_days must be a whole number, at least 1"),
    ({"date_window_days": -3}, "date_window_days must be a whole number, at least 1"),
    ({"page_size": 1001}, "page_size must be a whole number from 1 to 1000"),
    ({"page_size": 0}, "page_size must be a whole number from 1 to 1000"),
    ({"region": "mars1"}, "region must be one of"),
    ({"edge": "atlantis"}, "edge must be one of"),
    ({"api_url": "http://api.example.com"}, "api_url must use https"),
    ({"lookback_days": -1}, "lookback_days must be a number, at least 0"),
]


@pytest.mark.parametrize(("override", "message"), BAD_CONFIGS)
def test_bad_config_is_one_clear_error_before_any_output(sandbox, config, tmp_path, override, message):
    run = run_tap(tmp_path, {**config, **override}, check=False)
    assert run.returncode == 1
    assert run.stdout == ""
    assert any(message in line for line in error_lines(run.stderr)), run.stderr[-1500:]
    assert config["auth_token"] not in run.stderr
    assert sandbox.stats.total == 0, "nothing may be requested with a bad config"


def test_missing_credentials_are_reported(sandbox, config, tmp_path):
    bad = dict(config)
    del bad["auth_token"]
    run = run_tap(tmp_path, bad, check=False)
    assert run.returncode == 1
    assert any("set auth_token, or api_key_sid and api_key_secret" in ln for ln in error_lines(run.stderr))


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--state", None, "No such file"),
        ("--state", "{not json", "is not valid JSON"),
        ("--catalog", None, "No such file"),
        ("--catalog", "[1, 2]", "must hold a JSON object"),
        ("--state", '{"version": 3, "streams": []}', "unknown state format"),
        ("--state", '{"bookmarks": {"messages": "yesterday-ish"}}', "bookmark of stream 'messages' is not a date"),
    ],
)
def test_unreadable_state_or_catalog_is_one_clear_error(sandbox, config, tmp_path, option, content, message):
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    run = run_tap(tmp_path, config, args=(option, str(path)), check=False)
    assert run.returncode in {1, 2}  # 2: the command line itself is wrong (click's usage error)
    assert run.stdout == ""
    assert message in run.stderr, run.stderr[-1500:]
    assert "Traceback" not in run.stderr


def test_unknown_fields_from_twilio_pass_through_without_breaking_the_sync(sandbox, config, tmp_path):
    newest = sandbox.expected("messages")[0]
    sandbox.update_record("messages", newest["sid"], brand_new_field="hello", date_updated=newest["date_updated"])
    run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"messages"}))
    assert len(run.records["messages"]) == len(sandbox.expected("messages"))


def test_a_wrong_api_key_is_one_credentials_error(sandbox, tmp_path):
    sid, _secret = sandbox.api_keys["standard"]
    config = {**sandbox.tap_config(**FAST_RETRIES), "api_key_sid": sid, "api_key_secret": "wrong-secret"}
    del config["auth_token"]
    run = run_tap(tmp_path, config, check=False)
    assert run.returncode == 1
    assert [ln for ln in error_lines(run.stderr)] == [ln for ln in error_lines(run.stderr) if "rejected" in ln]
    assert len(error_lines(run.stderr)) == 1
    assert "api_key_sid and api_key_secret" in run.stderr
    assert "WARNING" not in run.stderr
