#!/usr/bin/env bash
# Create .venv and install the tap, the Twilio sandbox (its own distribution) and everything the tests, the demo
# and the benchmark use.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e packages/twilio-sandbox -e '.[test]'
