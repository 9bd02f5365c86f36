"""What a page of 1,000 messages costs the writer's thread, step by step, and what decoding into msgspec Structs
instead of dicts would save: the floor of the CPU per record with records as dicts.

    .venv/bin/python benchmarks/records.py [--pages N] [--rounds R] [--json PATH]

One page is fetched from the sandbox (90 days of messages; its dates, prices and counts as Twilio sends them), then
each step runs on ``--pages`` fresh copies of it, ``--rounds`` times, and the best round counts (``time.process_time``
of this process). The steps are the tap's own code: the worker's outline read (``page.LINKS``), the writer's decode
(``page.decode``, dicts), the stream's generated converter, the window filter and
``BufferedMsgSpecWriter.write_records`` (written out to /dev/null). The alternative decodes the same page into a
Struct of the schema's fields. Writes ``benchmarks/results-records.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import urllib3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import run as bench  # noqa: E402  # benchmarks/run.py: the sandbox process

from tap_twilio.page import LINKS, decode  # noqa: E402
from tap_twilio.tap import TapTwilio  # noqa: E402
from tap_twilio.windows import Window  # noqa: E402
from tap_twilio.writer import BufferedMsgSpecWriter  # noqa: E402


def best_ms(step: Callable[[Any], object], inputs: Callable[[], list[Any]], rounds: int) -> float:
    """Best CPU ms per page of `step` over `rounds` rounds, each on fresh inputs."""
    times = []
    for _ in range(rounds):
        items = inputs()
        started = time.process_time()
        for item in items:
            step(item)
        times.append((time.process_time() - started) / len(items) * 1000)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20, help="copies of the page per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (the best counts)")
    parser.add_argument("--json", default=str(HERE / "results-records.json"), help="results file")
    args = parser.parse_args(argv)
    with bench.SandboxProcess(seed=1, subaccounts=0, days=90, sizes={"messages": 5_000}, record_requests=False) as sb:
        url = f"{sb.url}/2010-04-01/Accounts/{sb.main}/Messages.json?PageSize=1000"
        headers = urllib3.make_headers(basic_auth=f"{sb.main}:{sb.auth_token}")
        content = urllib3.request("GET", url, headers=headers).data
        config = sb.config
    stream: Any = TapTwilio(config=config, parse_env_config=False).streams["messages"]
    records = decode(content)["messages"]
    if len(records) != 1000:
        raise RuntimeError(f"expected a page of 1,000 messages, got {len(records)}")
    window = Window(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc))
    writer = BufferedMsgSpecWriter()  # it writes out every 256 kB: to /dev/null here (main() restores stdout)
    fields = list(stream.schema["properties"])
    record_struct = msgspec.defstruct(
        "Message",
        [(f"f{i}", Any, msgspec.UNSET) for i in range(len(fields))],
        rename=dict(zip((f"f{i}" for i in range(len(fields))), fields, strict=True)),
        gc=False,
    )
    page_struct = msgspec.defstruct("Page", [("messages", list[record_struct], [])], gc=False)  # type: ignore[valid-type]
    struct_decoder = msgspec.json.Decoder(page_struct)

    def pages() -> list[bytes]:
        return [bytes(content) for _ in range(args.pages)]

    def decoded() -> list[list[dict[str, Any]]]:
        return [decode(content)["messages"] for _ in range(args.pages)]

    def converted() -> list[list[dict[str, Any]]]:
        return [[stream._convert(r) for r in page] for page in decoded()]

    def write(page: list[dict[str, Any]]) -> None:
        writer.write_records("messages", page, None)
        writer.drain()

    def measure_steps() -> dict[str, float]:
        return {
            "outline_read": best_ms(LINKS.decode, pages, args.rounds),
            "decode_dicts": best_ms(decode, pages, args.rounds),
            "convert": best_ms(lambda page: [stream._convert(r) for r in page], decoded, args.rounds),
            "window_filter": best_ms(lambda page: stream._in_window(page, window, set()), converted, args.rounds),
            "encode_records": best_ms(write, converted, args.rounds),
            "decode_structs": best_ms(struct_decoder.decode, pages, args.rounds),
        }

    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # closed below
    try:
        steps = measure_steps()
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    writer_floor = (
        steps["outline_read"]
        + steps["decode_dicts"]
        + steps["convert"]
        + steps["window_filter"]
        + steps["encode_records"]
    )
    results = {
        **bench.new_results(),
        "page_bytes": len(content),
        "records": len(records),
        "pages": args.pages,
        "rounds": args.rounds,
        "cpu_ms_per_page": steps,
        "floor_us_per_record": writer_floor,
        "structs_save_us_per_record": steps["decode_dicts"] - steps["decode_structs"],
    }
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    for name, value in steps.items():
        print(f"{name:<16} {value:6.3f} ms per page of 1,000 messages")
    print(
        f"outline read + decode + convert + filter + encode: {writer_floor:.2f} us per record, before any request, "
        f"the pipeline or freeing the records; decoding into Structs would save "
        f"{results['structs_save_us_per_record']:.2f} us of it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
