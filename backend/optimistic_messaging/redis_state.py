"""Ephemeral state every node shares, in Redis (REDIS_URL): used nonces, rate-limit buckets, presence, socket counts,
and the signals (typing, presence) between nodes. Nothing here must survive Redis: it is all rebuilt as sockets come.

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
import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .clock import Clock
from .errors import ApiError
from .presence import LocalPresence, LocalSignals
from .ratelimit import Budget, LocalRateLimiter

log = logging.getLogger(__name__)
T = TypeVar("T")

ERRORS = (redis.RedisError, OSError)
PROBE_S = 1.0  # how often a node whose breaker is open asks Redis whether it answers again
RESUBSCRIBE_S = 0.25  # how often the listener for the other nodes' signals tries again while Redis refuses it
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
        gevent.spawn(self._beat)
        gevent.spawn(self._sweep)

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
                    node = _text(beat)
                    if node == self.node or not self.client.set(self.key("sweeping", node), 1, nx=True, ex=60):
                        continue  # another living node sweeps it
                    for sweep in self._sweepers:
                        sweep(node)
                    self.client.zrem(self.nodes_key, node)
                    log.info("swept the state of node %s, which stopped beating", node)
            except ERRORS as exc:
                self.trip("the sweep of dead nodes", exc)


_USE = """
local since = redis.call('GET', KEYS[2])
if not since then
  since = ARGV[3]
  redis.call('SET', KEYS[2], since)
end
if tonumber(ARGV[1]) < tonumber(since) then return 0 end
if redis.call('SET', KEYS[1], 1, 'NX', 'PXAT', ARGV[2]) then return 1 end
return 0
"""


class RedisUsedNonces:
    """Used nonces, each until it expires, and since when this ledger holds all of them (`nonces-since`, written by
    every beat): an emptied Redis forgot which were used, so a nonce issued before it found itself new is refused."""

    def __init__(self, r: Redis) -> None:
        self.r = r
        self._since = r.key("nonces-since")
        self._use = r.client.register_script(_USE)
        r.on_beat(lambda pipe: pipe.set(self._since, self.r.clock.now_ms(), nx=True))

    def use(self, nonce: str, issued_ms: int, expires_ms: int) -> bool:
        """The first node to use it wins. Without Redis a nonce cannot be vouched for: `unavailable`, and nothing is
        noted on this node (a call that reached a hung Redis may still use the nonce up: sign in anew)."""
        now = self.r.clock.now_ms()
        keys, args = [self.r.key("nonce", nonce), self._since], [issued_ms, max(expires_ms, now + 1), now]
        return self.r.guarded("a nonce", lambda: bool(self._use(keys=keys, args=args)), _nonces_unchecked)


def _nonces_unchecked() -> bool:
    raise ApiError(
        "unavailable", "sign-in nonces cannot be checked while Redis is unreachable: retry shortly, with a new nonce"
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
redis.call('HSET', KEYS[1], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[3])
return redis.call('SADD', KEYS[2], ARGV[2])
"""
_LEAVE = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[3])
local alive = tonumber(ARGV[4])
for _, node in ipairs(redis.call('HKEYS', KEYS[1])) do
  local beat = redis.call('ZSCORE', KEYS[4], node)
  if beat and tonumber(beat) > alive then return 0 end
end
return redis.call('SREM', KEYS[2], ARGV[2])
"""


class RedisPresence(LocalPresence):
    """This node's sockets as LocalPresence counts them, and per chat the addresses online on any living node.

    Keys: presence:<chat>:<address> (hash: the nodes holding a socket of it), online:<chat> (set of addresses), and
    per node the (chat, address) pairs it holds sockets for (held:<node>), so that a dead node's can be swept. Both
    scripts are idempotent, so this node's pairs can be written again whenever Redis may have lost them.
    """

    def __init__(self, r: Redis, signals: RedisSignals) -> None:
        super().__init__(r.clock)
        self.r = r
        self.signals = signals
        self._join = r.client.register_script(_JOIN)
        self._leave = r.client.register_script(_LEAVE)
        r.on_dead_node(self._sweep)
        r.on_restore(self._restore)

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
        self.r.changes += 1
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
        self.r.changes += 1
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

    def _restore(self) -> None:
        """Write every pair this node holds and remove those it no longer does; the other nodes hear of each address
        this turns online or offline (they may not have while Redis was away)."""
        held = {_pair(chat_id, address) for chat_id, address in self.held()}
        written = {_text(pair) for pair in self.r.client.smembers(self.r.key("held", self.r.node))}
        changes = [(pair, True) for pair in held] + [(pair, False) for pair in written - held]
        pipe = self.r.client.pipeline(transaction=False)
        for pair, online in changes:
            chat_id, address = pair.split("\n", 1)
            keys = self._keys(chat_id, address, self.r.node)
            if online:
                self._join(keys=keys[:3], args=[self.r.node, address, pair], client=pipe)
            else:
                self._leave(keys=keys, args=[self.r.node, address, pair, self.r.alive_since()], client=pipe)
        for (pair, online), news in zip(changes, pipe.execute(), strict=True):
            if news:
                chat_id, address = pair.split("\n", 1)
                data = {"chat_id": chat_id, "address": address, "online": online}
                self.signals.publish(chat_id, "presence", data, address)

    def _sweep(self, node: str) -> None:
        """A dead node's sockets are gone: each address it alone held goes offline, and the chat hears of it."""
        held = self.r.key("held", node)
        for pair in self.r.client.smembers(held):
            chat_id, address = _text(pair).split("\n", 1)
            keys = self._keys(chat_id, address, node)
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
        self._local: dict[str, int] = {}  # this node's own: what it re-asserts, and its view while Redis is away
        r.on_dead_node(self._sweep)
        r.on_restore(self._restore)

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
            self.r.changes += 1
        return ok

    def _restore(self) -> None:
        """This node's count of each address's sockets, and none for an address it no longer holds any of."""
        of = self.r.key("sockets-of", self.r.node)
        gone = {_text(address) for address in self.r.client.smembers(of)} - set(self._local)
        pipe = self.r.client.pipeline(transaction=False)
        for address, held in self._local.items():
            pipe.hset(self.r.key("sockets", address), self.r.node, held)
            pipe.sadd(of, address)
        for address in gone:
            pipe.hdel(self.r.key("sockets", address), self.r.node)
            pipe.srem(of, address)
        pipe.execute()

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
        self.r.changes += 1
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
        self.listening = False  # subscribed, as Redis confirmed
        r.on_restore(self._heard)

    def start(self) -> None:
        gevent.spawn(self._receive)

    def send(self, chat_id: str, event: str, data: dict[str, Any], skip: str) -> None:
        super().send(chat_id, event, data, skip)
        self.r.guarded("signals", lambda: self.publish(chat_id, event, data, skip), lambda: 0)

    def publish(self, chat_id: str, event: str, data: dict[str, Any], skip: str) -> int:
        """To the other nodes' sockets only; may raise ERRORS."""
        payload = orjson.dumps({"n": self.r.node, "c": chat_id, "e": event, "d": data, "s": skip})
        return int(self.r.client.publish(self.channel, payload))

    def _heard(self) -> None:
        """The breaker closes only once this node hears the other nodes again."""
        if not self.listening:
            raise redis.ConnectionError("not subscribed to the other nodes' signals yet")

    def _receive(self) -> None:
        """Listen whatever the breaker says (a hung Redis just sends nothing); a broken subscription opens the
        breaker and is made again at once, then every RESUBSCRIBE_S while Redis refuses it."""
        while True:
            pubsub = self.r.client.pubsub()
            try:
                pubsub.subscribe(self.channel)
                while True:
                    message = pubsub.get_message(timeout=PROBE_S)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self.listening = True
                    elif message["type"] == "message":
                        self._hear(message["data"])
            except ERRORS as exc:
                was = self.listening
                self.listening = False
                self.r.trip("signals from other nodes", exc)
                if not was:
                    gevent.sleep(RESUBSCRIBE_S)
            finally:
                pubsub.close()

    def _hear(self, data: bytes) -> None:
        try:
            signal = orjson.loads(data)
            if signal["n"] != self.r.node and self._deliver is not None:
                self._deliver(signal["c"], signal["e"], signal["d"], signal["s"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("a signal that is not ours: %s", exc)
