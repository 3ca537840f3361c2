"""Used nonces in the database every node shares, when there is no Redis."""

from __future__ import annotations

from typing import Protocol

from ..clock import Clock


class Query(Protocol):
    def __call__(self, query: str, params: tuple[object, ...]) -> list[tuple[object, ...]]: ...


class PgUsedNonces:
    """Used nonces in the database every node shares (`used_nonces`): a nonce is used once across all of them."""

    PRUNE_EVERY = 100  # uses between deletions of expired ones

    def __init__(self, query: Query, clock: Clock) -> None:
        self._query = query
        self._clock = clock
        self._uses = 0

    def use(self, nonce: str, issued_ms: int, expires_ms: int) -> bool:
        self._uses += 1
        if self._uses % self.PRUNE_EVERY == 0:
            self._query("DELETE FROM used_nonces WHERE expires_at < %s RETURNING 1", (self._clock.now_ms(),))
        return bool(
            self._query(
                "INSERT INTO used_nonces (nonce, expires_at) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (nonce, expires_ms),
            )
        )

    def forget(self, nonce: str) -> None:
        self._query("DELETE FROM used_nonces WHERE nonce = %s RETURNING 1", (nonce,))
