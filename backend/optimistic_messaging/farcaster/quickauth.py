"""Farcaster Quick Auth: a JWT (RS256) from auth.farcaster.xyz whose `sub` is the fid, checked against its JWKS."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import jwt

from ..errors import ApiError

ISSUER = "https://auth.farcaster.xyz"
MAX_FID = 2**63 - 1
MAX_JWT_CHARS = 8192  # a Quick Auth token is some 500
DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: int() reads other scripts' digits too
MAX_JWKS_BYTES = 65_536  # Quick Auth's is under 1 KB


class _Refused(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: the keys come from the configured URL itself, not from wherever it points."""

    def redirect_request(self, *args: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_Refused)


class _KeysClient(jwt.PyJWKClient):
    """PyJWT's client, fetching without following redirects and reading at most MAX_JWKS_BYTES."""

    def fetch_data(self) -> Any:
        jwk_set: Any = None
        try:
            request = urllib.request.Request(self.uri, headers=self.headers)
            with _OPENER.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"the key set is over {MAX_JWKS_BYTES} bytes")
            jwk_set = json.loads(body)
            return jwk_set
        except (OSError, ValueError) as exc:  # URLError and HTTPError (a redirect too) are OSErrors
            raise jwt.PyJWKClientConnectionError(f"the key set could not be fetched: {exc}") from None
        finally:
            if self.jwk_set_cache is not None:  # as PyJWT's own: a failed fetch empties the cache
                self.jwk_set_cache.put(jwk_set)


class QuickAuth:
    """Verifies tokens against FARCASTER_AUTH_JWKS_URL (keys cached; an unknown `kid` fetches them again)."""

    def __init__(self, jwks_url: str, audiences: tuple[str, ...], timeout_s: float = 5.0) -> None:
        self.keys = _KeysClient(jwks_url, cache_keys=True, timeout=int(timeout_s))
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
