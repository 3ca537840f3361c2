"""Web Push subscriptions: what one is, what a client may register, and where each belongs."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from .. import validation as v
from ..errors import ApiError
from ..models import FarcasterToken
from .hosts import MAX_URL_CHARS, checked_url
from .vapid import b64url, b64url_decode

MAX_PER_ADDRESS = 10  # an 11th drops the address's oldest
P256DH_BYTES = 65  # an uncompressed P-256 point (RFC 8291)
AUTH_BYTES = 16


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """One browser's push endpoint and keys, with the address it belongs to and the session that registered it (its
    sign-out ends it)."""

    endpoint: str
    address: str
    p256dh: str
    auth: str
    session: str


@dataclass(frozen=True, slots=True)
class Reachable:
    """A chat member who can be told while the app is closed, as one read gives it: its Web Push subscriptions
    (oldest first), its linked fid's Farcaster tokens, and whether it wants previews."""

    address: str
    previews: bool
    subscriptions: tuple[PushSubscription, ...] = ()
    tokens: tuple[FarcasterToken, ...] = ()


def parse(payload: dict[str, Any], address: str, session: str, allowed: Collection[str]) -> PushSubscription:
    """A subscription a client registers, or `invalid`: a checked endpoint and keys of the sizes RFC 8291 gives."""
    endpoint = _normalised(checked_url(payload.get("endpoint"), allowed))
    keys = v.obj(payload.get("keys"), "keys")
    return PushSubscription(
        endpoint, address, _key(keys, "p256dh", P256DH_BYTES), _key(keys, "auth", AUTH_BYTES), session
    )


def matches(found: PushSubscription, endpoint: str | None, address: str | None, session: str | None) -> bool:
    """Whether a subscription is one `drop_push_subscriptions` names: it matches every one given."""
    return (
        (endpoint is None or found.endpoint == endpoint)
        and (address is None or found.address == address)
        and (session is None or found.session == session)
    )


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def endpoint(payload: dict[str, Any]) -> str:
    """The endpoint a DELETE names: any string of a URL's length without control characters (no URL holds one, and
    PostgreSQL's text holds no NUL); one never registered is simply not there."""
    value = payload.get("endpoint")
    if not isinstance(value, str) or not value or len(value) > MAX_URL_CHARS or CONTROL.search(value):
        raise ApiError("invalid", f"endpoint must be a URL of at most {MAX_URL_CHARS} characters")
    return _normalised(value)


def _normalised(url: str) -> str:
    """Scheme and host in lower case (case-insensitive in a URL), the rest as given: one endpoint, one spelling, one
    subscription."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    cut = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    return scheme.lower() + sep + rest[:cut].lower() + rest[cut:]


def _key(keys: dict[str, Any], name: str, size: int) -> str:
    value = keys.get(name)
    try:
        raw = b64url_decode(value) if isinstance(value, str) and len(value) <= 128 else b""
    except ValueError:
        raw = b""
    if len(raw) != size or b64url(raw) != str(value).rstrip("=") or (name == "p256dh" and not _point(raw)):
        what = "an uncompressed P-256 point" if name == "p256dh" else f"{size} bytes"
        raise ApiError("invalid", f"keys.{name} must be base64url of {what}")
    return str(value)


def _point(raw: bytes) -> bool:
    """An uncompressed point on P-256: no push could be encrypted to anything else."""
    try:
        return raw[0] == 4 and bool(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw))
    except ValueError:
        return False
