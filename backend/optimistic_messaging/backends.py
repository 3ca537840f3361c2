"""Which implementation of each seam the configuration asks for: everything in this process (the JSON-lines log), or
shared by several nodes (PostgreSQL as the store of record; Redis, when given, for ephemeral state)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .broker import Broker, LocalBroker
from .clock import Clock
from .coalesce import LocalWindows, Windows
from .config import Config
from .leader import ALWAYS, Leadership
from .limits import Limits
from .nonces import LocalUsedNonces, UsedNonces
from .presence import LocalPresence, LocalSignals, Presence, Signals
from .quota import LocalSocketQuota, SocketQuota
from .store import Store
from .store.jsonl import JsonlStore

if TYPE_CHECKING:
    from .redisconn import Redis

log = logging.getLogger(__name__)


@dataclass
class Backends:
    """The parts of the server that hold state, each behind its seam."""

    node: str  # this process's id among the nodes
    store: Store
    broker: Broker
    leadership: Leadership
    used_nonces: UsedNonces
    limits: Limits
    presence: Presence
    signals: Signals
    quota: SocketQuota
    windows: Windows  # notifications' coalescing windows and Farcaster's daily budgets
    redis: Redis | None = None  # the shared connection, its heartbeat, sweep and breaker, when REDIS_URL is set

    def open(self) -> None:
        """Open the store: the log is read, or the schema migrated and the pool opened."""
        self.store.start()

    def start(self) -> None:
        """Once everything has subscribed: start hearing of commits and signals, beating, electing."""
        for part in (self.broker, self.leadership, self.signals, self.redis):
            start = getattr(part, "start", None)
            if start is not None:
                start()

    def close(self) -> None:
        """Stop every greenlet `start()` began and let go of connections and files: first what hears the other nodes
        (signals, Redis's heartbeat and sweep, the election, the broker's LISTEN), then the store they read."""
        for part in (self.signals, self.redis, self.leadership, self.broker, self.store):
            close = getattr(part, "close", None)
            if close is not None:
                close()


def open_backends(config: Config, clock: Clock) -> Backends:
    """Build each seam's configured implementation; nothing is connected or read until `open()` and `start()`."""
    node = secrets.token_hex(6)
    if config.database_url is None:
        store: Store = JsonlStore(
            config.data_file, fsync=config.fsync, clock=clock, erase_within_s=config.erase_within_s
        )
        broker: Broker = LocalBroker(store)
        leadership: Leadership = ALWAYS
        used_nonces: UsedNonces = LocalUsedNonces(clock)
    else:
        from .broker.notify import announce
        from .broker.postgres import PgBroker
        from .leader import AdvisoryLock
        from .nonces.postgres import PgUsedNonces
        from .store.postgres import PgStore

        pg = PgStore(config.database_url, clock, announce(node))
        store, broker = pg, PgBroker(config.database_url, pg, node, clock)
        leadership = AdvisoryLock(config.database_url)
        used_nonces = PgUsedNonces(pg.query, clock)
    if config.redis_url is None:
        if config.database_url is not None:
            log.warning(
                "DATABASE_URL without REDIS_URL: presence, typing, rate limits and socket counts are this "
                "node's own; set REDIS_URL to share them when running more than one node"
            )
        return Backends(
            node,
            store,
            broker,
            leadership,
            used_nonces,
            Limits.local(config, clock),
            LocalPresence(clock),
            LocalSignals(),
            LocalSocketQuota(config.max_sockets_per_address),
            LocalWindows(clock),
        )
    from .coalesce.redis import RedisWindows
    from .limits.redis import RedisRateLimiter
    from .nonces.redis import RedisUsedNonces
    from .presence.redis import RedisPresence, RedisSignals
    from .quota.redis import RedisSocketQuota
    from .redisconn import Redis, key_prefix

    r = Redis(
        config.redis_url,
        key_prefix(config.database_url or f"file:{config.data_file.resolve()}"),
        node,
        clock,
        config.node_ttl_s,
        config.redis_timeout_s,
    )
    signals = RedisSignals(r)
    return Backends(
        node,
        store,
        broker,
        leadership,
        RedisUsedNonces(r),
        Limits.build(config, lambda name, budget: RedisRateLimiter(r, name, budget)),
        RedisPresence(r, signals),
        signals,
        RedisSocketQuota(r, config.max_sockets_per_address),
        RedisWindows(r),
        r,
    )
