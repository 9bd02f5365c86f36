"""CLI: ``python -m twilio_sandbox`` / ``tap-twilio-sandbox``."""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import threading
import time
from types import FrameType

from .core import Sandbox
from .faults import Faults


def _size(text: str) -> tuple[str, int]:
    name, sep, count = text.partition("=")
    if not sep or not count.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected RESOURCE=N, got {text!r}")
    return name.strip(), int(count)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tap-twilio-sandbox", description="Serve a fake Twilio REST API on 127.0.0.1.")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--subaccounts", type=int, default=2)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--messages", type=int, default=None, help="messages per account")
    p.add_argument("--calls", type=int, default=None, help="calls per account")
    p.add_argument("--recordings", type=int, default=None, help="recordings per account")
    p.add_argument("--conferences", type=int, default=None, help="conferences per account")
    p.add_argument(
        "--size",
        action="append",
        default=[],
        type=_size,
        metavar="RESOURCE=N",
        help="records of any resource per account, e.g. --size notifications=500 --size sip_credentials=20",
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--rate-429", type=float, default=0.0)
    p.add_argument("--rate-5xx", type=float, default=0.0)
    p.add_argument("--rate-reset", type=float, default=0.0)
    p.add_argument("--rate-stall", type=float, default=0.0)
    p.add_argument("--stall-seconds", type=float, default=5.0)
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--concurrency-limit", type=int, default=None)
    p.add_argument(
        "--fail-above-page-size",
        type=int,
        default=None,
        metavar="N",
        help="answer 500/20500 to a PageSize above N (as Twilio does for big Usage Records pages)",
    )
    p.add_argument(
        "--fail-above-page-size-path",
        action="append",
        default=[],
        metavar="TEXT",
        help="only on lists whose path contains TEXT (repeatable; default: every list), e.g. Usage/Records",
    )
    p.add_argument("--no-record-requests", action="store_true", help="do not keep the request log")
    p.add_argument(
        "--cache-responses",
        action="store_true",
        help="serve each rendered page from memory on repeat requests (benchmarks)",
    )
    p.add_argument(
        "--print-env",
        action="store_true",
        help="print TAP_TWILIO_* shell exports for the tap (e.g. for Meltano) after starting",
    )
    p.add_argument(
        "--messages-keep-conversation-date",
        action="store_true",
        help="a new conversation message or participant leaves its conversation's date_updated alone",
    )
    p.add_argument("--write-config", metavar="PATH", default=None, help="write the tap config JSON here")
    p.add_argument("--quiet", action="store_true", help="print nothing but what --print-env asks for")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = {
        k: v
        for k, v in (
            ("messages", args.messages),
            ("calls", args.calls),
            ("recordings", args.recordings),
            ("conferences", args.conferences),
        )
        if v is not None
    }
    sizes.update(args.size)
    faults = Faults(
        rate_429=args.rate_429,
        rate_5xx=args.rate_5xx,
        rate_reset=args.rate_reset,
        rate_stall=args.rate_stall,
        stall_seconds=args.stall_seconds,
        seed=args.fault_seed,
        fail_above_page_size=args.fail_above_page_size,
        fail_above_page_size_paths=args.fail_above_page_size_path,
    )
    t0 = time.perf_counter()
    sb = Sandbox(
        seed=args.seed,
        subaccounts=args.subaccounts,
        days=args.days,
        sizes=sizes,
        latency_ms=args.latency_ms,
        faults=faults,
        concurrency_limit=args.concurrency_limit,
        record_requests=not args.no_record_requests,
        port=args.port,
        cache_responses=args.cache_responses,
    )
    sb.products.messages_move_conversation = not args.messages_keep_conversation_date
    sb.start()
    # a long-lived server process: fewer GC passes over the (small) long-lived heap while serving pages
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    if args.write_config:  # whole or not at all: a script may wait for the file to appear, then read it
        partial = f"{args.write_config}.partial"
        with open(partial, "w", encoding="utf-8") as fh:
            json.dump(sb.tap_config(), fh, indent=2)
        os.replace(partial, args.write_config)
    if args.print_env:
        cfg = sb.tap_config()
        for key in ("account_sid", "auth_token", "api_url", "monitor_url", "base_url_template", "start_date"):
            print(f"export TAP_TWILIO_{key.upper()}={cfg[key]}", flush=True)
    if not args.quiet:  # stdout carries only the exports, so `--print-env > file` can be sourced
        print(
            f"Twilio sandbox listening on {sb.url} (accounts: {len(sb.account_sids)}, "
            f"ready in {time.perf_counter() - t0:.2f}s)",
            file=sys.stderr,
            flush=True,
        )
        print(f"main account: {sb.main_account_sid}", file=sys.stderr, flush=True)
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not done.wait(0.5):
        pass
    sb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
