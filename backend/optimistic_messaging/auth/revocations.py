"""Sessions signed out before their maximum age, held in memory so a token check never reads the database: loaded
from the store at start and again at every resync, and learned from the broker as any node signs one out."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable

from ..clock import Clock
from ..errors import ApiError
from ..store import Commit, Store

log = logging.getLogger(__name__)

Ended = Callable[[str], None]
"""Told of each session this node learns is signed out, once (its sockets here end; push subscriptions, issue 17,
key on the same session id and end here too)."""


class Revocations:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._until: dict[str, int] = {}
        self._expiry: list[tuple[int, str]] = []  # (until, session): forgotten in this order
        self._ended: list[Ended] = []

    def __contains__(self, session: str) -> bool:
        until = self._until.get(session)
        return until is not None and until > self.clock.now_ms()

    def __len__(self) -> int:
        return len(self._until)

    def on_revoked(self, callback: Ended) -> None:
        self._ended.append(callback)

    def revoke(self, session: str, until: int) -> None:
        """Sign a session out on every node: durable first (the store announces it), then refused here at once."""
        self.store.revoke_session(session, until)
        self._learn(session, until)

    def noticed(self, commit: Commit) -> None:
        """Broker listener: a sign-out on any node."""
        for revoked in commit.revoked:
            self._learn(revoked.session, revoked.until)

    def load(self, announce: bool = True) -> None:
        """Read every sign-out in force from the store (at start, where no socket is open yet to end: `announce`
        False; and after notifications may have been missed)."""
        try:
            found = self.store.revoked_sessions()
        except ApiError as exc:
            log.warning("could not read the sessions signed out: %s; trying again at the next resync", exc)
            return
        for session, until in found.items():
            self._learn(session, until, announce)

    def _learn(self, session: str, until: int, announce: bool = True) -> None:
        now = self.clock.now_ms()
        while self._expiry and self._expiry[0][0] <= now:  # past their maximum age: no token of theirs is valid
            _, gone = heapq.heappop(self._expiry)
            if self._until.get(gone, now + 1) <= now:
                del self._until[gone]
        if until <= now or self._until.get(session, 0) >= until:
            return
        known = session in self._until
        self._until[session] = until
        heapq.heappush(self._expiry, (until, session))
        if known or not announce:
            return
        for ended in self._ended:
            try:
                ended(session)
            except Exception:
                log.exception("ending a signed-out session failed")
