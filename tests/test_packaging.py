"""The wheel: what it holds, its metadata, and that it runs on its own in a fresh virtualenv."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

from test_speedups import compiler
from twilio_sandbox import Sandbox

from tap_twilio.streams import STREAM_TYPES

pytestmark = pytest.mark.heavy(seconds=45)

ROOT = Path(__file__).resolve().parent.parent
PARALLEL_TEST_CACHES = {".bench", ".pytest_cache", ".ruff_cache", ".mypy_cache", "output"}  # output: the demo's test
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
STREAMS = sorted(stream.name for stream in STREAM_TYPES)
DUMMY_CONFIG = {"account_sid": "AC" + "0" * 32, "auth_token": "not-a-real-token"}
COMPILED = compiler() is not None  # hatch_build.py compiles the C converter with it
SPEEDUPS = f"tap_twilio/_speedups{sysconfig.get_config_var('EXT_SUFFIX')}"


def clean_env() -> dict[str, str]:
    """The environment without this session's virtualenv or Python path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if Path(sys.executable).parent.as_posix() != p
    )
    return env


def build_wheel(out: Path, env: dict[str, str] | None = None) -> Path:
    """`python -m build --wheel` of the working tree into `out`; the wheel."""
    before = set(ROOT.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    # anything new, but the caches that other tests, running in parallel, may create meanwhile
    left = sorted(p.name for p in set(ROOT.iterdir()) - before if p.name not in PARALLEL_TEST_CACHES)
    left += [p.name for p in (ROOT / "tap_twilio").iterdir() if p.name == "schemas"]
    assert not left, f"building the wheel left files in the repository: {left}"
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the working tree, built in a temporary directory."""
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv with the wheel and its dependencies from the package index (not this checkout)."""
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300, env=clean_env())
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


def names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def dist_info(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        (path,) = [n for n in archive.namelist() if n.endswith(f".dist-info/{name}")]
        return archive.read(path).decode()


def test_wheel_holds_every_schema(wheel: Path) -> None:
    files = names(wheel)
    missing = [s for s in STREAMS if f"tap_twilio/schemas/{s}.json" not in files]
    assert not missing, f"schemas missing from the wheel: {missing}"
    with zipfile.ZipFile(wheel) as archive:
        for stream in STREAMS:
            packaged = json.loads(archive.read(f"tap_twilio/schemas/{stream}.json"))
            assert packaged == json.loads((ROOT / "schemas" / f"{stream}.json").read_text()), stream
    assert {n for n in files if n.startswith("tap_twilio/schemas/")} == {
        f"tap_twilio/schemas/{s}.json" for s in STREAMS
    }


def test_wheel_holds_the_package_and_no_sandbox(wheel: Path) -> None:
    files = names(wheel)
    for source in sorted((ROOT / "tap_twilio").rglob("*.py")):
        assert source.relative_to(ROOT).as_posix() in files, source
    assert not any("sandbox" in n for n in files), "the sandbox is its own distribution"
    assert "tap_twilio/_speedups.c" not in files
    assert (SPEEDUPS in files) == COMPILED, "the C converter is compiled into the wheel wherever a compiler is"
    stray = sorted(n for n in files if not n.startswith(("tap_twilio/", "tap_twilio_sdk-")))
    assert not stray, f"unexpected files in the wheel: {stray[:10]}"
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in files)


def test_wheel_metadata(wheel: Path) -> None:
    project = PYPROJECT["project"]
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"  # with the C converter, for this Python only
    tag = f"{python}-{python}-" if COMPILED else "py3-none-any.whl"
    assert wheel.name.startswith(f"tap_twilio_sdk-{project['version']}-{tag}"), wheel.name
    meta = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert meta["Name"] == "tap-twilio-sdk"
    assert meta["Version"] == project["version"]
    assert meta["Requires-Python"] == ">=3.11"
    assert (meta["License-Expression"] or meta["License"]) == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names(wheel))
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.replace(" ", "").startswith("singer-sdk[msgspec]~=0.54.9") for r in requires), requires
    assert not any("extra ==" not in r and r.split()[0].lower().startswith(("pytest", "meltano")) for r in requires)
    assert meta.get("Description-Content-Type") == "text/markdown"
    assert "## Two commands" in meta.get_payload()  # the README is the long description

    entry_points = dist_info(wheel, "entry_points.txt")
    scripts = dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition("=") for line in entry_points.splitlines())
        if value
    )
    assert scripts["tap-twilio"] == "tap_twilio.cli:main"
    assert set(scripts) == {"tap-twilio", "tap-twilio-save-state", "tap-twilio-plan"}
    assert scripts["tap-twilio-plan"] == "tap_twilio.plan:main"
    assert "[console_scripts]" in entry_points


def run_in(venv: Path, *cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / cmd[0]), *cmd[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=clean_env(),
    )


def test_installed_wheel_discovers_from_packaged_schemas(fresh_venv: Path, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(DUMMY_CONFIG))
    where = run_in(
        fresh_venv,
        "python",
        "-c",
        "import tap_twilio, tap_twilio.client as c, tap_twilio.convert as v; print(tap_twilio.__file__);"
        " print(c._schema_dir()); print(v.speedups is not None)",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    module_file, schema_dir, compiled = where.stdout.split()
    assert compiled == str(COMPILED), "the wheel's C converter loads where it is installed"
    site = (fresh_venv / "lib").resolve()
    assert Path(module_file).resolve().is_relative_to(site), module_file
    assert Path(schema_dir).resolve().is_relative_to(site), schema_dir  # not the checkout's schemas/

    proc = run_in(fresh_venv, "tap-twilio", "--config", "config.json", "--discover", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    catalog = json.loads(proc.stdout)
    by_name = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert sorted(by_name) == STREAMS
    for stream, entry in by_name.items():
        source = json.loads((ROOT / "schemas" / f"{stream}.json").read_text())
        assert set(entry["schema"]["properties"]) >= set(source["properties"]), stream

    version = run_in(fresh_venv, "tap-twilio", "--version", cwd=tmp_path)
    assert version.stdout.startswith(f"tap-twilio v{PYPROJECT['project']['version']},"), version.stdout
    sandbox = subprocess.run(
        [str(fresh_venv / "bin" / "python"), "-c", "import twilio_sandbox"], capture_output=True, check=False
    )
    assert sandbox.returncode != 0, "the tap's wheel must not bring the sandbox"


def test_a_wheel_built_with_tap_twilio_speedups_0_is_pure_python(tmp_path: Path) -> None:
    built = build_wheel(tmp_path, env={**os.environ, "TAP_TWILIO_SPEEDUPS": "0"})
    assert built.name.endswith("-py3-none-any.whl"), built.name
    assert not any(n.endswith((".so", ".pyd", ".c")) for n in names(built))


def test_installed_wheel_syncs_the_sandbox(fresh_venv: Path, tmp_path: Path) -> None:
    """The wheel's own dependencies are enough to sync (records, state) against the sandbox."""
    with Sandbox(seed=3, days=10, sizes={"messages": 40}) as sb:
        (tmp_path / "config.json").write_text(json.dumps(sb.tap_config()))
        proc = run_in(fresh_venv, "tap-twilio", "--config", "config.json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        messages = [json.loads(line) for line in proc.stdout.splitlines()]
        records: dict[str, int] = {}
        for message in messages:
            if message["type"] == "RECORD":
                records[message["stream"]] = records.get(message["stream"], 0) + 1
        assert records["messages"] == len(sb.expected("messages"))
        assert records["accounts"] == len(sb.account_sids)
        assert any(m["type"] == "STATE" for m in messages)
