"""The server's parts, built once by the app factory and shared by REST and socket handlers."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import Auth
from .broker import Broker
from .chats import Chats
from .clock import Clock
from .config import Config
from .connections import Connections
from .messaging import Messaging
from .presence import Presence, Signals
from .ratelimit import Limits
from .reconciler import Reconciler
from .store import Store


@dataclass
class Services:
    config: Config
    clock: Clock
    store: Store
    broker: Broker
    auth: Auth
    chats: Chats
    messaging: Messaging
    presence: Presence
    signals: Signals
    limits: Limits
    reconciler: Reconciler
    connections: Connections
