"""Sign-in nonces: signed rather than stored, so issuing one costs no memory and anonymous requests for nonces cannot
crowd out anyone's; only used nonces are remembered (by a ledger of nonces/), until they expire."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

from ..clock import Clock
from ..nonces import UsedNonces

NONCE_TTL_MS = 5 * 60 * 1000
NONCE = re.compile(r"[0-9a-f]{56}")  # issued-at ms (12 hex) · random (20; its top bit: bound) · MAC (24)


class Nonces:
    """Issues nonces under the server's key and uses each up once, within NONCE_TTL_MS of its issue."""

    def __init__(self, secret_key: str, used: UsedNonces, clock: Clock) -> None:
        self._key = hashlib.sha256(b"optimistic-messaging-nonce\0" + secret_key.encode()).digest()
        self._proof_key = hashlib.sha256(b"optimistic-messaging-nonce-proof\0" + secret_key.encode()).digest()
        self._used = used
        self._clock = clock

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self, bound: bool = False) -> str:
        """A fresh nonce; a `bound` one (its flag under the MAC, so nobody can strip it) signs in by transaction only
        with its `proof`."""
        random = int.from_bytes(secrets.token_bytes(10), "big") & ~(1 << 79) | (bound << 79)
        body = f"{self._clock.now_ms():012x}{random:020x}"
        return body + self._mac(body)

    @staticmethod
    def is_bound(nonce: str) -> bool:
        return NONCE.fullmatch(nonce) is not None and int(nonce[12], 16) >= 8

    def proof(self, nonce: str) -> str:
        """What only the one who asked for `nonce` is told: a sign-in transaction puts its nonce where anyone can read
        it (the mempool, then the chain), so redeeming a bound nonce also takes this."""
        return hmac.new(self._proof_key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def proves(self, nonce: str, proof: str) -> bool:
        return hmac.compare_digest(self.proof(nonce), proof)

    def consume(self, nonce: str) -> bool:
        """True once, for an unexpired nonce this server issued."""
        if not NONCE.fullmatch(nonce) or not hmac.compare_digest(self._mac(nonce[:32]), nonce[32:]):
            return False
        issued = int(nonce[:12], 16)
        expires = issued + NONCE_TTL_MS
        return expires >= self._clock.now_ms() and self._used.use(nonce, issued, expires)

    def consume_all(self, nonces: Iterable[str]) -> set[str]:
        """Use up every one of them (an attempt spends every nonce it names); the ones that were fresh."""
        return {nonce for nonce in set(nonces) if self.consume(nonce)}
