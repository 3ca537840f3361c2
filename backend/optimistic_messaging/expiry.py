"""Sessions end at their tokens' expiry, to the millisecond: a sweep once a second let a socket receive for up to a
second past its `expires_at`."""

from __future__ import annotations

import logging
from collections.abc import Callable

import gevent.event

from .clock import Clock
from .connections import Connection, Connections

log = logging.getLogger(__name__)

LONGEST_SLEEP_S = 1.0  # the sweeper sleeps until the next expiry, but never longer than this
LEAD_MS = 50  # sessions end this much before they expire: no message stored at or after the expiry is on its way yet


class ExpirySweeper:
    """Wakes at the earliest expiry among this node's sockets (or sooner, when a socket opens that ends before it)."""

    def __init__(self, connections: Connections, clock: Clock, end: Callable[[Connection], None]) -> None:
        self.connections = connections
        self.clock = clock
        self.end = end
        self._wake_at = 0  # ms
        self._sooner = gevent.event.Event()

    def opened(self, expires_at: int) -> None:
        """A socket was opened: wake the sweeper now if it would otherwise sleep past this one's expiry."""
        if expires_at - LEAD_MS < self._wake_at:
            self._sooner.set()

    def run(self) -> None:
        while True:
            now = self.clock.now_ms()
            next_expiry = self.connections.next_expiry()
            wait_ms = LONGEST_SLEEP_S * 1000
            if next_expiry is not None:
                wait_ms = min(wait_ms, max(0, next_expiry - LEAD_MS - now))
            self._wake_at = now + int(wait_ms)
            self._sooner.clear()
            self._sooner.wait(wait_ms / 1000)
            for conn in self.connections.expired(self.clock.now_ms() + LEAD_MS):
                try:
                    self.end(conn)
                except Exception:
                    log.exception("ending the expired session of %s failed", conn.sid)
