#!/usr/bin/env bash
# Idempotent set-up: creates .venv and installs the project when missing or out of date;
# --web adds the web app's packages, --test-tools the tools the tests drive (anvil, Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11+ is required (found: $("$python" --version 2>&1))" >&2; exit 1; }

[ -x .venv/bin/python ] || "$python" -m venv .venv

# Reinstalled when the dependencies or the optional C extension change (pip builds it in place, beside its source).
stamp=".venv/.installed-$(cat pyproject.toml setup.py backend/optimistic_messaging/wire/_speedups.c | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
  .venv/bin/python -m pip check
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Another checkout sharing this .venv (a git worktree) builds its own copy of the extension beside its source.
if command -v cc >/dev/null && ! compgen -G "backend/optimistic_messaging/wire/_speedups*.so" >/dev/null; then
  echo "setup: building backend/optimistic_messaging/wire/_speedups.c" >&2
  .venv/bin/python setup.py --quiet build_ext --inplace >/dev/null 2>&1 || echo "setup: not built (pure Python)" >&2
fi

# npm ci in a folder whose lockfile changed since the last install.
npm_ci() {
  command -v npm >/dev/null || { echo "Node 20+ with npm is required" >&2; exit 1; }
  local stamp="$1/node_modules/.installed-$(sha256sum "$1/package-lock.json" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "setup: npm ci in $1" >&2
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
  fi
}

for want in "$@"; do
  case "$want" in
    --web) npm_ci apps/web ;;
    --test-tools)
      npm_ci tests/node  # anvil, a real local EVM node; a Farcaster client stand-in (miniapp-host, esbuild)
      # From Debian: Chromium for the browser tests (a test tool's own browser download does not work here), an
      # emoji font (reactions are emoji: a phone has one, the screenshots need one) and HAProxy, the load balancer in
      # front of several nodes.
      missing=()
      command -v chromium >/dev/null || missing+=(chromium)
      [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
      command -v haproxy >/dev/null || missing+=(haproxy)
      if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing ${missing[*]} (apt)" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
      fi
      # The machine's PostgreSQL and Redis (the tests' store of record and shared state), started if they are down.
      if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "setup: starting PostgreSQL" >&2
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort | tail -n 1)" main start
      fi
      if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        echo "setup: starting Redis" >&2
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
          --dir /var/lib/redis --logfile /var/log/redis/ci.log
      fi ;;
  esac
done
