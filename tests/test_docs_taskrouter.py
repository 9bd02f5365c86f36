"""docs/taskrouter.md's walkthrough, run by bash as written on the bundled sandbox, so the page cannot drift."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!-- walkthrough: taskrouter -->\n+```bash\n(?P<body>.*?)\n```", re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_taskrouter_walkthrough_runs_as_written(tmp_path: Path) -> None:
    match = MARKER.search((ROOT / "docs" / "taskrouter.md").read_text(encoding="utf-8"))
    assert match is not None
    script = match["body"]
    assert script.count("--port 8765") == 1
    script = script.replace("--port 8765", f"--port {free_port()}")  # never collide with a running sandbox
    bin_dir = str(Path(sys.executable).parent)  # tap-twilio, twilio-sandbox and python, as after scripts/setup.sh
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_TWILIO")}
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    proc = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{script}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = dict(line.split(":") for line in proc.stdout.splitlines() if line.endswith(tuple("0123456789")))
    assert int(counts["first.jsonl"]) > int(counts["second.jsonl"]) > 0, proc.stdout  # 30 days, then the lookback
    activated = re.findall(r'"stream":"(taskrouter_\w+)"', proc.stdout)
    assert len(activated) == 9, proc.stdout  # every TaskRouter stream but events is full table
    assert "taskrouter_events" not in activated
    state = json.loads((tmp_path / "state.json").read_text())
    config = json.loads((tmp_path / "sandbox.json").read_text())
    alerts = {p["context"]["account_sid"] for p in state["bookmarks"]["alerts"]["partitions"]}
    assert config["account_sid"] in alerts
    assert len(alerts) == 3  # the main account and both subaccounts
    assert config["auth_token"] not in (tmp_path / "first.jsonl").read_text() + proc.stderr
