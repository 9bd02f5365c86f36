"""The suite's own rules: PostgreSQL is required (one message, no silent skips), a skip fails in CI, every test
reads only the repository, and the supported Python versions are the tested ones."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import tomllib

from tap_twilio.tap import TapTwilio

ROOT = Path(__file__).resolve().parent.parent
TESTED_PYTHONS = ("3.11",)  # the interpreters CI runs the suite on (CONTRIBUTING.md, docs/testing.md)


def pytest_run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def with_suite_hooks(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest on test files written in tmp_path, with the suite's hooks (-p conftest) and settings, in one process."""
    plugin = ["-p", "conftest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-n", "0"]
    path = {"PYTHONPATH": os.pathsep.join((str(ROOT / "tests"), str(ROOT)))}
    return pytest_run(*plugin, *args, env={**path, **env}, cwd=tmp_path)


def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])  # nothing listens once the socket is closed


def test_without_postgresql_the_suite_stops_at_once_and_names_it():
    for workers in ("0", "2"):
        run = pytest_run("tests/test_core.py", "-n", workers, env={"TAP_TWILIO_TEST_PG_PORT": closed_port()})
        output = run.stdout + run.stderr
        assert run.returncode != 0, output
        assert "PostgreSQL is not reachable" in output and "pytest -m 'not postgres'" in output
        assert " passed" not in output and "skipped" not in output


def test_without_postgresql_the_tests_that_need_none_run_when_asked():
    run = pytest_run(
        "tests/test_core.py",
        "tests/test_meltano.py::test_meltano_yml_declares_every_setting_of_the_tap",
        "-n",
        "0",
        "-m",
        "not postgres",
        env={"TAP_TWILIO_TEST_PG_PORT": closed_port()},
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "skipped" not in run.stdout and "deselected" not in run.stdout


def test_a_skipped_test_fails_in_ci_and_is_reported_elsewhere(tmp_path):
    (tmp_path / "test_skips.py").write_text("import pytest\n\ndef test_x():\n    pytest.skip('no widget')\n")
    in_ci = with_suite_hooks(tmp_path, str(tmp_path / "test_skips.py"), CI="true")
    assert in_ci.returncode == 1, in_ci.stdout
    assert "skipped in CI, where every test must run" in in_ci.stdout and "no widget" in in_ci.stdout
    locally = with_suite_hooks(tmp_path, str(tmp_path / "test_skips.py"))
    assert locally.returncode == 0, locally.stdout
    assert "SKIPPED" in locally.stdout and "no widget" in locally.stdout  # -ra lists every skip


def test_heavy_files_are_collected_first_the_longest_first_and_each_says_how_long(tmp_path):
    files = {"test_a.py": "", "test_b.py": "(seconds=10)", "test_c.py": "(seconds=90)", "test_d.py": "(seconds=40)"}
    for name, weight in files.items():
        mark = f"pytestmark = pytest.mark.heavy{weight}\n" if weight else ""
        (tmp_path / name).write_text(f"import pytest\n{mark}\ndef test_one():\n    pass\n\ndef test_two():\n    pass\n")
    run = with_suite_hooks(tmp_path, "--collect-only", "-q", *sorted(files))
    assert run.returncode == 0, run.stdout
    order = [line.split("::")[0] for line in run.stdout.splitlines() if "::" in line]
    assert order == ["test_c.py"] * 2 + ["test_d.py"] * 2 + ["test_b.py"] * 2 + ["test_a.py"] * 2
    (tmp_path / "test_e.py").write_text("import pytest\npytestmark = pytest.mark.heavy\n\ndef test_x():\n    pass\n")
    unweighed = with_suite_hooks(tmp_path, "--collect-only", "-q", "test_e.py")
    assert unweighed.returncode == 4 and "test_e.py: mark heavy with seconds=" in unweighed.stdout + unweighed.stderr


def test_no_test_benchmark_or_script_reads_a_file_outside_the_repository():
    outside = re.compile(r"""["'](/(?:work|home|root|opt|srv|mnt|usr/share)/[^"']*)["']""")
    found = [
        f"{path.relative_to(ROOT)}: {m.group(1)}"
        for folder in ("tests", "benchmarks", "scripts", "tools", "packages")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".py", ".sh") and ".venv" not in path.parts
        for m in outside.finditer(path.read_text())
    ]
    assert found == []


def test_the_supported_python_versions_are_the_tested_ones():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    classified = tuple(
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    assert classified == TESTED_PYTHONS
    assert project["requires-python"] == f">={TESTED_PYTHONS[0]}"
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in TESTED_PYTHONS, "this interpreter is not tested"
    readme = (ROOT / "README.md").read_text()
    reference = (ROOT / "docs" / "configuration.md").read_text()  # the --about block
    listed = re.search(r"## Supported Python Versions\n\n((?:- .*\n)+)", reference)
    assert listed, "docs/configuration.md's --about block lists the supported versions"
    assert tuple(line[2:].strip() for line in listed.group(1).splitlines()) == TESTED_PYTHONS
    assert not any(re.search(r"Python 3\.10|3\.10\+", text) for text in (readme, reference))
    about = TapTwilio.get_supported_python_versions()
    assert about is None or tuple(about) == TESTED_PYTHONS
