#!/usr/bin/env bash
# Sets up on first run, then serves the backend on $HOST:$PORT (default 127.0.0.1:5001) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
echo "Optimistic Messaging backend on http://${HOST:-127.0.0.1}:${PORT:-5001} (data: ${DATA_FILE:-messages.json}); Ctrl-C stops it." >&2
exec .venv/bin/python backend/main.py
