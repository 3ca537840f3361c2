"""The chat list's page cursor, sealed for its caller: the stores page by a commit-order counter shared by every chat,
so a bare one would tell a caller how much everyone else wrote between two of its pages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from Crypto.Cipher import AES

from .errors import ApiError

_NONCE_BYTES = 12
_SEALED = re.compile(r"[A-Za-z0-9_-]{48}")  # base64url of nonce (12) + position (8) + tag (16)
PATTERN = f"^{_SEALED.pattern}$"


def _key(secret_key: str) -> bytes:
    """A key of its own, derived from SECRET_KEY, so a cursor is no use as any other credential."""
    return hmac.new(secret_key.encode(), b"optimistic-messaging chat-list cursor", hashlib.sha256).digest()


def seal(secret_key: str, address: str, position: int) -> str:
    """AES-GCM of the position, bound to the caller's address; a fresh nonce each time, so no two cursors compare."""
    nonce = os.urandom(_NONCE_BYTES)
    cipher = AES.new(_key(secret_key), AES.MODE_GCM, nonce=nonce)
    cipher.update(address.encode())
    sealed, tag = cipher.encrypt_and_digest(position.to_bytes(8, "big"))
    return base64.urlsafe_b64encode(nonce + sealed + tag).decode()


def unseal(secret_key: str, address: str, cursor: str) -> int:
    """The position of a cursor this server sealed for `address`; anything else (forged, tampered with, another
    address's) is `invalid`."""
    refused = ApiError("invalid", "query parameter 'cursor' must be a 'next_cursor' this server gave you")
    if not _SEALED.fullmatch(cursor):
        raise refused
    try:
        raw = base64.urlsafe_b64decode(cursor)
        cipher = AES.new(_key(secret_key), AES.MODE_GCM, nonce=raw[:_NONCE_BYTES])
        cipher.update(address.encode())
        position = cipher.decrypt_and_verify(raw[_NONCE_BYTES:-16], raw[-16:])
    except ValueError:  # pycryptodome's for a tag that does not verify
        raise refused from None
    return int.from_bytes(position, "big")
