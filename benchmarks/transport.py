"""CPU per request of the two ways the tap has sent requests: requests (until issue 19's fourth pass) and urllib3
directly (since), on the same page of the sandbox's messages: 1,000 of them, and 20.

    .venv/bin/python benchmarks/transport.py [--requests N] [--rounds R] [--json PATH]

Each way is set up as the tap set it up (requests: a Session with one pooled connection, no proxy lookup, the body
read in one call; urllib3: a PoolManager, the body read in one call), then the two send ``--requests`` GETs each,
interleaved, ``--rounds`` times. CPU is this process's (``time.process_time``); the sandbox runs in its own process.
The best round of each counts. Writes ``benchmarks/results-transport.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402  # benchmarks/run.py: the sandbox process

PAGE_SIZES = (1000, 20)  # a backfill's pages; the few records of a subaccount's list on an incremental day


def ways(url: str, auth: tuple[str, str]) -> dict[str, Callable[[], bytes]]:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=1, max_retries=0))
    session.auth, session.trust_env = auth, False
    session.headers.update({"User-Agent": "tap-twilio/bench", "Accept": "application/json"})

    def with_requests() -> bytes:
        response = session.get(url, timeout=(10, 60), allow_redirects=False, stream=True)
        return bytes(response.raw.read(decode_content=True))

    pool = urllib3.PoolManager(num_pools=16, maxsize=32, retries=False)
    headers = {
        **urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}", accept_encoding="gzip, deflate"),
        "User-Agent": "tap-twilio/bench",
        "Accept": "application/json",
    }
    timeout = urllib3.Timeout(connect=10, read=60)

    def with_urllib3() -> bytes:
        response = pool.request(
            "GET", url, headers=headers, timeout=timeout, redirect=False, retries=False, preload_content=False
        )
        content = response.read(decode_content=True)
        response.release_conn()
        return content

    return {"requests": with_requests, "urllib3": with_urllib3}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="GETs per round and way")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (the best counts)")
    parser.add_argument("--json", default=str(HERE / "results-transport.json"), help="results file")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        **bench.new_results(),
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "pages": {},
    }
    with bench.SandboxProcess(seed=1, subaccounts=0, days=90, sizes={"messages": 5_000}, record_requests=False) as sb:
        sb.call("set", cache=True)  # the same page every time, built once: the sandbox's CPU stays out of the way
        for size in PAGE_SIZES:
            url = f"{sb.url}/2010-04-01/Accounts/{sb.main}/Messages.json?PageSize={size}"
            send = ways(url, (sb.main, sb.auth_token))
            sizes = {name: len(way()) for name, way in send.items()}  # warm: connections open, page cached
            if len(set(sizes.values())) != 1:
                raise RuntimeError(f"the two ways read different bodies: {sizes}")
            cpu: dict[str, list[float]] = {name: [] for name in send}
            for _ in range(args.rounds):
                for name, way in send.items():
                    started = time.process_time()
                    for _ in range(args.requests):
                        way()
                    cpu[name].append((time.process_time() - started) / args.requests * 1000)
            best = {name: min(values) for name, values in cpu.items()}
            results["pages"][str(size)] = {
                "page_bytes": sizes["urllib3"],
                "cpu_ms_per_request": cpu,
                "best_cpu_ms_per_request": best,
                "requests_over_urllib3": best["requests"] / best["urllib3"],
                "saved_ms_per_request": best["requests"] - best["urllib3"],
            }
            print(
                f"a page of {size:,} messages ({sizes['urllib3']:,} bytes), CPU per request, best of {args.rounds} "
                f"rounds of {args.requests}: requests {best['requests']:.3f} ms, urllib3 {best['urllib3']:.3f} ms "
                f"({best['requests'] / best['urllib3']:.2f}x)",
                flush=True,
            )
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
