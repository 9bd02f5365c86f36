#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs pytest (PostgreSQL at 127.0.0.1:5432 is used if up).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
