"""``tap-twilio-save-state STATE_FILE [--exit-codes TAP TARGET]``: keep a Singer state file safe after a plain
``tap | target`` pipe, and say which side failed.

Reads a target's stdout on stdin and replaces STATE_FILE (temp file + ``os.replace``, so it is never half-written)
only when the last line is a state: a JSON object with a ``bookmarks`` object (or a Singer ``STATE`` message holding
one). Empty output (the tap failed before any record, e.g. a wrong auth token), a cut-off or non-JSON last line, or
a state without bookmarks leaves STATE_FILE as it was and exits 1. Given the pipe's exit codes (bash's
``"${PIPESTATUS[@]}"``) it names the side that failed and exits 1 when either did, even after saving the state the
target committed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

PROG = "tap-twilio-save-state"
NO_STATE = "the target printed no state"
UNKNOWN_SIDE = "the tap or the target failed: see their messages above, or pass --exit-codes to name the side"


class StateError(Exception):
    """The target's output holds no state that may replace the file."""


def last_line(stream: IO[str]) -> str | None:
    """The last non-blank line of the stream, or None."""
    last = None
    for line in stream:
        if line.strip():
            last = line
    return last.strip() if last is not None else None


def parse_state(line: str | None) -> dict[str, Any]:
    """The state in the target's last line; StateError says why there is none."""
    if line is None:
        raise StateError(NO_STATE)
    try:
        value = json.loads(line)
    except ValueError:
        raise StateError(f"the target's last line is not JSON: {line[:80]!r}") from None
    if isinstance(value, dict) and value.get("type") == "STATE":
        value = value.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("bookmarks"), dict):
        raise StateError(f"the target's last line is not a state with bookmarks: {line[:80]!r}")
    return value


def current_bookmarks(path: Path) -> bool:
    """Whether the existing state file holds any bookmark."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if isinstance(value, dict) and isinstance(value.get("value"), dict):  # Meltano's wrapper
        value = value["value"]
    return isinstance(value, dict) and bool(value.get("bookmarks"))


def write_atomically(path: Path, text: str) -> None:
    """Replace path with text in one step: readers see the old file or the new one, never a part."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save_state(stream: IO[str], path: Path) -> dict[str, Any]:
    """Write the state the target printed last to path; StateError (file untouched) when there is none."""
    state = parse_state(last_line(stream))
    if not state["bookmarks"] and current_bookmarks(path):
        raise StateError("the target's state has no bookmarks and would replace one that has")
    write_atomically(path, json.dumps(state, separators=(",", ":")) + "\n")
    return state


SIGNALS = {128 + 2: "SIGINT", 128 + 13: "SIGPIPE", 128 + 15: "SIGTERM", 128 + 9: "SIGKILL"}
TAP_STOPPED_READING = 128 + 13  # tap-twilio's exit code when its reader went away


def diagnosis(tap: int, target: int) -> str | None:
    """Which side of ``tap | target`` failed, from their exit codes (None: neither)."""
    if target != 0:
        said = f"the target failed (exit {target}{_signal(target)}; see its messages above)"
        if tap == TAP_STOPPED_READING:
            return said + ", so the tap stopped: the target stopped reading its output"
        return said + ("" if tap == 0 else f"; the tap exited {tap}{_signal(tap)}")
    if tap != 0:
        if tap - 128 in (2, 15):
            return f"the tap was interrupted ({SIGNALS[tap]}); the target committed what the tap finished"
        return f"the tap failed (exit {tap}{_signal(tap)}; see its error above); the target committed what it received"
    return None


def _signal(code: int) -> str:
    return f", {SIGNALS[code]}" if code in SIGNALS else ""


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read a Singer target's output on stdin; write its last state to STATE_FILE atomically, "
        "or leave STATE_FILE unchanged and exit 1 when there is none. With --exit-codes, say whether the tap or "
        "the target failed, and exit 1 when either did.",
        epilog="tap-twilio --config c.json --catalog cat.json --state state.json | target-postgres --config t.json "
        '> target-output.jsonl; tap-twilio-save-state state.json --exit-codes "${PIPESTATUS[@]}" < target-output.jsonl',
    )
    parser.add_argument("state_file", metavar="STATE_FILE", type=Path)
    parser.add_argument(
        "--exit-codes",
        nargs="+",
        type=int,
        metavar="CODE",
        help='the exit codes of the tap and the target (bash: "${PIPESTATUS[@]}" right after the pipe)',
    )
    args = parser.parse_args(argv)
    path: Path = args.state_file
    if not path.parent.is_dir():
        parser.error(f"directory {str(path.parent)!r} does not exist")
    codes: list[int] = args.exit_codes or []
    problem = diagnosis(codes[0], codes[1]) if len(codes) >= 2 else None  # tap, target
    try:
        state = save_state(sys.stdin, path)
    except StateError as exc:
        reason = str(exc) if codes or not str(exc).startswith(NO_STATE) else f"{NO_STATE} ({UNKNOWN_SIDE})"
        print(f"{PROG}: {problem + '; ' if problem else ''}{reason}; {path} left unchanged", file=sys.stderr)
        return 1
    print(f"{PROG}: wrote {path} ({len(state['bookmarks'])} streams bookmarked)", file=sys.stderr)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
