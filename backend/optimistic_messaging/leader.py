"""Who settles: the reconciler works on one node at a time. One process is always the leader; several nodes elect one
with a PostgreSQL advisory lock, which its session holds until it ends (a node that dies lets another take over)."""

from __future__ import annotations

import logging
from typing import Protocol

import gevent
import psycopg

from .pgdown import DOWN

log = logging.getLogger(__name__)

RECONCILER_LOCK = 0x6F6D_0002  # "om", the reconciler
CHECK_S = 1.0  # how often a follower tries to take over, and the leader checks it still holds the lock


class Leadership(Protocol):
    def is_leader(self) -> bool: ...


class Always:
    """The only process: always the leader."""

    @staticmethod
    def is_leader() -> bool:
        return True


ALWAYS = Always()


class AdvisoryLock:
    """Leader while this node's own session holds the advisory lock; the session ending (node death, a lost
    connection) releases it, and another node takes it within CHECK_S."""

    def __init__(self, url: str, key: int = RECONCILER_LOCK) -> None:
        self.url = url
        self.key = key
        self._leader = False
        self._conn: psycopg.Connection | None = None
        self._runner: gevent.Greenlet | None = None

    def is_leader(self) -> bool:
        return self._leader

    def start(self) -> None:
        self._runner = gevent.spawn(self._run)

    def close(self) -> None:
        """Stop electing and end the session, which lets go of the lock for another node to take."""
        if self._runner is not None:
            self._runner.kill()
            self._runner = None
        self._leader = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self) -> None:
        while True:
            try:
                self._check()
            except DOWN as exc:
                if self._leader:
                    log.warning("reconciler leadership lost: %s", exc)
                self._leader = False
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
            gevent.sleep(CHECK_S)

    def _check(self) -> None:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._leader = False
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
        if self._leader:
            self._conn.execute("SELECT 1")  # the session, and so the lock, still stands
            return
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if row and row[0]:
            self._leader = True
            log.info("this node now runs the reconciler")
