"""The Redis connection every shared seam uses (REDIS_URL): one pool, the key prefix, this node's heartbeat, the sweep
of dead nodes, and the circuit breaker. The state in it (presence/, limits/, nonces/, quota/) is ephemeral: nothing
must survive Redis, it is all rebuilt as sockets come.

Each node beats a heartbeat; presence and socket counts are kept per node, so a node that dies (no beat for
NODE_TTL_S) is swept out by the others, and its addresses go offline within a minute. Keys are prefixed by the
database they go with, so deployments sharing one Redis keep apart. Redis failing or hanging trips a circuit breaker:
each node then keeps its own view (logged) rather than refusing service or waiting (this state is a convenience, the
messages are in the store), probes Redis every second, and re-asserts what it holds before using it again — as it
does when a beat finds Redis emptied.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import gevent
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .clock import Clock

log = logging.getLogger(__name__)
T = TypeVar("T")

ERRORS = (redis.RedisError, OSError)
PROBE_S = 1.0  # how often a node whose breaker is open asks Redis whether it answers again
RESTORE_TRIES = 5  # re-assertions in a row while the node's own state keeps changing under them


def key_prefix(database_url: str) -> str:
    """The deployment's namespace in Redis: its database's host, port and name (never its password)."""
    parts = urlsplit(database_url)
    where = f"{parts.hostname}:{parts.port}{parts.path}"
    return "om:" + hashlib.sha256(where.encode()).hexdigest()[:10] + ":"


class Redis:
    """One connection pool, the key prefix, this node's heartbeat, the sweep of dead nodes, and the circuit breaker.

    `up` is the breaker: closed (True) while Redis answers within REDIS_TIMEOUT_S. The first failure opens it, and
    from then on no hot-path call touches Redis (`guarded` answers this node's view at once) until a probe is
    answered and this node's state is re-asserted (`on_restore`).
    """

    def __init__(
        self, url: str, prefix: str, node: str, clock: Clock, node_ttl_s: float = 20.0, timeout_s: float = 0.25
    ) -> None:
        # No retries: a failure opens the breaker, whose probe is the retry; a retry would multiply the wait.
        self.client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),
        )
        self.prefix = prefix
        self.node = node
        self.clock = clock
        self.node_ttl_s = node_ttl_s
        self.beat_s = node_ttl_s / 4  # how often this node beats
        self.sweep_s = node_ttl_s / 2  # how often it looks for the dead
        self.nodes_key = prefix + "nodes"
        self.up = True
        self.up_since = clock.monotonic()
        self.trips = 0  # times the breaker opened, for /metrics
        self.changes = 0  # bumped by every change to this node's own state: a re-assertion that raced one repeats
        self._probe: gevent.Greenlet | None = None
        self._loops: list[gevent.Greenlet] = []  # the heartbeat and the sweep
        self._sweepers: list[Callable[[str], None]] = []
        self._restorers: list[Callable[[], None]] = []
        self._keepers: list[Callable[[Any], None]] = []

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def guarded(self, what: str, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        """Redis's answer, or this node's own at once while Redis is failing (the breaker open)."""
        if not self.up:
            return fallback()
        try:
            return call()
        except ERRORS as exc:
            self.trip(what, exc)
            return fallback()

    def trip(self, what: str, exc: BaseException) -> None:
        """Open the breaker: this node keeps its own view, and probes Redis in the background until it answers."""
        self.up = False
        if self._probe is None or self._probe.dead:  # a new outage, not one more failure of the current one
            self.trips += 1
            log.warning("Redis failed for %s (%s): this node keeps its own view until it answers again", what, exc)
            self._probe = gevent.spawn(self._probing)

    def on_dead_node(self, sweep: Callable[[str], None]) -> None:
        self._sweepers.append(sweep)

    def on_restore(self, restore: Callable[[], None]) -> None:
        """`restore` writes this node's own state (presence, socket counts) to Redis: after a failure, or when
        Redis was found emptied. It may raise ERRORS."""
        self._restorers.append(restore)

    def on_beat(self, keep: Callable[[Any], None]) -> None:
        """`keep(pipeline)` adds to each beat's pipeline what must exist in Redis whenever it answers."""
        self._keepers.append(keep)

    def start(self) -> None:
        self._loops = [gevent.spawn(self._beat), gevent.spawn(self._sweep)]

    def close(self) -> None:
        """Stop beating, sweeping and probing, and let go of the pool's connections."""
        gevent.killall([*self._loops, *([self._probe] if self._probe is not None else [])])
        self._loops, self._probe = [], None
        self.client.close()

    def alive_since(self) -> int:
        """Beats newer than this (ms) are of living nodes."""
        return self.clock.now_ms() - int(self.node_ttl_s * 1000)

    def _probing(self) -> None:
        while True:
            gevent.sleep(PROBE_S)
            try:
                self.client.ping()
                self._restore()
            except ERRORS as exc:
                log.debug("Redis still failing: %s", exc)
                continue
            log.info("Redis answers again: this node's state re-asserted, and Redis used again")
            return

    def _restore(self) -> None:
        """Re-assert this node's heartbeat and state while its hot path keeps its own view, then close the breaker.
        Nothing yields between the last write and closing, so no change of this node's falls in between."""
        self.up = False
        for _ in range(RESTORE_TRIES):
            changes = self.changes
            self._write_beat()
            for restore in self._restorers:
                restore()
            if changes == self.changes:
                break
        self.up, self.up_since = True, self.clock.monotonic()

    def _write_beat(self) -> bool:
        """This node's heartbeat, and what else each beat keeps (`on_beat`); whether Redis had not known the node."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(self.nodes_key, {self.node: self.clock.now_ms()})
        for keep in self._keepers:
            keep(pipe)
        return bool(pipe.execute()[0])

    def _beat(self) -> None:
        """A beat that finds this node missing from the living (Redis emptied, or this node swept for silence)
        re-asserts its state."""
        beaten = False
        while True:
            if self.up:
                try:
                    if self._write_beat() and beaten:
                        log.warning("Redis had forgotten this node (emptied, or swept): its state re-asserted")
                        self._restore()
                    beaten = True
                except ERRORS as exc:
                    self.trip("the heartbeat", exc)
            gevent.sleep(self.beat_s)

    def _sweep(self) -> None:
        while True:
            gevent.sleep(self.sweep_s)
            if not self.up or self.clock.monotonic() - self.up_since < self.node_ttl_s:
                continue  # after an outage, the other nodes get their time to beat again before any is called dead
            try:
                for beat in self.client.zrangebyscore(self.nodes_key, "-inf", self.alive_since()):
                    node = text(beat)
                    if node == self.node or not self.client.set(self.key("sweeping", node), 1, nx=True, ex=60):
                        continue  # another living node sweeps it
                    for sweep in self._sweepers:
                        sweep(node)
                    self.client.zrem(self.nodes_key, node)
                    log.info("swept the state of node %s, which stopped beating", node)
            except ERRORS as exc:
                self.trip("the sweep of dead nodes", exc)


def text(value: Any) -> str:
    """A Redis reply as text (the client answers bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
