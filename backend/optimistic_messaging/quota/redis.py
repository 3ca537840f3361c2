"""Sockets per address counted across every living node, in Redis."""

from __future__ import annotations

from ..redisconn import Redis, text

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
        gone = {text(address) for address in self.r.client.smembers(of)} - set(self._local)
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
            self.r.client.hdel(self.r.key("sockets", text(address)), node)
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
