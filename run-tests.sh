#!/usr/bin/env bash
# The one test command: sets itself up, then runs every test — the web app's type-check, lint and unit tests (Vitest),
# the backend's lint, format check and type check (ruff, mypy), then the pytest suites (the real server over real sockets, a real chain, real Chromium, several nodes on PostgreSQL
# and Redis behind HAProxy), then the server suites once more with every server on PostgreSQL instead of the log.
# The pytest passes run in two lanes side by side: each mostly waits on the servers it starts, so two cores take both.
# The second lane's output follows the first's. Extra arguments go to every pytest run but the wire's pure-Python
# pass.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test-tools --web
(cd apps/web && npm run --silent typecheck && npm run --silent lint && npm run --silent test)
.venv/bin/ruff check backend && .venv/bin/ruff format --check backend && .venv/bin/mypy

# A pass that the arguments leave nothing to run (pytest's exit code 5: say, only browser tests named) has not failed.
pass_() { .venv/bin/python -m pytest "$@" || [ $? -eq 5 ]; }

second=$(mktemp)
# The wire's tests again on its pure-Python path (what runs where no compiler built wire/_speedups.c), the tests that
# run once whatever the store (taken off the first lane, so that both take about as long), then every server on
# PostgreSQL (what depends on the store).
(
  failed=0
  OM_PURE_PYTHON=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_speedups.py tests/test_wire.py \
    tests/test_websocket_protocol.py tests/test_hostile.py || failed=1
  OM_TEST_ONCE=only pass_ -p no:cacheprovider "$@" || failed=1
  OM_TEST_STORE=postgres pass_ -p no:cacheprovider -m "not browser" "$@" || failed=1
  exit "$failed"
) >"$second" 2>&1 &
lane=$!
trap 'kill "$lane" 2>/dev/null || true; rm -f "$second"' EXIT
status=0
OM_TEST_ONCE=apart pass_ "$@" || status=$?
wait "$lane" || status=$?
echo "=== beside it: the wire's pure-Python pass, the tests that run once whatever the store, the PostgreSQL pass ==="
cat "$second"
exit "$status"
