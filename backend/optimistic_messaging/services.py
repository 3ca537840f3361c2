"""The server's parts, built once by the app factory and shared by REST and socket handlers."""
from __future__ import annotations

from dataclasses import dataclass, field

from .auth import Auth
from .chats import Chats
from .config import Config
from .messaging import Messaging
from .presence import Presence
from .ratelimit import RateLimiter
from .reconciler import Reconciler
from .store import Store


@dataclass
class Connection:
    """One authenticated socket: whose it is, until when its session holds, and which chats it joined."""

    address: str
    expires_at: int
    chats: set[str] = field(default_factory=set)


@dataclass
class Services:
    config: Config
    store: Store
    auth: Auth
    chats: Chats
    messaging: Messaging
    presence: Presence
    events_limiter: RateLimiter  # every socket event but send (which has its own budget)
    reconciler: Reconciler
    sockets: dict[str, Connection] = field(default_factory=dict)  # sid -> connection
    per_address: dict[str, int] = field(default_factory=dict)  # address -> open sockets

    def connections(self) -> int:
        return len(self.sockets)
