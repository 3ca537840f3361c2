"""Stateless bearer tokens signed with SECRET_KEY: an address, an expiry, when its session began, and its session id."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from ..clock import Clock


@dataclass(frozen=True)
class Identity:
    """Who a credential says the caller is, until when, since when, and which sign-in (a renewal keeps both)."""

    address: str
    expires_at: int
    signed_in_at: int
    session: str = ""  # what a sign-out revokes: every token of one sign-in shares it


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

    def issue(self, address: str, renewing: Identity | None = None) -> Session:
        """A token for a new session (a fresh random id), or a renewal of one (its start and id kept)."""
        now = self._clock.now_ms()
        start = now if renewing is None else renewing.signed_in_at
        session = secrets.token_urlsafe(16) if renewing is None else renewing.session
        expires_at = min(now + self._ttl_ms, start + self._max_age_ms)
        return Session(self._serializer.dumps([address, expires_at, start, session]), address, expires_at)

    def ends_by(self, identity: Identity) -> int:
        """When no token of this session can be valid any more (ms): how long its sign-out must be remembered."""
        return max(identity.expires_at, identity.signed_in_at + self._max_age_ms)

    def verify(self, token: str) -> Identity | None:
        try:
            fields = self._serializer.loads(token)
            address, expires_at = fields[0], fields[1]
        except (BadData, TypeError, ValueError, KeyError, IndexError):
            return None
        # A token from before sessions were renewable has no start: it began one lifetime before it ends.
        signed_in_at = fields[2] if len(fields) > 2 else expires_at - self._ttl_ms
        # A token from before session ids names its sign-in by address and start: its renewals carry that name on.
        session = fields[3] if len(fields) > 3 else f"{address}@{signed_in_at}"
        if not (
            isinstance(address, str)
            and isinstance(expires_at, int)
            and isinstance(signed_in_at, int)
            and isinstance(session, str)
        ):
            return None
        return Identity(address, expires_at, signed_in_at, session) if expires_at > self._clock.now_ms() else None
