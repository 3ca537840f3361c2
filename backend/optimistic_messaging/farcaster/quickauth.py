"""Farcaster Quick Auth: a JWT (RS256) from auth.farcaster.xyz whose `sub` is the fid, checked against its JWKS."""

from __future__ import annotations

import re

import jwt

from ..errors import ApiError

ISSUER = "https://auth.farcaster.xyz"
MAX_FID = 2**63 - 1
MAX_JWT_CHARS = 8192  # a Quick Auth token is some 500
DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: int() reads other scripts' digits too


class QuickAuth:
    """Verifies tokens against FARCASTER_AUTH_JWKS_URL (keys cached; an unknown `kid` fetches them again)."""

    def __init__(self, jwks_url: str, audiences: tuple[str, ...], timeout_s: float = 5.0) -> None:
        self.keys = jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=int(timeout_s))
        self.audiences = list(audiences)

    def fid(self, token: object) -> int:
        """The fid the token vouches for; `unauthorized` for any token that is not valid now for one of our domains."""
        if not isinstance(token, str) or not token or len(token) > MAX_JWT_CHARS:
            raise ApiError("invalid", "'token' must be a Quick Auth JWT")
        try:
            key = self.keys.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise ApiError("unavailable", "Farcaster's Quick Auth keys cannot be fetched; try again") from None
        except jwt.PyJWTError as exc:
            raise ApiError("unauthorized", f"not a valid Quick Auth token: {exc}") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audiences,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_sub": False},  # sub: a number
            )
        except jwt.PyJWTError as exc:
            raise ApiError("unauthorized", f"not a valid Quick Auth token: {exc}") from None
        sub = claims["sub"]
        fid = sub if type(sub) is int else int(sub) if isinstance(sub, str) and DIGITS.fullmatch(sub) else 0
        if not 0 < fid <= MAX_FID:
            raise ApiError("unauthorized", "the Quick Auth token's 'sub' is not an fid")
        return fid
