"""The server's VAPID key (RFC 8292): one P-256 key, read from VAPID_PRIVATE_KEY or kept beside the data."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push spells keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Inverse of b64url (padding optional); raises ValueError on anything else."""
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))


def load(text: str) -> ec.EllipticCurvePrivateKey:
    """A PEM private key or the base64url 32-byte P-256 scalar; ValueError on anything else."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("VAPID_PRIVATE_KEY must be a P-256 key")
        return key
    raw = b64url_decode(text)
    if len(raw) != 32:
        raise ValueError("VAPID_PRIVATE_KEY must be a PEM or the base64url 32-byte P-256 scalar")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def generate() -> str:
    """A new key, as the PEM text kept beside the data."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """What `GET /api/push/key` answers: the uncompressed point, base64url."""
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(point)


@lru_cache(maxsize=4)
def public_key_of(text: str) -> str:
    """The public key of a configured key text, parsed once."""
    return public_key(load(text))
