"""What an incremental run of conversation messages costs, whether or not a new message moves its conversation.

    .venv/bin/python benchmarks/conversations.py [--subaccounts 6] [--latency-ms 20]

For each sandbox behaviour (a new message moves its conversation's date_updated, or leaves it alone): a first run
of the four Conversations streams, a round of changes (new messages in a tenth of the open conversations, a new
participant who writes, a conversation closed), then a second run from the first run's state, by default and with
`conversation_date_tracks_messages`. Prints the requests per list, per open conversation, the new messages the run
emitted out of those added, and the tap's closing summary lines for the two streams. Writes the same figures, with
the command that made them, to ``benchmarks/results-conversations.json`` (``--json`` elsewhere), which
docs/conversations.md quotes (``tools/performance_figures.py`` rewrites the page from it).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twilio_sandbox import Sandbox

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  # benchmarks/run.py: new_results() records the command

STREAMS = ("conversation_services", "conversations", "conversation_messages", "conversation_participants")
LIST = re.compile(r"/conversations/v1/Services/IS\w+(?:/(Conversations)(?:/CH\w+/(Messages|Participants))?)?$")


def catalog(tmp: Path, config: Path) -> Path:
    """The discovered catalog with the Conversations streams selected."""
    found = json.loads(
        subprocess.run(
            [sys.executable, "-m", "tap_twilio", "--config", str(config), "--discover"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    for entry in found["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in STREAMS
    path = tmp / "catalog.json"
    path.write_text(json.dumps(found))
    return path


def sync(sb: Sandbox, args: list[str]) -> tuple[float, list[dict[str, Any]], dict[str, Any], list[str], Counter[str]]:
    """One run: wall seconds, records, last state, the summary's conversation lines, requests per list."""
    sb.reset_stats()
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tap_twilio", *args], capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    records, state = [], {}
    for line in proc.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.append(message)
        elif message["type"] == "STATE":
            state = message["value"]
    lines = [ln.split(" | ")[-1] for ln in proc.stderr.splitlines() if "conversation_" in ln and "requests for" in ln]
    lines += [ln.split(" | ")[-1] for ln in proc.stderr.splitlines() if "conversations read (changed" in ln]
    lists: Counter[str] = Counter()
    for _, target in sb.stats.requests:
        m = LIST.match(urlsplit(target).path)
        if m:
            lists["conversation_" + (m.group(2) or "").lower() if m.group(2) else m.group(1) or "services"] += 1
    return wall, records, state, lines, lists


def changes(sb: Sandbox) -> set[str]:
    """New messages in every tenth open conversation, a participant who joins and writes, one conversation closed;
    the sids of the new messages."""
    open_ones = [c for c in sb.expected("conversations") if c["state"] != "closed"]
    added = {sb.products.add_conversation_message(c["sid"], body="late reply")["sid"] for c in open_ones[::10]}
    joined = sb.products.add_conversation_participant(open_ones[1]["sid"], "agent-7")
    added.add(sb.products.add_conversation_message(open_ones[1]["sid"], participant_sid=joined["sid"])["sid"])
    added.add(sb.products.add_conversation_message(open_ones[2]["sid"], body="bye")["sid"])
    sb.update_record("conversations", open_ones[2]["sid"], state="closed")
    time.sleep(1.1)  # a run reads up to its start second
    return added


def main() -> int:
    """Both behaviours, both settings; one table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subaccounts", type=int, default=6)
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--json", default=str(HERE / "results-conversations.json"), help="results file")
    args = parser.parse_args()
    results: dict[str, Any] = {**bench.new_results(), "subaccounts": args.subaccounts, "latency_ms": args.latency_ms}
    print(
        f"{'behaviour':<34} {'run':<24} {'wall s':>7} {'msg req':>8} {'part req':>8} {'open':>5} "
        f"{'req/open':>8} {'new emitted':>11}"
    )
    for moves in (True, False):
        behaviour = "message moves conversation" if moves else "message leaves conversation alone"
        runs: dict[str, Any] = {}
        results["moves" if moves else "alone"] = runs
        with (
            Sandbox(seed=41, subaccounts=args.subaccounts, days=30, latency_ms=args.latency_ms) as sb,
            tempfile.TemporaryDirectory() as name,
        ):
            sb.products.messages_move_conversation = moves
            tmp = Path(name)
            configs = {}
            for label, extra in (
                ("default", {}),
                ("trust conversation date", {"conversation_date_tracks_messages": True}),
            ):
                configs[label] = tmp / f"{len(configs)}.json"
                configs[label].write_text(json.dumps(sb.tap_config(**extra)))
            chosen = catalog(tmp, configs["default"])
            base = ["--catalog", str(chosen)]
            wall, _, first_state, lines, lists = sync(sb, ["--config", str(configs["default"]), *base])
            open_count = sum(1 for c in sb.expected("conversations") if c["state"] != "closed")
            conversations = len(sb.expected("conversations"))
            results.update(accounts=args.subaccounts + 1, conversations=conversations, open=open_count)
            runs["first"] = {
                "wall_s": wall,
                "message_requests": lists["conversation_messages"],
                "participant_requests": lists["conversation_participants"],
                "per_conversation": lists["conversation_messages"] / conversations,
            }
            print(
                f"{behaviour:<34} {'first':<24} {wall:7.2f} {lists['conversation_messages']:8d} "
                f"{lists['conversation_participants']:8d} {open_count:5d} "
                f"{lists['conversation_messages'] / open_count:8.2f} {'':>11}"
            )
            added = changes(sb)
            state_file = tmp / "state.json"
            state_file.write_text(json.dumps(first_state))
            open_count = sum(1 for c in sb.expected("conversations") if c["state"] != "closed")
            for label, config in configs.items():
                wall, records, _, lines, lists = sync(sb, ["--config", str(config), "--state", str(state_file), *base])
                emitted = {r["record"]["sid"] for r in records if r["stream"] == "conversation_messages"}
                runs["default" if label == "default" else "tracks"] = {
                    "wall_s": wall,
                    "open": open_count,
                    "message_requests": lists["conversation_messages"],
                    "participant_requests": lists["conversation_participants"],
                    "per_open_conversation": lists["conversation_messages"] / open_count,
                    "new_messages": len(added),
                    "new_emitted": len(added & emitted),
                    "summary": lines,
                }
                print(
                    f"{behaviour:<34} {'second, ' + label:<24} {wall:7.2f} {lists['conversation_messages']:8d} "
                    f"{lists['conversation_participants']:8d} {open_count:5d} "
                    f"{lists['conversation_messages'] / open_count:8.2f} {len(added & emitted):>5d} of {len(added):<3d}"
                )
                for line in lines:
                    print(f"    {line}")
    out = Path(args.json)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out.relative_to(bench.ROOT) if out.is_relative_to(bench.ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
