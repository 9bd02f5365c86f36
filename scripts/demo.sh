#!/usr/bin/env bash
# The main job on the bundled sandbox: a full sync of every stream into output/twilio.duckdb, then row counts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
