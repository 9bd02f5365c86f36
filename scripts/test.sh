#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs pytest. PostgreSQL at 127.0.0.1:5432 is required: without
# it the run stops at once and says so (`pytest -m "not postgres"` runs the rest); with CI set, a skipped test fails.
# Three test processes, a file each at a time (pytest-xdist --dist loadfile: a file's shared fixtures, such as
# the installed Meltano project, are built once); pass -n 0 to run in one process. (Four were tried on a 2-core
# machine: the working tree's suite took 8:16 against 9:18 with three, but a clean clone's, which also installs
# Meltano and Airflow in the tests, 11:59 against 10:15 and, an hour later, 14:10 with three: the machine's speed
# moved more than the setting did.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n 3 --dist loadfile "$@"
