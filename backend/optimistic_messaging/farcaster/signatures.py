"""JSON Farcaster Signatures: `{header, payload, signature}`, each base64url, Ed25519 over `header.payload`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..errors import ApiError

BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
APP_KEY = re.compile(r"0x[0-9a-fA-F]{64}")
MAX_FID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Signed:
    """What a verified signature vouches for: the fid, the app key that signed, and the decoded payload."""

    fid: int
    key: str  # 0x-prefixed lowercase hex of the Ed25519 public key
    payload: dict[str, Any]
    digest: str  # SHA-256 hex of the signed `header.payload`: the same for every copy of one signed event


def unauthorized(why: str) -> ApiError:
    return ApiError("unauthorized", f"not a valid JSON Farcaster Signature: {why}")


def _b64url(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not BASE64URL.fullmatch(value):
        raise unauthorized(f"'{name}' is not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise unauthorized(f"'{name}' is not base64url") from None


def _json_object(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise unauthorized(f"'{name}' is not JSON") from None
    if not isinstance(value, dict):
        raise unauthorized(f"'{name}' is not a JSON object")
    return value


def verify(body: dict[str, Any]) -> Signed:
    """The signature checked against the header's own key (whether that key is the fid's is the hub's to say)."""
    header = _json_object(_b64url(body.get("header"), "header"), "header")
    payload = _json_object(_b64url(body.get("payload"), "payload"), "payload")
    signature = _b64url(body.get("signature"), "signature")
    fid, kind, key = header.get("fid"), header.get("type"), header.get("key")
    if type(fid) is not int or not 0 < fid <= MAX_FID:
        raise unauthorized("the header's 'fid' is not a positive integer")
    if kind != "app_key":
        raise unauthorized("the header's 'type' is not 'app_key'")
    if not isinstance(key, str) or not APP_KEY.fullmatch(key):
        raise unauthorized("the header's 'key' is not a 0x-prefixed 32-byte Ed25519 key")
    signed = f"{body['header']}.{body['payload']}".encode()
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key[2:])).verify(signature, signed)
    except (InvalidSignature, ValueError):
        raise unauthorized("the signature does not verify") from None
    return Signed(fid, key.lower(), payload, hashlib.sha256(signed).hexdigest())
