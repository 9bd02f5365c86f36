"""The sandbox's product APIs: one port for every product, per-account credentials, page caps, filters, mutations."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from twilio_sandbox import Sandbox
from twilio_sandbox.products import ProductError

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=5, now=NOW) as sandbox:
        yield sandbox


def get(sb: Sandbox, path: str, sid: str | None = None, token: str | None = None) -> tuple[int, Any]:
    sid = sid or sb.main_account_sid
    token = token or sb.main_auth_token
    url = path if path.startswith("http") else sb.url + path
    auth = base64.b64encode(f"{sid}:{token}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def read_all(sb: Sandbox, path: str, key: str, sid: str | None = None, token: str | None = None) -> list[Any]:
    records: list[Any] = []
    url: str | None = path
    while url:
        status, doc = get(sb, url, sid, token)
        assert status == 200, doc
        assert doc["meta"]["key"] == key
        records += doc[key]
        url = doc["meta"]["next_page_url"]
    return records


def sub(sb: Sandbox, index: int) -> tuple[str, str]:
    account = sb.accounts[index]
    return account.sid, account.record["auth_token"]


def test_every_page_of_every_service_gives_exactly_the_expected_conversations(sb: Sandbox) -> None:
    services = read_all(sb, "/conversations/v1/Services", "services")
    assert len(services) == 3
    got = []
    for service in services:
        got += read_all(sb, f"/conversations/v1/Services/{service['sid']}/Conversations?PageSize=7", "conversations")
    assert sorted(got, key=lambda r: r["sid"]) == sorted(
        sb.expected("conversations", sb.main_account_sid), key=lambda r: r["sid"]
    )


def test_a_product_answers_for_the_account_that_authenticates(sb: Sandbox) -> None:
    sid, token = sub(sb, 1)
    mine = read_all(sb, "/conversations/v1/Services", "services", sid, token)
    assert {r["account_sid"] for r in mine} == {sid}
    assert mine == sb.expected("conversation_services", sid)
    main = read_all(sb, "/conversations/v1/Services", "services")
    assert {r["account_sid"] for r in main} == {sb.main_account_sid}  # main credentials never see a subaccount's
    status, _ = get(sb, f"/conversations/v1/Services/{mine[0]['sid']}/Conversations")
    assert status == 404


def test_an_account_without_the_product_gets_an_empty_list(sb: Sandbox) -> None:
    sid, token = sub(sb, 1)  # odd subaccounts: Conversations, Studio, Verify; no Messaging or Trunking
    assert get(sb, "/trunking/v1/Trunks", sid, token)[1]["trunks"] == []
    assert get(sb, "/messaging/v1/Services", sid, token)[1]["services"] == []


@pytest.mark.parametrize(
    ("path", "maximum"),
    [("/conversations/v1/Services", 100), ("/studio/v2/Flows", 1000), ("/insights/v1/Conferences", 1000)],
)
def test_a_page_size_above_the_list_maximum_is_a_400(sb: Sandbox, path: str, maximum: int) -> None:
    assert get(sb, f"{path}?PageSize={maximum}")[0] == 200
    status, doc = get(sb, f"{path}?PageSize={maximum + 1}")
    assert (status, doc["code"]) == (400, 20007)


def test_users_and_roles_allow_50(sb: Sandbox) -> None:
    service = sb.expected("conversation_services", sb.main_account_sid)[0]["sid"]
    for name in ("Users", "Roles"):
        assert get(sb, f"/conversations/v1/Services/{service}/{name}?PageSize=50")[0] == 200
        assert get(sb, f"/conversations/v1/Services/{service}/{name}?PageSize=51")[0] == 400
    roles = sb.expected("conversation_roles", sb.main_account_sid)
    assert all(isinstance(r["permissions"], list) and r["permissions"] for r in roles)


def test_next_page_url_is_absolute_and_keeps_the_filters(sb: Sandbox) -> None:
    _, doc = get(sb, "/verify/v2/Attempts?DateCreatedAfter=2024-03-01T00:00:00Z&PageSize=2")
    nxt = doc["meta"]["next_page_url"]
    assert nxt.startswith(f"{sb.url}/verify/v2/Attempts?DateCreatedAfter=2024-03-01T00%3A00%3A00Z&PageSize=2")
    assert "PageToken=PA" in nxt


def test_a_new_message_bumps_its_conversation(sb: Sandbox) -> None:
    conversation = next(
        c for c in reversed(sb.expected("conversations", sb.main_account_sid)) if c["state"] == "active"
    )
    later = NOW + dt.timedelta(minutes=5)
    sb.set_now(later)
    message = sb.products.add_conversation_message(conversation["sid"], body="hello")
    assert message["date_created"] == "2024-06-01T12:05:00Z"
    path = f"/conversations/v1/Services/{conversation['chat_service_sid']}/Conversations/{conversation['sid']}/Messages"
    assert read_all(sb, path, "messages")[-1] == message
    after = next(c for c in sb.expected("conversations") if c["sid"] == conversation["sid"])
    assert after["date_updated"] == "2024-06-01T12:05:00Z"


def test_the_switch_leaves_a_conversation_alone_on_new_messages_and_participants(sb: Sandbox) -> None:
    sb.products.messages_move_conversation = False
    conversation = next(c for c in sb.expected("conversations", sb.main_account_sid) if c["state"] == "inactive")
    sb.set_now(NOW + dt.timedelta(minutes=7))
    joined = sb.products.add_conversation_participant(conversation["sid"], "agent-7")
    message = sb.products.add_conversation_message(conversation["sid"], participant_sid=joined["sid"], body="hi")
    assert (message["participant_sid"], message["author"]) == (joined["sid"], "agent-7")
    base = f"/conversations/v1/Services/{conversation['chat_service_sid']}/Conversations/{conversation['sid']}"
    assert read_all(sb, f"{base}/Messages?Order=desc", "messages")[0] == message
    assert joined in read_all(sb, f"{base}/Participants", "participants")
    after = next(c for c in sb.expected("conversations") if c["sid"] == conversation["sid"])
    assert after["date_updated"] == conversation["date_updated"]
    closed = sb.update_record("conversations", conversation["sid"], state="closed")
    assert closed["date_updated"] == "2024-06-01T12:07:00Z"  # a state change is a change of the conversation
    with pytest.raises(ProductError, match="closed"):
        sb.products.add_conversation_message(conversation["sid"], body="too late")


def test_executions_end_flows_are_renamed_attempts_arrive(sb: Sandbox) -> None:
    active = [e for e in sb.expected("studio_executions", sb.main_account_sid) if e["status"] == "active"]
    ended = [e for e in sb.expected("studio_executions", sb.main_account_sid) if e["status"] == "ended"]
    assert ended
    sb.set_now(NOW + dt.timedelta(hours=1))
    execution = (
        active[0] if active else sb.add_record("studio_executions", flow_sid=ended[0]["flow_sid"], status="active")
    )
    done = sb.products.end_execution(execution["sid"])
    assert (done["status"], done["date_updated"]) == ("ended", "2024-06-01T13:00:00Z")
    flow = sb.expected("studio_flows", sb.main_account_sid)[0]
    renamed = sb.products.rename_flow(flow["sid"], "New IVR")
    assert (renamed["friendly_name"], renamed["revision"]) == ("New IVR", flow["revision"] + 1)
    attempt = sb.products.add_verify_attempt()
    _, doc = get(sb, "/verify/v2/Attempts?DateCreatedAfter=2024-06-01T12:30:00Z")
    assert [a["sid"] for a in doc["attempts"]] == [attempt["sid"]]


def test_executions_filter_on_creation_and_status_is_active_or_ended(sb: Sandbox) -> None:
    flow = sb.expected("studio_flows", sb.main_account_sid)[0]["sid"]
    everything = read_all(sb, f"/studio/v2/Flows/{flow}/Executions", "executions")
    assert {e["status"] for e in everything} <= {"active", "ended"}
    cut = everything[len(everything) // 2]["date_created"]
    newer = read_all(sb, f"/studio/v2/Flows/{flow}/Executions?DateCreatedFrom={cut}", "executions")
    assert newer == [e for e in everything if e["date_created"] >= cut]
    assert get(sb, f"/studio/v2/Flows/{flow}/Executions?DateCreatedFrom=yesterday")[0] == 400


def test_a_call_summary_is_partial_then_complete(sb: Sandbox) -> None:
    call = sb.add_record(
        "calls",
        start_time=NOW - dt.timedelta(minutes=20),
        end_time=NOW - dt.timedelta(minutes=15),
        status="completed",
        duration="300",
    )
    path = "/insights/v1/Voice/Summaries?StartTime=1h&ProcessingState=all"
    summary = next(s for s in read_all(sb, path, "call_summaries") if s["call_sid"] == call["sid"])
    assert summary["processing_state"] == "partial"
    assert call["sid"] not in {s["call_sid"] for s in read_all(sb, "/insights/v1/Voice/Summaries", "call_summaries")}
    sb.set_now(NOW + dt.timedelta(minutes=20))
    summary = next(s for s in read_all(sb, path, "call_summaries") if s["call_sid"] == call["sid"])
    assert summary["processing_state"] == "complete"


def test_insights_keeps_30_days_and_participants_outlive_their_conference(sb: Sandbox) -> None:
    status, doc = get(sb, "/insights/v1/Voice/Summaries?StartTime=2024-04-01T00:00:00Z")
    assert (status, doc["code"]) == (400, 20001)
    conferences = read_all(sb, "/insights/v1/Conferences", "conferences")
    done = next(c for c in conferences if c["status"] == "completed")
    participants = read_all(sb, f"/insights/v1/Conferences/{done['conference_sid']}/Participants", "participants")
    assert participants
    assert {p["conference_sid"] for p in participants} == {done["conference_sid"]}


def test_insights_is_off_for_the_second_subaccount(sb: Sandbox) -> None:
    sid, token = sub(sb, 2)
    status, doc = get(sb, "/insights/v1/Conferences", sid, token)
    assert (status, doc["code"]) == (403, 20403)
    assert sb.expected("conference_summaries", sid) == []
    sid, token = sub(sb, 1)
    assert get(sb, "/insights/v1/Conferences", sid, token)[0] == 200


def test_monitor_events_on_both_paths_and_30_days(sb: Sandbox) -> None:
    prefixed = read_all(sb, "/monitor/v1/Events?PageSize=7", "events")
    assert prefixed == read_all(sb, "/v1/Events", "events") == sb.expected("monitor_events", sb.main_account_sid)
    assert min(e["event_date"] for e in prefixed) >= "2024-05-02T12:00:00Z"
    assert get(sb, "/monitor/v1/Events?StartDate=2024-04-01T00:00:00Z")[0] == 400


def test_pricing_is_the_same_for_every_account(sb: Sandbox) -> None:
    sid, token = sub(sb, 1)
    countries = read_all(sb, "/pricing/v2/Voice/Countries", "countries")
    assert countries == read_all(sb, "/pricing/v2/Voice/Countries", "countries", sid, token)
    details = [get(sb, f"/pricing/v2/Voice/Countries/{c['iso_country']}")[1] for c in countries]
    assert details == sb.expected("pricing_voice_countries")
    assert get(sb, "/pricing/v1/PhoneNumbers/Countries/ZZ")[0] == 404


def test_the_2010_api_and_alerts_answer_under_their_prefix(sb: Sandbox) -> None:
    assert (
        get(sb, "/api/2010-04-01/Accounts.json")[1]["accounts"] == get(sb, "/2010-04-01/Accounts.json")[1]["accounts"]
    )
    _, doc = get(sb, "/monitor/v1/Alerts?PageSize=2")
    assert doc["meta"]["next_page_url"].startswith(f"{sb.url}/monitor/v1/Alerts?")
