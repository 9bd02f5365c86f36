#!/usr/bin/env bash
# The main job on the bundled sandbox: a full sync of every stream into output/twilio.duckdb, row counts, then the
# dbt marts built on it (transform/) and a few answers from them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
