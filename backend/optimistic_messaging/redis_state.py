"""Ephemeral state every node shares, in Redis (REDIS_URL): used nonces, rate-limit buckets, presence, socket counts,
and the signals (typing, presence) between nodes. Nothing here must survive Redis: it is all rebuilt as sockets come.

Each node beats a heartbeat; presence and socket counts are kept per node, so a node that dies (no beat for
NODE_TTL_S) is swept out by the others, and its addresses go offline within a minute. Keys are prefixed by the
database they go with, so deployments sharing one Redis keep apart. If Redis cannot be reached, each node falls back
to its own view (logged) rather than refusing service: this state is a convenience, the messages are in the store.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import gevent
import orjson
import redis

from .clock import Clock
from .presence import LocalPresence, LocalSignals
from .ratelimit import Budget, LocalRateLimiter

log = logging.getLogger(__name__)
T = TypeVar("T")

ERRORS = (redis.RedisError, OSError)


def key_prefix(database_url: str) -> str:
    """The deployment's namespace in Redis: its database's host, port and name (never its password)."""
    parts = urlsplit(database_url)
    where = f"{parts.hostname}:{parts.port}{parts.path}"
    return "om:" + hashlib.sha256(where.encode()).hexdigest()[:10] + ":"


class Redis:
    """One connection pool, the key prefix, this node's heartbeat, and the sweep of dead nodes."""

    def __init__(self, url: str, prefix: str, node: str, clock: Clock, node_ttl_s: float = 20.0) -> None:
        self.client: redis.Redis = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
        )
        self.prefix = prefix
        self.node = node
        self.clock = clock
        self.node_ttl_s = node_ttl_s
        self.beat_s = node_ttl_s / 4  # how often this node beats
        self.sweep_s = node_ttl_s / 2  # how often it looks for the dead
        self.nodes_key = prefix + "nodes"
        self._sweepers: list[Callable[[str], None]] = []

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def guarded(self, what: str, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        """Redis's answer, or this node's own if Redis cannot be reached."""
        try:
            return call()
        except ERRORS as exc:
            log.warning("Redis unreachable for %s (%s): this node's own view instead", what, exc)
            return fallback()

    def on_dead_node(self, sweep: Callable[[str], None]) -> None:
        self._sweepers.append(sweep)

    def start(self) -> None:
        gevent.spawn(self._beat)
        gevent.spawn(self._sweep)

    def alive_since(self) -> int:
        """Beats newer than this (ms) are of living nodes."""
        return self.clock.now_ms() - int(self.node_ttl_s * 1000)

    def _beat(self) -> None:
        while True:
            try:
                self.client.zadd(self.nodes_key, {self.node: self.clock.now_ms()})
            except ERRORS as exc:
                log.warning("heartbeat not written: %s", exc)
            gevent.sleep(self.beat_s)

    def _sweep(self) -> None:
        while True:
            gevent.sleep(self.sweep_s)
            try:
                for beat in self.client.zrangebyscore(self.nodes_key, "-inf", self.alive_since()):
                    node = _text(beat)
                    if node == self.node or not self.client.set(self.key("sweeping", node), 1, nx=True, ex=60):
                        continue  # another living node sweeps it
                    for sweep in self._sweepers:
                        sweep(node)
                    self.client.zrem(self.nodes_key, node)
                    log.info("swept the state of node %s, which stopped beating", node)
            except ERRORS as exc:
                log.warning("dead nodes not swept: %s", exc)


class RedisUsedNonces:
    def __init__(self, r: Redis) -> None:
        self.r = r

    def use(self, nonce: str, issued_ms: int, expires_ms: int) -> bool:
        """SET NX: the first node to use it wins. Without Redis a nonce cannot be vouched for: refused."""
        return self.r.guarded(
            "a nonce",
            lambda: bool(
                self.r.client.set(
                    self.r.key("nonce", nonce), 1, nx=True, pxat=max(expires_ms, self.r.clock.now_ms() + 1)
                )
            ),
            lambda: False,
        )


_TAKE = """
local rate, burst, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + (now - at) * rate)
local ok = tokens >= 1
if ok then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], ttl)
if ok then return -1 end
return math.floor(tokens * 1000000)
"""


class RedisRateLimiter:
    """A token bucket per address in Redis, on Redis's clock: one budget across every node."""

    def __init__(self, r: Redis, name: str, budget: Budget) -> None:
        self.r = r
        self.name = name
        self.budget = budget
        self._script = r.client.register_script(_TAKE)
        self._ttl_ms = int(budget.burst / budget.per_s * 1000) + 1000  # a bucket refilled whole is forgotten
        self._fallback = LocalRateLimiter(budget, r.clock)
        self.refused = 0

    def _fallback_take(self, address: str) -> int:
        self._fallback.take(address)  # raises rate_limited itself
        return -1

    def take(self, address: str) -> None:
        left = self.r.guarded(
            f"the {self.name} budget",
            lambda: int(
                self._script(
                    keys=[self.r.key("rate", self.name, address)],
                    args=[self.budget.per_s / 1000, self.budget.burst, self._ttl_ms],
                )
            ),
            lambda: self._fallback_take(address),
        )
        if left >= 0:
            self.refused += 1
            raise self.budget.refusal(self.budget.retry_after_ms(left / 1_000_000))


_JOIN = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[3])
if n > 1 then return 0 end
return redis.call('SADD', KEYS[2], ARGV[2])
"""
_LEAVE = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n > 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[3])
local alive = tonumber(ARGV[4])
local others = redis.call('HGETALL', KEYS[1])
for i = 1, #others, 2 do
  local beat = redis.call('ZSCORE', KEYS[4], others[i])
  if beat and tonumber(beat) > alive and tonumber(others[i + 1]) > 0 then return 0 end
end
return redis.call('SREM', KEYS[2], ARGV[2])
"""


class RedisPresence(LocalPresence):
    """This node's sockets as LocalPresence counts them, and per chat the addresses online on any living node.

    Keys: presence:<chat>:<address> (hash: node -> sockets there), online:<chat> (set of addresses), and per node
    the (chat, address) pairs it holds sockets for, so that a dead node's can be swept.
    """

    def __init__(self, r: Redis, signals: LocalSignals) -> None:
        super().__init__(r.clock)
        self.r = r
        self.signals = signals
        self._join = r.client.register_script(_JOIN)
        self._leave = r.client.register_script(_LEAVE)
        r.on_dead_node(self._sweep)

    def _keys(self, chat_id: str, address: str, node: str) -> list[str]:
        return [
            self.r.key("presence", chat_id, address),
            self.r.key("online", chat_id),
            self.r.key("held", node),
            self.r.nodes_key,
        ]

    def join(self, chat_id: str, address: str, sid: str) -> bool:
        first_here = super().join(chat_id, address, sid)
        if not first_here:
            return False
        keys = self._keys(chat_id, address, self.r.node)
        return self.r.guarded(
            "presence",
            lambda: bool(self._join(keys=keys[:3], args=[self.r.node, address, _pair(chat_id, address)])),
            lambda: True,
        )

    def leave(self, chat_id: str, address: str, sid: str) -> bool:
        last_here = super().leave(chat_id, address, sid)
        if not last_here:
            return False
        keys = self._keys(chat_id, address, self.r.node)
        return self.r.guarded(
            "presence",
            lambda: bool(
                self._leave(keys=keys, args=[self.r.node, address, _pair(chat_id, address), self.r.alive_since()])
            ),
            lambda: True,
        )

    def online(self, chat_id: str) -> list[str]:
        return self.r.guarded(
            "presence",
            lambda: sorted(_text(a) for a in self.r.client.smembers(self.r.key("online", chat_id))),
            lambda: super(RedisPresence, self).online(chat_id),
        )

    def _sweep(self, node: str) -> None:
        """A dead node's sockets are gone: each address it alone held goes offline, and the chat hears of it."""
        held = self.r.key("held", node)
        for pair in self.r.client.smembers(held):
            chat_id, address = _text(pair).split("\n", 1)
            keys = self._keys(chat_id, address, node)
            self.r.client.hset(keys[0], node, 1)  # as if it held one socket, which now leaves
            if self._leave(keys=keys, args=[node, address, _text(pair), self.r.alive_since()]):
                self.signals.send(
                    chat_id, "presence", {"chat_id": chat_id, "address": address, "online": False}, address
                )
        self.r.client.delete(held)


def _text(value: Any) -> str:
    """A Redis reply as text (the client answers bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _pair(chat_id: str, address: str) -> str:
    return chat_id + "\n" + address


_ACQUIRE = """
local limit, alive = tonumber(ARGV[2]), tonumber(ARGV[3])
local held = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local beat = redis.call('ZSCORE', KEYS[2], all[i])
  if all[i] == ARGV[1] or (beat and tonumber(beat) > alive) then held = held + tonumber(all[i + 1]) end
end
if held >= limit then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[4])
return 1
"""
_RELEASE = """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
return 1
"""


class RedisSocketQuota:
    """Sockets per address counted across every living node (MAX_SOCKETS_PER_ADDRESS)."""

    def __init__(self, r: Redis, limit: int) -> None:
        self.r = r
        self.limit = limit
        self._acquire = r.client.register_script(_ACQUIRE)
        self._release = r.client.register_script(_RELEASE)
        self._local: dict[str, int] = {}  # this node's own, for when Redis is away
        r.on_dead_node(self._sweep)

    def acquire(self, address: str) -> bool:
        def shared() -> bool:
            return bool(
                self._acquire(
                    keys=[self.r.key("sockets", address), self.r.nodes_key, self.r.key("sockets-of", self.r.node)],
                    args=[self.r.node, self.limit, self.r.alive_since(), address],
                )
            )

        ok = self.r.guarded("socket counts", shared, lambda: self._local.get(address, 0) < self.limit)
        if ok:
            self._local[address] = self._local.get(address, 0) + 1
        return ok

    def _sweep(self, node: str) -> None:
        of = self.r.key("sockets-of", node)
        for address in self.r.client.smembers(of):
            self.r.client.hdel(self.r.key("sockets", _text(address)), node)
        self.r.client.delete(of)

    def release(self, address: str) -> None:
        held = self._local.get(address, 0) - 1
        if held > 0:
            self._local[address] = held
        else:
            self._local.pop(address, None)
        self.r.guarded(
            "socket counts",
            lambda: self._release(
                keys=[self.r.key("sockets", address), self.r.key("sockets-of", self.r.node)],
                args=[self.r.node, address],
            ),
            lambda: 0,
        )


class RedisSignals(LocalSignals):
    """Signals to this node's sockets at once, and to the other nodes' through one pub/sub channel (at most once:
    typing and presence are ephemeral; a lost one is corrected by the next, or by the receivers' own timers)."""

    def __init__(self, r: Redis) -> None:
        super().__init__()
        self.r = r
        self.channel = r.key("signals")

    def start(self) -> None:
        gevent.spawn(self._receive)

    def send(self, chat_id: str, event: str, data: dict[str, Any], skip: str) -> None:
        super().send(chat_id, event, data, skip)
        payload = orjson.dumps({"n": self.r.node, "c": chat_id, "e": event, "d": data, "s": skip})
        self.r.guarded("signals", lambda: self.r.client.publish(self.channel, payload), lambda: 0)

    def _receive(self) -> None:
        while True:
            try:
                pubsub = self.r.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                for message in pubsub.listen():
                    signal = orjson.loads(message["data"])
                    if signal["n"] != self.r.node and self._deliver is not None:
                        self._deliver(signal["c"], signal["e"], signal["d"], signal["s"])
            except ERRORS as exc:
                log.warning("signals from other nodes lost for now: %s", exc)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("a signal that is not ours: %s", exc)
            gevent.sleep(1)
