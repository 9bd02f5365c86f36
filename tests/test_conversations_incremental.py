"""Incremental conversation messages and participants, whether or not a new message moves its conversation."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from twilio_sandbox import Sandbox

from tap_twilio.dates import to_iso
from tests.conftest import FAST_RETRIES, TapRun, discover, run_tap, select

ROOT = Path(__file__).resolve().parent.parent
STREAMS = {"conversation_services", "conversations", "conversation_messages", "conversation_participants"}
MESSAGES = re.compile(r"/conversations/v1/Services/IS\w+/Conversations/(CH\w{32})/Messages$")
PARTICIPANTS = re.compile(r"/conversations/v1/Services/IS\w+/Conversations/(CH\w{32})/Participants$")
BEHAVIOURS = pytest.mark.parametrize("moves", [True, False], ids=["message-moves-conversation", "message-keeps-it"])


def lists_read(sb: Sandbox, pattern: re.Pattern[str]) -> list[str]:
    """The conversation of each request to one kind of list, in order (one entry per page)."""
    return [m.group(1) for _, target in sb.stats.requests if (m := pattern.match(urlsplit(target).path))]


def merged(runs: list[TapRun], stream: str) -> dict[str, dict[str, Any]]:
    """What an upserting target holds after these runs: each sid's last record."""
    table: dict[str, dict[str, Any]] = {}
    for run in runs:
        table.update({r["sid"]: r for r in run.records[stream]})
    return table


def served(sb: Sandbox, stream: str) -> dict[str, dict[str, Any]]:
    """The sandbox's records as the tap types them (ISO-8601 UTC dates)."""
    dates = ("date_created", "date_updated", "last_read_timestamp")
    return {r["sid"]: {k: (to_iso(v) if k in dates and v else v) for k, v in r.items()} for r in sb.expected(stream)}


def conversation(sb: Sandbox, state: str, *, skip: set[str]) -> dict[str, Any]:
    """A conversation in this state that has messages, and was not picked yet."""
    with_messages = {m["conversation_sid"] for m in sb.expected("conversation_messages")}
    found = next(c for c in sb.expected("conversations") if c["state"] == state and c["sid"] in with_messages - skip)
    skip.add(found["sid"])
    return found


def changes(sb: Sandbox) -> dict[str, Any]:
    """A round of changes: a new message in an active conversation; a new participant who writes in an inactive one;
    a message, then the close, of another; nothing in one closed before the first run."""
    picked: set[str] = set()
    active, inactive, closing = (conversation(sb, s, skip=picked) for s in ("active", "inactive", "active"))
    closed = conversation(sb, "closed", skip=picked)
    sb.products.add_conversation_message(active["sid"], body="late reply", date_updated=None)  # never edited
    joined = sb.products.add_conversation_participant(inactive["sid"], "agent-7")
    sb.products.add_conversation_message(inactive["sid"], participant_sid=joined["sid"], body="agent 7 here")
    sb.products.add_conversation_message(closing["sid"], body="thanks, bye")
    sb.update_record("conversations", closing["sid"], state="closed")
    time.sleep(1.1)  # a run reads up to its start second; changes made in that second are the next run's
    return {"active": active, "inactive": inactive, "closing": closing, "closed": closed, "joined": joined}


def assert_exact(sb: Sandbox, runs: list[TapRun]) -> None:
    for stream in ("conversations", "conversation_messages", "conversation_participants"):
        got, want = merged(runs, stream), served(sb, stream)
        assert set(got) == set(want), (
            f"{stream}: {len(set(want) - set(got))} missing, {len(set(got) - set(want))} extra"
        )
        assert got == want, stream


@BEHAVIOURS
def test_incremental_runs_are_exact_and_cost_one_request_per_open_conversation(tmp_path, moves):
    with Sandbox(seed=25, subaccounts=1, days=20) as sb:
        sb.products.messages_move_conversation = moves
        config = sb.tap_config(lookback_days=0, page_size=2, **FAST_RETRIES)  # pages of 2: the early stop shows
        catalog = select(discover(tmp_path, config), STREAMS)
        sb.reset_stats()
        first = run_tap(tmp_path, config, catalog=catalog)
        assert_exact(sb, [first])
        assert len(lists_read(sb, MESSAGES)) > len(set(lists_read(sb, MESSAGES)))  # a first run reads every page

        changed = changes(sb)
        sb.reset_stats()
        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        assert_exact(sb, [first, second])
        new = {m for m, r in served(sb, "conversation_messages").items() if r["body"] in ("late reply", "agent 7 here")}
        assert new | {m for m, r in served(sb, "conversation_messages").items() if r["body"] == "thanks, bye"} == {
            r["sid"] for r in second.records["conversation_messages"]
        }
        assert changed["joined"]["sid"] in {r["sid"] for r in second.records["conversation_participants"]}

        # cost: one page of messages per conversation that is not closed (newest first, stopped at the bookmark),
        # plus the one that closed since; participants only where messages came
        conversations = sb.expected("conversations")
        open_ones = {c["sid"] for c in conversations if c["state"] != "closed"}
        messages = lists_read(sb, MESSAGES)
        assert sorted(messages) == sorted([*open_ones, changed["closing"]["sid"]])
        # docs/conversations.md's requests per open conversation (1.01 in the benchmark): 1 each, + 1 closed since
        assert len(messages) == len(open_ones) + 1
        assert set(lists_read(sb, PARTICIPANTS)) == {changed[k]["sid"] for k in ("active", "inactive", "closing")}
        assert f"conversation_messages: {len(messages)} requests for {len(messages)} conversations" in second.stderr

        # the closed conversation was read once after it closed, and is not again; no change, no record
        time.sleep(1.1)
        sb.reset_stats()
        third = run_tap(tmp_path, config, catalog=catalog, state=second.state)
        assert sorted(lists_read(sb, MESSAGES)) == sorted(open_ones)
        assert not lists_read(sb, PARTICIPANTS)
        assert not any(
            third.records[s] for s in ("conversations", "conversation_messages", "conversation_participants")
        )
        assert_exact(sb, [first, second, third])


@BEHAVIOURS
def test_trusting_the_conversation_date_reads_only_changed_conversations(tmp_path, moves):
    """conversation_date_tracks_messages: exact where Twilio moves the date, and misses messages where it does not."""
    with Sandbox(seed=25, subaccounts=1, days=20) as sb:
        sb.products.messages_move_conversation = moves
        config = sb.tap_config(lookback_days=0, conversation_date_tracks_messages=True, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), STREAMS)
        first = run_tap(tmp_path, config, catalog=catalog)
        changed = changes(sb)
        sb.reset_stats()
        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        if moves:
            assert_exact(sb, [first, second])
            assert set(lists_read(sb, MESSAGES)) == {changed[k]["sid"] for k in ("active", "inactive", "closing")}
        else:  # only the conversation whose state changed is read: the two others' new messages are missed
            assert set(lists_read(sb, MESSAGES)) == {changed["closing"]["sid"]}
            got = {r["body"] for r in second.records["conversation_messages"]}
            assert "thanks, bye" in got
            assert not {"late reply", "agent 7 here"} & got


def test_the_docs_walkthrough_runs_as_written(tmp_path):
    text = (ROOT / "docs" / "conversations.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- walkthrough: conversations-cost -->\n```bash\n(.*?)\n```", text, re.S)
    assert found, "docs/conversations.md has its walkthrough block"
    with socket.socket() as s:  # a free port instead of the block's 8766 (tests run in parallel)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = found.group(1).replace("--port 8766", f"--port {port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_TWILIO")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with subprocess.Popen(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=300)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # the block's background sandbox, if the block failed
    assert proc.returncode == 0, stderr[-3000:]
    with Sandbox(seed=1, subaccounts=1) as sb:  # what `python -m twilio_sandbox --subaccounts 1` serves
        states = [c["state"] for c in sb.expected("conversations")]
    opened, closed = sum(s != "closed" for s in states), states.count("closed")
    lines = stdout.splitlines()
    assert len(lines) == 2, stdout
    assert lines[0].endswith(
        f"conversation_participants: 0 conversations read (changed, or new messages), {opened} open conversations "
        "without new messages not read"
    )
    assert lines[1].endswith(
        f"conversation_messages: {opened} requests for {opened} conversations read newest first "
        f"(1.00 per conversation); {closed} closed conversations not read again"
    )


@pytest.mark.parametrize(
    "selected",
    [{"conversation_messages", "conversation_participants"}, {"conversation_participants"}],
    ids=["children-without-parents", "participants-alone"],
)
def test_children_selected_without_their_parents_are_exact(tmp_path, selected):
    """The conversations are read for their children only; participants alone are read for every open one."""
    with Sandbox(seed=25, subaccounts=1, days=20) as sb:
        sb.products.messages_move_conversation = False
        config = sb.tap_config(lookback_days=0, **FAST_RETRIES)
        catalog = select(discover(tmp_path, config), selected)
        first = run_tap(tmp_path, config, catalog=catalog)
        changed = changes(sb)
        sb.reset_stats()
        second = run_tap(tmp_path, config, catalog=catalog, state=first.state)
        for stream in selected:
            assert merged([first, second], stream) == served(sb, stream), stream
        assert not second.records["conversations"]
        read = set(lists_read(sb, PARTICIPANTS))
        if "conversation_messages" in selected:
            assert read == {changed[k]["sid"] for k in ("active", "inactive", "closing")}
        else:
            assert read == {c["sid"] for c in sb.expected("conversations") if c["state"] != "closed"} | {
                changed["closing"]["sid"]
            }
