"""One Web Push request (RFC 8030): the payload encrypted (RFC 8291 aes128gcm) and signed for (RFC 8292 VAPID) by
the kept libraries, sent only to an address that passed the host check (outbound.py), never following a redirect."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from py_vapid import Vapid02
from pywebpush import WebPusher

from ..errors import ApiError
from .outbound import post
from .subscriptions import PushSubscription
from .vapid import load

TTL_S = 86400  # how long a push service may hold it for an offline browser
TIMEOUT_S = 10.0
JWT_TTL_S = 12 * 3600
JWT_REUSE_S = 11 * 3600  # a push service's JWT is signed again after this (an hour before it expires)
SIGNED_KEPT = 1024  # push services whose JWT is kept (endpoints are the clients' choice: bounded, then forgotten)


@dataclass(frozen=True, slots=True)
class Sent:
    """A push service's answer: its status, and how long it asked to wait (`Retry-After`, seconds) if it did."""

    status: int
    retry_after_s: float | None = None


class WebPush:
    """Sends pushes with one VAPID key and subject."""

    def __init__(self, private_key: str, subject: str, allowed: Collection[str]) -> None:
        self.vapid = Vapid02(load(private_key))
        self.subject = subject
        self.allowed = allowed
        self.signed: dict[str, tuple[dict[str, str], float]] = {}  # audience -> its VAPID header, re-signed after

    def authorization(self, audience: str) -> dict[str, str]:
        """The VAPID header for a push service, signed once per JWT_REUSE_S (a signature costs more than the rest of
        a push's work)."""
        now = time.time()
        kept = self.signed.get(audience)
        if kept is None or now >= kept[1]:
            if len(self.signed) >= SIGNED_KEPT:
                self.signed.clear()
            claims = {"aud": audience, "sub": self.subject, "exp": int(now) + JWT_TTL_S}
            kept = self.signed[audience] = (self.vapid.sign(claims), now + JWT_REUSE_S)
        return kept[0]

    def send(self, subscription: PushSubscription, payload: bytes) -> Sent:
        """POST it once; `invalid` (ApiError) when the host fails the check now or the subscription's keys cannot
        encrypt (kept before keys were checked at registration: asking again cannot help), HTTPError on a network
        fault."""
        info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        try:
            body = WebPusher(info).encode(payload, "aes128gcm")["body"]
        except Exception as exc:
            raise ApiError("invalid", f"the subscription's keys cannot encrypt a push: {exc}") from exc
        parts = urlsplit(subscription.endpoint)
        headers = {
            **self.authorization(f"{parts.scheme}://{parts.netloc}"),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(TTL_S),
            "Urgency": "normal",
        }
        answer = post(subscription.endpoint, body, headers, self.allowed, TIMEOUT_S)
        return Sent(answer.status, retry_after(answer.headers.get("Retry-After")))


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the delta form; a date is taken as not given)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
