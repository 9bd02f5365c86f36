#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs pytest. PostgreSQL at 127.0.0.1:5432 is required: without
# it the run stops at once and says so (`pytest -m "not postgres"` runs the rest); with CI set, a skipped test fails.
# Four test processes on 2 cores, a file each at a time (pytest-xdist --dist loadfile: a file's shared fixtures, such
# as the installed Meltano project, are built once): many tests wait on subprocesses and the sandbox's latency, so
# four keep the cores busier than three (measured on one 2-core machine: 9:18 with -n 3, 8:16 with -n 4); pass -n 0
# to run in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n 4 --dist loadfile "$@"
