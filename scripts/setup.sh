#!/usr/bin/env bash
# Idempotent set-up: creates .venv and installs the project when missing or out of date;
# with --test-tools also the Node tools the tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11+ is required (found: $("$python" --version 2>&1))" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv

stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
  .venv/bin/python -m pip check
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Node tools the tests drive (anvil, a real local EVM node), from the npm registry by exact version.
if [ "${1:-}" = "--test-tools" ]; then
  command -v npm >/dev/null || { echo "Node 20+ with npm is required for the tests (anvil)" >&2; exit 1; }
  node_stamp="tests/node/node_modules/.installed-$(sha256sum tests/node/package-lock.json | cut -c1-16)"
  if [ ! -f "$node_stamp" ]; then
    echo "setup: installing test tools (npm ci in tests/node)" >&2
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
    touch "$node_stamp"
  fi
fi
