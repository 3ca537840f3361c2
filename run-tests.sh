#!/usr/bin/env bash
# The one test command: sets itself up, then runs every test — the web app's type-check, lint and unit tests (Vitest),
# then the pytest suites (the real server over real sockets, a real chain, real Chromium). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test-tools --web
(cd apps/web && npm run --silent typecheck && npm run --silent lint && npm run --silent test)
exec .venv/bin/python -m pytest "$@"
