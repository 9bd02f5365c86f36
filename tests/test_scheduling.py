"""Lists that finish in any order: low-watermark bookmarks, resume without re-reading, dense-window splits, the
per-account concurrency limit and the read-ahead byte budget, each against the sandbox."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from conftest import FAST_RETRIES, discover, run_tap, select
from twilio_sandbox import Sandbox
from twilio_sandbox.faults import Faults, ScriptedFault

from tap_twilio import http
from tap_twilio.dates import format_iso
from tap_twilio.lists import ListsStream
from tap_twilio.page import Page
from tap_twilio.run import STATE_SHARE, STATE_SMALL_BYTES
from tap_twilio.tap import TapTwilio


def bookmark(state: dict[str, Any], stream: str, account: str) -> str | None:
    for partition in state.get("bookmarks", {}).get(stream, {}).get("partitions", []):
        if partition["context"].get("account_sid") == account:
            return partition.get("replication_key_value")
    return None


def finished_windows(state: dict[str, Any], stream: str, account: str) -> list[list[str]]:
    return state.get("progress", {}).get("windows", {}).get(stream, {}).get(account, [])


def list_requests(sb: Sandbox, resource: str = "/Messages.json") -> list[dict[str, str]]:
    """The query of every request the sandbox logged for one list (first pages and next pages)."""
    return [dict(parse_qsl(urlsplit(path).query)) for _, path in sb.stats.requests if resource in path]


def test_windows_finishing_out_of_order_move_the_bookmark_to_the_low_watermark_and_resume_skips_them(
    tmp_path: Path,
) -> None:
    faults = Faults(stall_seconds=4.0)
    with Sandbox(seed=41, subaccounts=0, days=25, sizes={"messages": 400}, faults=faults) as sb:
        start = (sb.now - dt.timedelta(days=27)).replace(hour=0, minute=0, second=0, microsecond=0)
        config = sb.tap_config(start_date=format_iso(start), date_window_days=4, page_size=50, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), {"messages"})
        faults.scripted.append(ScriptedFault(f"DateSent%3E={start.date().isoformat()}", "stall"))  # the oldest
        account = sb.main_account_sid
        run = run_tap(tmp_path, config, catalog=catalog)
        assert {r["sid"] for r in run.records["messages"]} == {m["sid"] for m in sb.expected("messages")}

        # while the oldest window stalls, the others finish: STATE lists them and claims nothing past the gap
        marked = [s for s in run.states if finished_windows(s, "messages", account)]
        assert marked, "finished windows beyond the low watermark are in the progress marker"
        for state in marked:
            first = min(w[0] for w in finished_windows(state, "messages", account))
            value = bookmark(state, "messages", account)
            assert value is None or value < first, "the bookmark stops at the first window not finished"
        assert bookmark(run.state, "messages", account), "once every window finished, the bookmark is the run's start"
        assert "progress" not in run.state

        # resumed from the STATE with the most finished windows: those windows are not requested again
        interrupted = max(marked, key=lambda s: len(finished_windows(s, "messages", account)))
        done = finished_windows(interrupted, "messages", account)
        sb.reset_stats()
        resumed = run_tap(tmp_path, config, catalog=catalog, state=interrupted)
        asked = {q["DateSent>"] for q in list_requests(sb) if "DateSent>" in q}
        assert asked, "the stalled window is read again"
        assert not asked & {w[0][:10] for w in done}, (asked, done)
        ids = {r["sid"] for r in resumed.records["messages"]} | {r["sid"] for r in run.records["messages"]}
        assert ids == {m["sid"] for m in sb.expected("messages")}
        assert "progress" not in resumed.state


def test_a_resumed_run_reads_no_children_of_pages_whose_children_were_written(tmp_path: Path) -> None:
    faults = Faults(stall_seconds=4.0)
    with Sandbox(seed=45, subaccounts=0, days=25, sizes={"messages": 800}, faults=faults) as sb:
        start = (sb.now - dt.timedelta(days=27)).replace(hour=0, minute=0, second=0, microsecond=0)
        config = sb.tap_config(start_date=format_iso(start), date_window_days=4, page_size=20, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), {"messages", "message_media"})
        account, day = sb.main_account_sid, start.date().isoformat()
        last = (start + dt.timedelta(days=3)).date().isoformat()
        # the oldest window's second page stalls: its first page and that page's media are written meanwhile
        faults.scripted.append(ScriptedFault(f"DateSent%3E={day}&DateSent%3C={last}&PageSize=20&Page=1&", "stall"))
        run = run_tap(tmp_path, config, catalog=catalog)
        marked = [s for s in run.states if s.get("progress", {}).get("written", {}).get("messages", {}).get(account)]
        assert marked, "the records written with their children are in the progress marker"
        # the last STATE before the oldest window's stalled second page: its first page was written
        oldest = [s for s in marked if min(s["progress"]["written"]["messages"][account]).startswith(format_iso(start))]
        interrupted = next(s for s in oldest if min(s["progress"]["written"]["messages"][account].items())[1] == 20)
        spans = interrupted["progress"]["written"]["messages"][account]
        span, count = min(spans.items())
        assert span.startswith(format_iso(start)) and count == 20, spans
        # the sids on that page, as Twilio lists them
        listing = requests.get(
            f"{sb.url}/2010-04-01/Accounts/{account}/Messages.json",
            params={"DateSent>": day, "DateSent<": last, "PageSize": 20},
            auth=(sb.main_account_sid, sb.main_auth_token),
            timeout=10,
        )
        on_written = {m["sid"] for m in listing.json()["messages"] if m["num_media"] != "0"}
        sb.reset_stats()
        resumed = run_tap(tmp_path, config, catalog=catalog, state=interrupted)
        media = {path.split("/Messages/")[1].split("/")[0] for _, path in sb.stats.requests if "/Media.json" in path}
        assert media, "media of the pages not written are read"
        assert not media & on_written, "no media of pages whose media an interrupted run wrote"
        assert "progress" not in resumed.state


def test_a_dense_window_is_split_into_day_ranges_read_at_once(tmp_path: Path) -> None:
    with Sandbox(seed=42, subaccounts=0, days=30, sizes={"messages": 3000}, latency_ms=20) as sb:
        start = (sb.now - dt.timedelta(days=32)).replace(hour=0, minute=0, second=0, microsecond=0)
        config = sb.tap_config(start_date=format_iso(start), date_window_days=30, page_size=100, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), {"messages"})
        sb.reset_stats()
        run = run_tap(tmp_path, config, catalog=catalog)
        sids = [r["sid"] for r in run.records["messages"]]
        assert len(sids) == len(set(sids)), "no record twice"
        assert set(sids) == {m["sid"] for m in sb.expected("messages")}, "every record once"
        firsts = [q for q in list_requests(sb) if "DateSent>" in q]
        assert len({(q["DateSent>"], q["DateSent<"]) for q in firsts}) >= 5, "the 30-day window was split"
        assert sb.stats.max_in_flight > 2, "ranges of one account are read at once"
        # the split costs few requests: about one page per range more than the pages of the data
        assert sb.stats.total <= 3000 / 100 * 1.6 + 5


def test_a_splittable_lists_dates_are_read_with_its_next_link_only_on_the_pages_that_will_ask(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """The first page (to split) and the pages after a split (to see the cut passed): read in one pass with their
    next link; any other page only for its link (reading its dates too costs half as much again)."""
    asked: list[bool] = []
    pre_read: list[bool] = []
    read_page, oldest = http.read_page, ListsStream._oldest

    def counted_read(url: str, content: bytes, fields: tuple[str, str] | None = None) -> Page:
        asked.append(fields is not None)
        return read_page(url, content, fields)

    def counted_oldest(self: ListsStream, page: Page) -> dt.datetime | None:
        pre_read.append(bool(page._fields))
        return oldest(self, page)

    monkeypatch.setattr(http, "read_page", counted_read)
    monkeypatch.setattr(ListsStream, "_oldest", counted_oldest)
    with Sandbox(seed=42, subaccounts=0, days=30, sizes={"messages": 3000}) as sb:
        start = (sb.now - dt.timedelta(days=32)).replace(hour=0, minute=0, second=0, microsecond=0)
        config = sb.tap_config(start_date=format_iso(start), date_window_days=30, page_size=100, **FAST_RETRIES)
        catalog = select(TapTwilio(config=config, parse_env_config=False).catalog_dict, {"messages"})
        TapTwilio(config=config, catalog=catalog, parse_env_config=False).sync_all()
    written = [line for line in capsysbinary.readouterr().out.splitlines() if line.startswith(b'{"type":"RECORD"')]
    assert len(written) == 3000
    assert pre_read and all(pre_read), "every page whose dates were asked for had them read with its link"
    assert asked.count(True) <= len(pre_read), "no page had its dates read for nothing"
    assert asked.count(False) > len(asked) // 3, "most pages after a list's first are read for their link only"


def test_each_account_stays_within_its_own_limit_while_several_run_at_once(tmp_path: Path) -> None:
    sizes = {"messages": 300}
    with Sandbox(seed=43, subaccounts=3, days=20, sizes=sizes, latency_ms=40, concurrency_limit=3) as sb:
        config = sb.tap_config(
            date_window_days=2, page_size=20, max_concurrency=12, max_concurrency_per_account=3, **FAST_RETRIES
        )
        catalog = select(discover(tmp_path, config), {"messages"})
        sb.reset_stats()
        run = run_tap(tmp_path, config, catalog=catalog)
        assert {r["sid"] for r in run.records["messages"]} == {m["sid"] for m in sb.expected("messages")}
        assert sb.stats.by_status.get(429, 0) == 0, "no account went over its limit of 3"
        assert max(sb.stats.max_in_flight_per_account.values()) <= 3
        assert sb.stats.max_in_flight > 3, "accounts run side by side, each within its own limit"
        assert "Concurrency: process cap 12, per account 3" in run.stderr


def test_the_read_ahead_buffer_stays_within_its_byte_budget(tmp_path: Path) -> None:
    with Sandbox(seed=44, subaccounts=0, days=60, sizes={"messages": 6000}) as sb:
        config = sb.tap_config(date_window_days=3, page_size=100, read_ahead_mb=1, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), {"messages"})
        run = run_tap(tmp_path, config, catalog=catalog)
        assert len(run.records["messages"]) == 6000
        match = re.search(r"(\d+) pages buffered \(peak buffer ([\d.]+) MB, budget 1 MB\)", run.stderr)
        assert match, run.stderr[-2000:]
        assert 0 < float(match.group(2)) <= 1.0 + 0.15, "at most about one page (~100 kB here) over the budget"


def test_with_many_accounts_states_stay_a_small_share_of_the_output(tmp_path: Path) -> None:
    """A STATE holds every stream and account, and the target parses each one: over STATE_SMALL_BYTES, checkpoints
    write it only while STATEs stay within STATE_SHARE of the output (200 subaccounts wrote 846 MB of STATE for
    35,000 records when every checkpoint wrote one)."""
    streams = {"messages", "calls", "recordings", "addresses", "applications", "keys", "queues", "usage_triggers"}
    with Sandbox(seed=7, subaccounts=60, days=2, sizes=dict.fromkeys(streams, 2)) as sb:
        config = sb.tap_config(**FAST_RETRIES)
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), streams))
        assert {r["sid"] for r in run.records["messages"]} == {
            m["sid"] for a in sb.account_sids for m in sb.expected("messages", a)
        }
    lines = run.stdout.splitlines()
    states = [len(line) + 1 for line in lines if line.startswith('{"type":"STATE"')]
    total = sum(len(line) + 1 for line in lines)
    assert max(states) > 4 * STATE_SMALL_BYTES, "the state of 61 accounts is big enough to be held back"
    small = sum(size for size in states if size <= STATE_SMALL_BYTES)
    # the big ones: within the share, plus the one each stream's end writes
    assert sum(states) - small <= STATE_SHARE * total + len(streams) * max(states), (len(states), sum(states), total)
    assert len(states) < 300, "not one per checkpoint (61 accounts x 8 streams)"
