"""Stateless bearer tokens signed with SECRET_KEY: an address, an expiry, and when its session began."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from ..clock import Clock


@dataclass(frozen=True)
class Identity:
    """Who a credential says the caller is, until when, and since when (a renewal keeps the session's start)."""

    address: str
    expires_at: int
    signed_in_at: int


@dataclass(frozen=True)
class Session:
    token: str
    address: str
    expires_at: int


class Tokens:
    """A token lives TOKEN_TTL_S; renewed, a session lives at most SESSION_MAX_AGE_S from its sign-in."""

    def __init__(self, secret_key: str, ttl_s: int, max_age_s: int, clock: Clock) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="optimistic-messaging-token")
        self._ttl_ms = ttl_s * 1000
        self._max_age_ms = max_age_s * 1000
        self._clock = clock

    def issue(self, address: str, signed_in_at: int | None = None) -> Session:
        """A token for a new session, or (given when it began) a renewal of one."""
        now = self._clock.now_ms()
        start = now if signed_in_at is None else signed_in_at
        expires_at = min(now + self._ttl_ms, start + self._max_age_ms)
        return Session(self._serializer.dumps([address, expires_at, start]), address, expires_at)

    def verify(self, token: str) -> Identity | None:
        try:
            fields = self._serializer.loads(token)
            address, expires_at = fields[0], fields[1]
        except (BadData, TypeError, ValueError, KeyError, IndexError):
            return None
        # A token from before sessions were renewable has no start: it began one lifetime before it ends.
        signed_in_at = fields[2] if len(fields) > 2 else expires_at - self._ttl_ms
        if not (isinstance(address, str) and isinstance(expires_at, int) and isinstance(signed_in_at, int)):
            return None
        return Identity(address, expires_at, signed_in_at) if expires_at > self._clock.now_ms() else None
