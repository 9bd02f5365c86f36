"""What a page of 1,000 messages costs the writer's thread, step by step, read as the tap reads it (typed records:
msgspec Structs of the schema's fields, tap_twilio/typed.py) and as it reads a page with a field the schema does not
name (dicts).

    .venv/bin/python benchmarks/records.py [--pages N] [--rounds R] [--json PATH]

One page is fetched from the sandbox (90 days of messages; its dates, prices and counts as Twilio sends them), then
each step runs on ``--pages`` fresh copies of it, ``--rounds`` times, and the best round counts (``time.process_time``
of this process). The steps are the tap's own code: the worker's read of the page's outline (``page.read_page``: the
next link, and a splittable list's dates and sids; the next link alone, read from the envelope, is printed apart),
the decode (``Page.typed``, or ``page.decode`` into dicts), the stream's generated converter, the window filter,
``BufferedMsgSpecWriter.write_records`` (written out to /dev/null) and freeing the page's records. Writes
``benchmarks/results-records.json``.
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

import urllib3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import run as bench  # noqa: E402  # benchmarks/run.py: the sandbox process

from tap_twilio.convert import speedups  # noqa: E402
from tap_twilio.page import Page, decode, next_link, read_page  # noqa: E402
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
    decoder = stream._record_decoder
    outline = ("messages", stream.filter_field)

    def pages() -> list[bytes]:
        return [bytes(content) for _ in range(args.pages)]

    def decoded(typed: bool) -> Callable[[], list[list[Any]]]:
        def make() -> list[list[Any]]:
            return [typed_records(page) if typed else decode(page)["messages"] for page in pages()]

        return make

    def typed_records(page: bytes) -> list[Any]:
        records = Page("", content=page).typed(decoder)
        if records is None:
            raise RuntimeError("the sandbox's messages hold a field the schema does not name")
        return records

    def converted(typed: bool) -> Callable[[], list[list[Any]]]:
        def make() -> list[list[Any]]:
            out = decoded(typed)()
            for records in out:
                stream.convert_records(records)
            return out

        return make

    def write(page: list[Any]) -> None:
        writer.write_records("messages", page, None)
        writer.drain()

    def freeing(make: Callable[[], list[list[Any]]]) -> float:
        """CPU ms per page of dropping the last reference to a page's records."""
        times = []
        for _ in range(args.rounds):
            held = make()
            started = time.process_time()
            while held:
                held.pop()
            times.append((time.process_time() - started) / args.pages * 1000)
        return min(times)

    def measure_steps() -> dict[str, dict[str, float]]:
        steps: dict[str, dict[str, float]] = {}
        for name, typed in (("typed", True), ("dicts", False)):
            steps[name] = {
                "outline_read": best_ms(lambda page: read_page("", page, outline), pages, args.rounds),
                "decode": best_ms(typed_records if typed else decode, pages, args.rounds),
                "convert": best_ms(stream.convert_records, decoded(typed), args.rounds),
                "window_filter": best_ms(lambda page: stream._in_window(page, window, set()), converted(typed),
                                         args.rounds),
                "encode_records": best_ms(write, converted(typed), args.rounds),
                "free": freeing(converted(typed)),
            }
        return steps

    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # closed below
    try:
        steps = measure_steps()
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    floor = {name: sum(step.values()) for name, step in steps.items()}
    link_read = best_ms(next_link, pages, args.rounds)  # a page whose dates and sids are not asked for
    python_convert = stream._converter(decoder.record_type.fields, page=True, compiled=False)
    convert_python = best_ms(python_convert, decoded(True), args.rounds)  # what convert costs without the C one
    results = {
        **bench.new_results(),
        "page_bytes": len(content),
        "records": len(records),
        "pages": args.pages,
        "rounds": args.rounds,
        "cpu_ms_per_page": steps,
        "floor_us_per_record": floor,
        "typed_save_us_per_record": floor["dicts"] - floor["typed"],
        "link_read_ms_per_page": link_read,
        "converter": "C" if speedups is not None else "Python",
        "convert_python_ms_per_page": convert_python,
    }
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'ms per page of 1,000 messages':<30}" + "".join(f"{name:>8}" for name in steps))
    for step in steps["typed"]:
        print(f"{step:<30}" + "".join(f"{steps[name][step]:8.3f}" for name in steps))
    print(f"{'next link only (other pages)':<30}{link_read:8.3f}")
    print(f"{'convert, typed, Python':<30}{convert_python:8.3f}  (the tap's converter above: "
          f"{results['converter']}; the Python one where tap_twilio._speedups is not compiled)")
    print(
        f"outline read + decode + convert + filter + encode + free: {floor['typed']:.2f} us per record typed (the "
        f"tap's way), {floor['dicts']:.2f} as dicts (a page with a field the schema does not name)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
