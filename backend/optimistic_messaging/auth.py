"""Sign-in and identity: SIWE nonces, signed expiring tokens, and the provider interface behind them."""
from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from itsdangerous import BadData, URLSafeSerializer

from .config import Config
from .errors import ApiError
from .models import now_ms
from .siwe import SiweError, parse_message, recover_signer

NONCE_TTL_MS = 5 * 60 * 1000
MAX_OUTSTANDING_NONCES = 100_000
_NONCE_LINE = re.compile(r"^Nonce: (\S+)$", re.MULTILINE)

TokenVerifier = Callable[[str], "str | None"]
"""A provider of identity: a bearer credential in, the checksummed address out (None: not mine)."""


@dataclass(frozen=True)
class Session:
    token: str
    address: str
    expires_at: int


class Nonces:
    """Single-use nonces that expire; the oldest are dropped first if too many are outstanding."""

    def __init__(self) -> None:
        self._issued: OrderedDict[str, int] = OrderedDict()

    def issue(self) -> str:
        now = now_ms()
        while self._issued and (next(iter(self._issued.values())) < now
                                or len(self._issued) >= MAX_OUTSTANDING_NONCES):
            self._issued.popitem(last=False)
        nonce = secrets.token_hex(16)
        self._issued[nonce] = now + NONCE_TTL_MS
        return nonce

    def consume(self, nonce: str) -> bool:
        """True once, for an unexpired nonce this server issued."""
        expires = self._issued.pop(nonce, None)
        return expires is not None and expires >= now_ms()


class Tokens:
    """Stateless bearer tokens signed with SECRET_KEY: the address and an expiry."""

    def __init__(self, secret_key: str, ttl_s: int) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="optimistic-messaging-token")
        self._ttl_ms = ttl_s * 1000

    def issue(self, address: str) -> Session:
        expires_at = now_ms() + self._ttl_ms
        return Session(self._serializer.dumps([address, expires_at]), address, expires_at)

    def verify(self, token: str) -> str | None:
        try:
            address, expires_at = self._serializer.loads(token)
        except (BadData, TypeError, ValueError):
            return None
        return address if isinstance(expires_at, int) and expires_at > now_ms() else None


class Auth:
    """Sign-in with Ethereum, then identity from any of the configured token providers."""

    def __init__(self, config: Config) -> None:
        self.domains = frozenset(config.siwe_domains)
        self.nonces = Nonces()
        self.tokens = Tokens(config.secret_key, config.token_ttl_s)
        self.verifiers: list[TokenVerifier] = [self.tokens.verify]

    def sign_in(self, message: object, signature: object) -> Session:
        """EIP-4361: the nonce is used up by any attempt, good or bad, before anything else is checked."""
        if not isinstance(message, str) or not isinstance(signature, str):
            raise ApiError("invalid", "'message' and 'signature' must be strings")
        nonce = _NONCE_LINE.search(message)
        fresh = nonce is not None and self.nonces.consume(nonce.group(1))
        try:
            siwe = parse_message(message)
        except SiweError as exc:
            raise ApiError("unauthorized", str(exc)) from None
        if not fresh:
            raise ApiError("unauthorized", "SIWE 'Nonce' was not issued by this server, has expired or was already used")
        if siwe.domain not in self.domains:
            raise ApiError("unauthorized", f"SIWE domain {siwe.domain!r} is not an allowed domain")
        now = now_ms()
        if siwe.expiration_time is not None and siwe.expiration_time <= now:
            raise ApiError("unauthorized", "SIWE message has expired ('Expiration Time')")
        if siwe.not_before is not None and siwe.not_before > now:
            raise ApiError("unauthorized", "SIWE message is not valid yet ('Not Before')")
        try:
            signer = recover_signer(message, signature)
        except SiweError as exc:
            raise ApiError("unauthorized", str(exc)) from None
        if signer != siwe.address:
            raise ApiError("unauthorized", "signature was not made by the message's address")
        return self.tokens.issue(signer)

    def identify(self, token: object) -> str:
        """The signed-in address, or `unauthorized`."""
        if isinstance(token, str) and token:
            for verify in self.verifiers:
                address = verify(token)
                if address is not None:
                    return address
        raise ApiError("unauthorized", "missing, bad or expired token")
