"""dbt for the tests: its own virtualenv (pinned versions, created once under a file lock) and `dbt build` runs.

dbt-core 1.11 and its adapters pin protobuf, networkx and friends that the tap's dependencies need not share, so dbt
lives in `.bench/dbt-venv` (git-ignored; override with TAP_TWILIO_DBT_VENV), like Meltano in test_meltano.py. Runs
write their target/ and logs/ into a temporary folder, never into transform/.
"""

from __future__ import annotations

import fcntl
import functools
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "transform"
PINS = ("dbt-core==1.11.16", "dbt-postgres==1.11.0", "dbt-duckdb==1.11.1", "duckdb==1.2.2")
DBT_VENV = Path(os.environ.get("TAP_TWILIO_DBT_VENV", ROOT / ".bench" / "dbt-venv"))
MARTS = (
    "twilio__messages",
    "twilio__calls",
    "twilio__account_daily",
    "twilio__number_overview",
    "twilio__verify_daily",
    "twilio__conversation_overview",
)


def _installed(python: Path) -> bool:
    if not python.exists():
        return False
    check = (
        "import importlib.metadata as m, sys; sys.stdout.write(' '.join(f'{p}=={m.version(p)}' for p in sys.argv[1:]))"
    )
    names = [pin.split("==")[0] for pin in PINS]
    proc = subprocess.run([str(python), "-c", check, *names], capture_output=True, text=True, check=False)
    return proc.returncode == 0 and proc.stdout.split() == list(PINS)


@functools.cache
def dbt_executable() -> Path:
    """The dbt executable of the cached virtualenv (created here if missing: ~30 s once per machine)."""
    python = DBT_VENV / "bin" / "python"
    DBT_VENV.parent.mkdir(parents=True, exist_ok=True)
    # test processes run in parallel (pytest-xdist): one creates the virtualenv, the others wait for it
    with open(DBT_VENV.parent / f".{DBT_VENV.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed(python):
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(DBT_VENV)], check=True, timeout=300)
            proc = subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *PINS],
                capture_output=True,
                text=True,
                check=False,
                timeout=900,
            )
            assert proc.returncode == 0, f"pip install {' '.join(PINS)} failed:\n{proc.stderr[-3000:]}"
    assert _installed(python)
    return DBT_VENV / "bin" / "dbt"


def dbt(adapter: str, work: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` on the repository's project with profiles/<adapter>; target/ and logs/ under work."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "TWILIO_", "VIRTUAL_ENV"))}
    base.update(
        DBT_TARGET_PATH=str(work / "target"),
        DBT_LOG_PATH=str(work / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        **env,
    )
    return subprocess.run(
        [
            str(dbt_executable()),
            *args,
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT / "profiles" / adapter),
        ],
        cwd=work,
        env=base,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )


def build(adapter: str, work: Path, **env: str) -> str:
    """`dbt build` (every model and every test); its output. Fails the test on any error, warning or skip."""
    proc = dbt(adapter, work, "build", "--warn-error", **env)
    tail = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, f"dbt build on {adapter} failed:\n{tail}"
    summary = next(line for line in reversed(proc.stdout.splitlines()) if "Done. PASS=" in line)
    assert " WARN=0 ERROR=0 SKIP=0 " in summary, summary
    return proc.stdout
