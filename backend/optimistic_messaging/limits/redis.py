"""Budgets shared by every node: a token bucket per address in Redis, on Redis's clock."""

from __future__ import annotations

from ..redisconn import Redis
from . import Budget, LocalRateLimiter

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
