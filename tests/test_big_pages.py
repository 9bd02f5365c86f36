"""Twilio failing on big pages (Usage Records answer 500/20500 at PageSize=1000 where smaller pages of the same query
succeed): after repeated 5xx for one page the list is asked for in smaller pages, halving down to a floor, said
once per stream, and every record is still emitted exactly once."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import FAST_RETRIES, discover, run_tap, select
from twilio_sandbox import Faults, Sandbox

from tests.exact import assert_exact, hold_clock

SAID = "Twilio kept failing on pages of"


@pytest.fixture
def usage_fails_above_100() -> Sandbox:
    """Usage Records fail above 100 records per page; everything else answers any size."""
    faults = Faults(fail_above_page_size=100, fail_above_page_size_paths=["/Usage/Records"])
    with Sandbox(seed=1, faults=faults) as sb:
        yield sb


def test_usage_records_are_read_in_smaller_pages_each_once(usage_fails_above_100: Sandbox, tmp_path: Path) -> None:
    sb = usage_fails_above_100
    hold_clock(sb)  # today's usage moves with the clock: what is served is what is compared
    config = sb.tap_config(**FAST_RETRIES)
    catalog = select(discover(tmp_path, config), {"usage_records", "messages"})
    run = run_tap(tmp_path, config, catalog=catalog)

    assert_exact(sb, run.stdout, config["start_date"], streams=("usage_records", "messages"))  # each record once
    said = [line for line in run.stderr.splitlines() if SAID in line]
    assert len(said) == 1, said
    assert "usage_records: Twilio kept failing on pages of 1000 records (HTTP 500)" in said[0]
    assert "asking for 500 per page from now on" in said[0]
    usage = page_sizes(sb, "/Usage/Records")
    for page, sizes in usage.items():  # each page: at most three 500s per size, each size half the one before
        assert all(sizes.count(size) <= 3 for size in (1000, 500, 250, 125)), (page, sizes)
        assert sizes == sorted(sizes, reverse=True) and sizes[-1] <= 100, (page, sizes)
    assert [s for sizes in usage.values() for s in sizes].count(62) == len(usage), "each page read once, at 62"
    assert {s for sizes in page_sizes(sb, "/Messages.json").values() for s in sizes} == {1000}, "others keep theirs"


def test_every_list_shrinks_once_per_stream_when_twilio_fails_on_any_big_page(tmp_path: Path) -> None:
    with Sandbox(seed=2, faults=Faults(fail_above_page_size=200), sizes={"messages": 700}) as sb:
        hold_clock(sb)
        config = sb.tap_config(**FAST_RETRIES)
        streams = {"messages", "calls", "accounts", "incoming_phone_numbers"}
        run = run_tap(tmp_path, config, catalog=select(discover(tmp_path, config), streams))
        assert_exact(sb, run.stdout, config["start_date"], streams=streams)  # every record, each once, as served
        said = [line for line in run.stderr.splitlines() if SAID in line and "| WARNING" in line]
        named = [line.split(" | ")[-1].split(":")[0] for line in said]
        assert sorted(named) == sorted(set(named)), "once per stream"
        assert {"messages", "calls", "accounts"} <= set(named)


def page_sizes(sb: Sandbox, path: str) -> dict[str, list[int]]:
    """The PageSize of each request the sandbox received for one kind of list, in order, per page asked for (the
    path and the query without PageSize and Page)."""
    out: dict[str, list[int]] = {}
    for _method, target in sb.stats.snapshot()["requests"]:
        parts = urlsplit(target)
        if path in parts.path:
            query = dict(parse_qsl(parts.query))
            size = int(query.pop("PageSize"))
            query.pop("Page", None)
            out.setdefault(f"{parts.path}?{sorted(query.items())}", []).append(size)
    return out
