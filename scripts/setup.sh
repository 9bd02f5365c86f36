#!/usr/bin/env bash
# Create .venv and install the tap, the Twilio sandbox (its own distribution) and everything the tests, the demo
# and the benchmark use. Both are installed editable, so a later run reinstalls only when a pyproject.toml changed
# (a reinstall while tests run would pull the packages from under them: tests/test_demo.py runs the demo as written).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-from
wanted="$(cat pyproject.toml packages/twilio-sandbox/pyproject.toml | sha256sum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e packages/twilio-sandbox -e '.[test]'
  echo "$wanted" > "$stamp"
fi
