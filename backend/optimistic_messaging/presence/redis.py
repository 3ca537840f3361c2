"""Presence and signals shared by every node, in Redis: an address is online in a chat while any living node holds a
socket of it, and typing and presence signals reach the other nodes' sockets through one pub/sub channel."""

from __future__ import annotations

import logging
from typing import Any

import gevent
import orjson
import redis

from ..redisconn import ERRORS, PROBE_S, Redis, text
from . import LocalPresence, LocalSignals

log = logging.getLogger(__name__)

RESUBSCRIBE_S = 0.25  # how often the listener for the other nodes' signals tries again while Redis refuses it


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
            lambda: sorted(text(a) for a in self.r.client.smembers(self.r.key("online", chat_id))),
            lambda: super(RedisPresence, self).online(chat_id),
        )

    def _restore(self) -> None:
        """Write every pair this node holds and remove those it no longer does; the other nodes hear of each address
        this turns online or offline (they may not have while Redis was away)."""
        held = {_pair(chat_id, address) for chat_id, address in self.held()}
        written = {text(pair) for pair in self.r.client.smembers(self.r.key("held", self.r.node))}
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
            chat_id, address = text(pair).split("\n", 1)
            keys = self._keys(chat_id, address, node)
            if self._leave(keys=keys, args=[node, address, text(pair), self.r.alive_since()]):
                self.signals.send(
                    chat_id, "presence", {"chat_id": chat_id, "address": address, "online": False}, address
                )
        self.r.client.delete(held)


def _pair(chat_id: str, address: str) -> str:
    return chat_id + "\n" + address


class RedisSignals(LocalSignals):
    """Signals to this node's sockets at once, and to the other nodes' through one pub/sub channel (at most once:
    typing and presence are ephemeral; a lost one is corrected by the next, or by the receivers' own timers)."""

    def __init__(self, r: Redis) -> None:
        super().__init__()
        self.r = r
        self.channel = r.key("signals")
        self.listening = False  # subscribed, as Redis confirmed
        self._receiver: gevent.Greenlet | None = None
        r.on_restore(self._heard)

    def start(self) -> None:
        self._receiver = gevent.spawn(self._receive)

    def close(self) -> None:
        """Stop listening to the other nodes (the subscription is closed as the receiver ends)."""
        if self._receiver is not None:
            self._receiver.kill()
            self._receiver = None

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
