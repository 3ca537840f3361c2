#!/usr/bin/env bash
# The one test command: sets itself up, then runs every test — the web app's type-check, lint and unit tests (Vitest),
# the backend's lint, format check and type check (ruff, mypy), then the pytest suites (the real server over real sockets, a real chain, real Chromium, several nodes on PostgreSQL
# and Redis behind HAProxy), then the server suites once more with every server on PostgreSQL instead of the log.
# The pytest passes run in two lanes side by side: each mostly waits on the servers it starts, so two cores take both.
# The second lane's output follows the first's. Extra arguments go to both full pytest runs (not to the wire's
# pure-Python pass).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test-tools --web
(cd apps/web && npm run --silent typecheck && npm run --silent lint && npm run --silent test)
.venv/bin/ruff check backend && .venv/bin/ruff format --check backend && .venv/bin/mypy

second=$(mktemp)
# The wire's tests again on its pure-Python path (what runs where no compiler built wire/_speedups.c), then every
# server on PostgreSQL (what depends on the store).
(
  OM_PURE_PYTHON=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_speedups.py tests/test_wire.py \
    tests/test_websocket_protocol.py tests/test_hostile.py
  OM_TEST_STORE=postgres .venv/bin/python -m pytest -p no:cacheprovider -m "not browser" "$@"
) >"$second" 2>&1 &
lane=$!
trap 'kill "$lane" 2>/dev/null || true; rm -f "$second"' EXIT
status=0
.venv/bin/python -m pytest "$@" || status=$?
wait "$lane" || status=$?
echo "=== beside it: the wire's pure-Python pass, then the PostgreSQL pass ==="
cat "$second"
exit "$status"
