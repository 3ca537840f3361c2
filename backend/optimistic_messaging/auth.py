"""Sign-in and identity: SIWE nonces, signed expiring tokens, and the provider interface behind them."""
from __future__ import annotations

import hashlib
import hmac
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
_NONCE = re.compile(r"[0-9a-f]{56}")  # issued-at ms (12 hex) · random (20) · MAC (24)
_NONCE_LINE = re.compile(r"^Nonce: (\S+)$", re.MULTILINE)

@dataclass(frozen=True)
class Identity:
    """Who a credential says the caller is, and until when."""

    address: str
    expires_at: int


TokenVerifier = Callable[[str], "Identity | None"]
"""A provider of identity: a bearer credential in, the checksummed address and its expiry out (None: not mine)."""


@dataclass(frozen=True)
class Session:
    token: str
    address: str
    expires_at: int


class Nonces:
    """Single-use nonces that expire, signed rather than stored: issuing one costs no memory, so anonymous
    requests for nonces cannot crowd out anyone's; only used nonces are remembered, until they expire."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"optimistic-messaging-nonce\0" + secret_key.encode()).digest()
        self._used: OrderedDict[str, int] = OrderedDict()  # nonce -> when it expires
        self._since = now_ms()  # which nonces were used before a restart is not known: only this run's count

    def _mac(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self) -> str:
        body = f"{now_ms():012x}{secrets.token_hex(10)}"
        return body + self._mac(body)

    def consume(self, nonce: str) -> bool:
        """True once, for an unexpired nonce this server issued."""
        if not _NONCE.fullmatch(nonce) or not hmac.compare_digest(self._mac(nonce[:32]), nonce[32:]):
            return False
        now = now_ms()
        while self._used and next(iter(self._used.values())) < now:
            self._used.popitem(last=False)
        issued = int(nonce[:12], 16)
        expires = issued + NONCE_TTL_MS
        if expires < now or issued < self._since or nonce in self._used:
            return False
        self._used[nonce] = expires
        return True


class Tokens:
    """Stateless bearer tokens signed with SECRET_KEY: the address and an expiry."""

    def __init__(self, secret_key: str, ttl_s: int) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="optimistic-messaging-token")
        self._ttl_ms = ttl_s * 1000

    def issue(self, address: str) -> Session:
        expires_at = now_ms() + self._ttl_ms
        return Session(self._serializer.dumps([address, expires_at]), address, expires_at)

    def verify(self, token: str) -> Identity | None:
        try:
            address, expires_at = self._serializer.loads(token)
        except (BadData, TypeError, ValueError):
            return None
        return Identity(address, expires_at) if isinstance(expires_at, int) and expires_at > now_ms() else None


class Auth:
    """Sign-in with Ethereum, then identity from any of the configured token providers."""

    def __init__(self, config: Config) -> None:
        self.domains = frozenset(config.siwe_domains)
        self.nonces = Nonces(config.secret_key)
        self.tokens = Tokens(config.secret_key, config.token_ttl_s)
        self.verifiers: list[TokenVerifier] = [self.tokens.verify]

    def sign_in(self, message: object, signature: object) -> Session:
        """EIP-4361: the nonce is used up by any attempt, good or bad, before anything else is checked."""
        if not isinstance(message, str) or not isinstance(signature, str):
            raise ApiError("invalid", "'message' and 'signature' must be strings")
        try:
            siwe = parse_message(message)
        except SiweError as exc:
            for nonce in _NONCE_LINE.findall(message):  # unparseable: use up whatever it might have meant
                self.nonces.consume(nonce)
            raise ApiError("unauthorized", str(exc)) from None
        if not self.nonces.consume(siwe.nonce):
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

    def identify(self, token: object) -> Identity:
        """The signed-in identity, or `unauthorized`."""
        if isinstance(token, str) and token:
            for verify in self.verifiers:
                identity = verify(token)
                if identity is not None:
                    return identity
        raise ApiError("unauthorized", "missing, bad or expired token")
