"""Coalescing windows and budgets shared by every node: each window a key (its end) and a list (its items) in Redis,
changed by one script at a time on Redis's clock, so of nodes taking a window at once one gets its items. While the
breaker is open, each node keeps its own (`LocalWindows`): a push may then come twice in a window, and what Redis
kept for a window's end goes once it answers again (within ORPHAN_S of that end)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..redisconn import Redis
from . import LocalWindows, Taken

_NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) "
_ADD = (
    _NOW
    + """
local ends = tonumber(redis.call('GET', KEYS[1]))
if ends == nil or (now >= ends and redis.call('LLEN', KEYS[2]) == 0) then
  redis.call('SET', KEYS[1], now + tonumber(ARGV[2]), 'PX', ARGV[3])
  return 1
end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
"""
)
_KEEP = (
    _NOW
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], now + tonumber(ARGV[1]), 'PX', ARGV[2]) end
for i = #ARGV, 3, -1 do redis.call('LPUSH', KEYS[2], ARGV[i]) end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
)
_TAKE = (
    _NOW
    + """
local ends = tonumber(redis.call('GET', KEYS[1]))
if ends == nil then return {0} end
if now < ends then return {ends - now} end
local items = redis.call('LRANGE', KEYS[2], 0, -1)
if #items == 0 then redis.call('DEL', KEYS[1]) return {0} end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], now + tonumber(ARGV[1]), 'PX', ARGV[2])
local answer = {0}
for _, item in ipairs(items) do answer[#answer + 1] = item end
return answer
"""
)
_CLOSE = "if redis.call('LLEN', KEYS[2]) == 0 then redis.call('DEL', KEYS[1]) end"
_SPEND = """
local spent = redis.call('INCR', KEYS[1])
if spent == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if spent > tonumber(ARGV[1]) then return 0 end
return 1
"""
ORPHAN_S = 60.0  # a window nobody takes (every node that kept items in it died) is gone this long after its end


class RedisWindows:
    """The windows in Redis, on Redis's clock; this node's own while Redis is failing."""

    def __init__(self, r: Redis) -> None:
        self.r = r
        self._add, self._keep = r.client.register_script(_ADD), r.client.register_script(_KEEP)
        self._take, self._spend = r.client.register_script(_TAKE), r.client.register_script(_SPEND)
        self._close = r.client.register_script(_CLOSE)
        self._fallback = LocalWindows(r.clock)

    def _keys(self, key: str) -> list[str]:
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        return [self.r.key("window", name), self.r.key("window", name, "items")]

    @staticmethod
    def _ms(window_s: float) -> tuple[int, int]:
        return int(window_s * 1000), int((window_s + ORPHAN_S) * 1000)

    def add(self, key: str, item: str, window_s: float) -> bool:
        window_ms, ttl_ms = self._ms(window_s)
        return self.r.guarded(
            "a notification window",
            lambda: bool(self._add(keys=self._keys(key), args=[item, window_ms, ttl_ms])),
            lambda: self._fallback.add(key, item, window_s),
        )

    def keep(self, key: str, items: Sequence[str], window_s: float) -> None:
        self.r.guarded(
            "a notification window",
            lambda: self._keep(keys=self._keys(key), args=[*self._ms(window_s), *items]),
            lambda: self._fallback.keep(key, items, window_s),
        )

    def take(self, key: str, window_s: float) -> Taken:
        def call() -> Taken:
            left_ms, *items = self._take(keys=self._keys(key), args=list(self._ms(window_s)))
            return Taken(tuple(i.decode() if isinstance(i, bytes) else str(i) for i in items), int(left_ms) / 1000)

        return self.r.guarded("a notification window", call, lambda: self._fallback.take(key, window_s))

    def close(self, key: str) -> None:
        self.r.guarded(
            "a notification window",
            lambda: self._close(keys=self._keys(key)),
            lambda: self._fallback.close(key),
        )

    def spend(self, key: str, limit: int, period_s: float) -> bool:
        name = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.r.guarded(
            "a notification budget",
            lambda: bool(self._spend(keys=[self.r.key("budget", name)], args=[limit, int(period_s * 1000)])),
            lambda: self._fallback.spend(key, limit, period_s),
        )
