"""Logging: plain lines, or one JSON object per line (LOG_FORMAT=json) with the request's or socket's context."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("om_log_context", default=None)
"""What is being served (a REST request's method and path; a socket's sid, address and event), per greenlet."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the context where known, and the traceback of an exception as one string."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **(CONTEXT.get() or {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str, format: str) -> None:
    """Once, at start: the root logger's one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("geventwebsocket.handler").setLevel(logging.ERROR)  # access lines and client faults are noise
