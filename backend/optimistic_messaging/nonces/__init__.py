"""Which sign-in nonces were used, each until it expires: in this process (`LocalUsedNonces`), or shared by every node
(nonces/postgres.py in the database, nonces/redis.py in Redis). Issuing and checking nonces is auth's (auth/nonces.py).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from ..clock import Clock


class UsedNonces(Protocol):
    """Which nonces were used: in this process, or shared by every node."""

    def use(self, nonce: str, issued_ms: int, expires_ms: int) -> bool:
        """True the first time a nonce is used; False if it was used before (or may have been)."""

    def forget(self, nonce: str) -> None:
        """Undo a use whose purpose failed, so the nonce may be used again."""


class LocalUsedNonces:
    """One process's memory of used nonces. A nonce issued before this process started may have been used by the
    process before it, which nothing here remembers: it is refused."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._used: OrderedDict[str, int] = OrderedDict()  # nonce -> when it expires, in order of use
        self._since = clock.now_ms()

    def use(self, nonce: str, issued_ms: int, expires_ms: int) -> bool:
        now = self._clock.now_ms()
        while self._used and next(iter(self._used.values())) < now:
            self._used.popitem(last=False)
        if issued_ms < self._since or nonce in self._used:
            return False
        self._used[nonce] = expires_ms
        return True

    def forget(self, nonce: str) -> None:
        self._used.pop(nonce, None)
