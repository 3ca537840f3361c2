"""The server's parts, built once by the app factory and shared by REST and socket handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .auth import Auth
from .broker import Broker
from .chats import Chats
from .clock import Clock
from .config import Config
from .connections import Connections
from .farcaster.hub import Hub
from .farcaster.quickauth import QuickAuth
from .farcaster.replays import Replays
from .limits import Limits
from .messaging import Messaging
from .presence import Presence, Signals
from .receipts import Receipts
from .reconciler import Reconciler
from .store import Store

if TYPE_CHECKING:
    from .redisconn import Redis


@dataclass
class Services:
    config: Config
    clock: Clock
    store: Store
    broker: Broker
    auth: Auth
    chats: Chats
    messaging: Messaging
    receipts: Receipts
    presence: Presence
    signals: Signals
    limits: Limits
    reconciler: Reconciler
    connections: Connections
    replays: Replays  # webhook events already accepted
    hub: Hub | None = None  # FARCASTER_HUB_URL: without it the webhook is unavailable
    quick_auth: QuickAuth | None = None  # FARCASTER_AUTH_JWKS_URL: without it the link is unavailable
    redis: Redis | None = None  # shared ephemeral state (REDIS_URL): its breaker's state for health and metrics

    def redis_state(self) -> str:
        """ok while Redis is used, down while this node keeps its own view (the breaker open)."""
        if self.redis is None:
            return "not configured"
        return "ok" if self.redis.up else "down"
