"""Webhook events already accepted: a JSON Farcaster Signature carries no nonce or time, so a copy of an event would
verify as well as the event itself, at any later time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..clock import Clock
from ..nonces import UsedNonces
from .signatures import Signed, unauthorized

REPLAY_WINDOW_MS = 7 * 24 * 3600 * 1000
T = TypeVar("T")


class Replays:
    """Each accepted event's signed content, remembered for REPLAY_WINDOW_MS in the ledger of used nonces (the one
    every node shares, in Redis or the database, when they share one)."""

    def __init__(self, used: UsedNonces, clock: Clock) -> None:
        self._used = used
        self._clock = clock

    def once(self, signed: Signed, apply: Callable[[], T]) -> T:
        """`apply` for the first copy of an event; a copy of one already accepted is `unauthorized`. An event whose
        `apply` fails is forgotten, so the client's retry is not taken for a replay."""
        now, nonce = self._clock.now_ms(), f"farcaster-event:{signed.digest}"
        if not self._used.use(nonce, now, now + REPLAY_WINDOW_MS):
            raise unauthorized("this signed event was already accepted (a replay)")
        try:
            return apply()
        except Exception:
            self._used.forget(nonce)
            raise
