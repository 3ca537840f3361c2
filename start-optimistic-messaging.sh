#!/usr/bin/env bash
# Sets up on first run, then serves the backend on $HOST:$PORT (default 127.0.0.1:5001) and a production build of the
# web app on http://localhost:$WEB_PORT (default 3000) until Ctrl-C, which stops both. The web app is rebuilt only
# when its sources or NEXT_PUBLIC_* settings changed. If either process ends, the other is stopped and the script
# says which ended and how. For development with hot reload: `cd apps/web && npm run dev`.
set -euo pipefail
cd "$(dirname "$0")"
port=${PORT:-5001}
web_port=${WEB_PORT:-3000}

busy() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$port" "$web_port"; do
  if busy "$p"; then
    echo "Port $p is already in use: stop what listens there, or choose another with PORT=… (backend) or WEB_PORT=… (web app). Nothing was started." >&2
    exit 1
  fi
done

scripts/setup.sh --web
# The app's origin must be one the backend allows, whatever port it is on.
export CORS_ORIGINS="${CORS_ORIGINS:-http://localhost:$web_port,http://127.0.0.1:$web_port}"
export SIWE_DOMAINS="${SIWE_DOMAINS:-localhost:$web_port,127.0.0.1:$web_port}"
export NEXT_PUBLIC_OPTIMISTIC_SERVER_URL="${NEXT_PUBLIC_OPTIMISTIC_SERVER_URL:-http://localhost:$port}"
node apps/web/scripts/build-if-changed.mjs

declare -A names=()
stop() { kill "${!names[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT
trap 'exit 130' INT TERM

.venv/bin/python backend/main.py &
names[$!]=backend
echo "Optimistic Messaging backend (pid $!) on http://${HOST:-127.0.0.1}:$port (data: ${DATA_FILE:-messages.json})" >&2
(cd apps/web && exec node_modules/.bin/next start -p "$web_port") &
names[$!]="web app"
echo "Web app (pid $!) on http://localhost:$web_port — open it in two windows; Ctrl-C stops everything." >&2

status=0
wait -n "${!names[@]}" || status=$?
for pid in "${!names[@]}"; do
  kill -0 "$pid" 2>/dev/null && continue
  if [ "$status" -gt 128 ]; then how="killed by signal $(kill -l $((status - 128)))"; else how="exited with status $status"; fi
  others=()
  for other in "${!names[@]}"; do [ "$other" = "$pid" ] || others+=("${names[$other]}"); done
  echo "The ${names[$pid]} (pid $pid) ended: $how. Stopping the ${others[*]} too." >&2
done
exit 1
