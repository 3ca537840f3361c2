#!/usr/bin/env bash
# Sets up on first run, then serves the backend on $HOST:$PORT (default 127.0.0.1:5001) and the web app on
# http://localhost:3000 until Ctrl-C, which stops both.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --web
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM
echo "Optimistic Messaging backend on http://${HOST:-127.0.0.1}:${PORT:-5001} (data: ${DATA_FILE:-messages.json})" >&2
.venv/bin/python backend/main.py &
pids+=($!)
echo "Web app on http://localhost:3000 — open it in two windows; Ctrl-C stops everything." >&2
(cd apps/web && NEXT_PUBLIC_OPTIMISTIC_SERVER_URL="${NEXT_PUBLIC_OPTIMISTIC_SERVER_URL:-http://localhost:${PORT:-5001}}" \
  exec node_modules/.bin/next dev -p 3000) &
pids+=($!)
wait -n "${pids[@]}"
