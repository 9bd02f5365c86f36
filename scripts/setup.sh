#!/usr/bin/env bash
# Create .venv and install the tap, the Twilio sandbox (its own distribution) and everything the tests, the demo
# and the benchmark use. Both are installed editable, so a later run reinstalls only when a pyproject.toml changed
# (a reinstall while tests run would pull the packages from under them: tests/test_demo.py runs the demo as written),
# or when the C converter's source or its build hook changed (the editable install compiles it next to its source).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-from
wanted="$(cat pyproject.toml packages/twilio-sandbox/pyproject.toml hatch_build.py tap_twilio/_speedups.c | sha256sum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e packages/twilio-sandbox -e '.[test]'
  echo "$wanted" > "$stamp"
fi
# dbt (transform/) in its own virtualenv, git-ignored: dbt-core 1.11 pins protobuf, networkx and friends that are not
# the tap's business (the same pins as meltano.yml's dbt-core transformer; tests/dbt_runner.py takes the same lock)
mkdir -p .bench
if [ ! -x .bench/dbt-venv/bin/python ]; then
  python3 -m venv .bench/dbt-venv
fi
flock .bench/.dbt-venv.lock .bench/dbt-venv/bin/python -m pip install -q --disable-pip-version-check \
  dbt-core==1.11.16 dbt-postgres==1.11.0 dbt-duckdb==1.11.1 duckdb==1.2.2
