"""The mini-app events a Farcaster client posts: verified, then the client's notification token kept or dropped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ApiError
from ..models import FarcasterToken
from ..notify.hosts import safe_addresses
from ..store import Store
from .hub import Hub
from .replays import Replays
from .signatures import unauthorized, verify

ADDED, ENABLED = "miniapp_added", "notifications_enabled"
DROPPING = frozenset({"notifications_disabled", "miniapp_removed"})
MAX_URL_CHARS = 2048
MAX_TOKEN_CHARS = 256


def accept(body: dict[str, Any], hub: Hub, store: Store, allow_hosts: tuple[str, ...], replays: Replays) -> None:
    """Every check before any write: a refused event changes nothing stored, and an accepted one is taken once."""
    signed = verify(body)
    event = signed.payload.get("event")
    if not isinstance(event, str) or (event not in DROPPING and event not in (ADDED, ENABLED)):
        raise unauthorized("the payload's 'event' is not a mini-app event")
    if not hub.is_app_key(signed.fid, signed.key):
        raise ApiError("unauthorized", "the signing key is not an active app key of the fid")
    details = signed.payload.get("notificationDetails")
    apply: Callable[[], object]
    if event in DROPPING:
        apply = lambda: store.drop_farcaster_tokens(signed.fid, signed.key)
    elif details is None and event == ADDED:  # added with notifications off: nothing to keep
        apply = lambda: None
    else:
        url, token = _details(details)
        safe_addresses(url, allow_hosts)
        apply = lambda: store.put_farcaster_token(FarcasterToken(signed.fid, signed.key, url, token))
    replays.once(signed, apply)


def _details(details: Any) -> tuple[str, str]:
    """The `{url, token}` a client gave, held to sizes a real one never passes."""
    if not isinstance(details, dict):
        raise ApiError("invalid", "'notificationDetails' must be an object with 'url' and 'token'")
    url, token = details.get("url"), details.get("token")
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_CHARS:
        raise ApiError("invalid", f"'notificationDetails.url' must be a URL of at most {MAX_URL_CHARS} characters")
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise ApiError("invalid", f"'notificationDetails.token' must be a string of 1 to {MAX_TOKEN_CHARS} characters")
    return url, token
