"""Stream-specific Twilio rules: retention clamps, account creation, live participants, conference statuses."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from twilio_sandbox import Sandbox

from tap_twilio.dates import format_iso, to_iso
from tests.conftest import FAST_RETRIES, discover, run_tap, select


def test_alerts_older_than_30_days_are_clamped_with_one_warning(tmp_path):
    with Sandbox(seed=41, subaccounts=0, days=60) as sb:
        config = sb.tap_config(start_date=format_iso(sb.now - dt.timedelta(days=90)), **FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"alerts"}))
        warnings = [
            line for line in run.stderr.splitlines() if "WARNING" in line and "alerts: Twilio keeps 30 days" in line
        ]
        assert len(warnings) == 1
        assert {r["sid"] for r in run.records["alerts"]} == {a["sid"] for a in sb.expected("alerts")}
        assert sb.stats.by_status[400] == 0


def test_each_account_starts_at_its_creation_day(tmp_path):
    with Sandbox(seed=42, subaccounts=1, days=20) as sb:  # usage before an account existed answers 404
        config = sb.tap_config(start_date=format_iso(sb.now - dt.timedelta(days=200)), **FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), {"usage_records", "calls"}))
        assert sb.stats.by_status[404] == 0
        assert {r["account_sid"] for r in run.records["usage_records"]} == set(sb.account_sids)
        created = {a["sid"]: to_iso(a["date_created"])[:10] for a in sb.expected("accounts")}
        for _, path in sb.stats.requests:
            if "/Calls.json" in path:  # nothing asked for before the account existed
                account = path.split("/Accounts/")[1][:34]
                assert parse_qs(urlsplit(path).query)["StartTime>"][0] >= created[account]


def test_conferences_of_every_status_and_participants_of_live_ones_only(sandbox, config, tmp_path):
    catalog = select(discover(tmp_path, config), {"conferences", "conference_participants"})
    run = run_tap(tmp_path, config, catalog=catalog)
    statuses = {r["status"] for r in run.records["conferences"]}
    assert statuses == {"init", "in-progress", "completed"}
    live = {r["sid"] for r in run.records["conferences"] if r["status"] != "completed"}
    participant_requests = [p for _, p in sandbox.stats.requests if "/Participants.json" in p]
    assert len(participant_requests) == len(live)
    assert {r["conference_sid"] for r in run.records["conference_participants"]} <= live
    assert len(run.records["conference_participants"]) == len(sandbox.expected("conference_participants"))


def test_number_types_are_requested_only_where_the_country_offers_them(sandbox, config, tmp_path):
    catalog = select(discover(tmp_path, config), {"available_phone_numbers_mobile"})
    run = run_tap(tmp_path, config, catalog=catalog)
    mobile_requests = [p for _, p in sandbox.stats.requests if "/Mobile.json" in p]
    offering = [c for c in sandbox.expected("available_phone_number_countries") if "mobile" in c["subresource_uris"]]
    assert len(mobile_requests) == len(offering) * len(sandbox.account_sids)
    assert sandbox.stats.by_status[404] == 0
    assert run.records["available_phone_numbers_mobile"]


def test_account_sids_restricts_every_stream_including_alerts(sandbox, config, tmp_path):
    sub = sandbox.account_sids[1]
    run = run_tap(tmp_path, {**config, "account_sids": [sub]})
    assert {r["sid"] for r in run.records["accounts"]} == {sub}
    for stream in ("messages", "calls", "usage_records", "account_balance", "keys", "alerts"):
        assert {r["account_sid"] for r in run.records[stream]} == {sub}, stream
    assert all(
        sandbox.main_account_sid not in path or path.endswith("Accounts.json?PageSize=1000")
        for _, path in sandbox.stats.requests
    )


def test_the_accounts_stream_writes_the_runs_one_listing_and_lists_nothing_again(sandbox, config, tmp_path):
    catalog = select(discover(tmp_path, config), {"accounts", "messages"})
    sandbox.reset_stats()
    run = run_tap(tmp_path, config, catalog=catalog)
    listings = [p for _, p in sandbox.stats.requests if p.split("?")[0] == "/2010-04-01/Accounts.json"]
    assert len(listings) == 1, "the stream's records are the run's listing (it used to be read ahead a second time)"
    assert {r["sid"] for r in run.records["accounts"]} == {a["sid"] for a in sandbox.expected("accounts")}
