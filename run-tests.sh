#!/usr/bin/env bash
# The one test command: sets itself up, then runs every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test-tools
exec .venv/bin/python -m pytest "$@"
