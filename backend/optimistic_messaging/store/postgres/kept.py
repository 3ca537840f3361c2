"""Keys every node of one database shares, made once by whichever node needs one first."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from . import schema

CONNECT_TIMEOUT_S = 10


def kept_key(url: str, name: str, make: Callable[[], str]) -> str:
    """The key kept under `name`; the first node to ask makes it, the others read that one."""
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        schema.migrate(conn)
        conn.execute("INSERT INTO kept_keys (name, value) VALUES (%s, %s) ON CONFLICT DO NOTHING", (name, make()))
        row = conn.execute("SELECT value FROM kept_keys WHERE name = %s", (name,)).fetchone()
    assert row is not None  # inserted above unless it was there
    return str(row[0])
