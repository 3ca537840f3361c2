"""Used nonces shared by every node, in Redis."""

from __future__ import annotations

from ..errors import ApiError
from ..redisconn import Redis

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

    def forget(self, nonce: str) -> None:
        """While Redis fails the nonce stays used until it expires (nothing else can undo it)."""
        self.r.guarded("a nonce", lambda: self.r.client.delete(self.r.key("nonce", nonce)), lambda: 0)


def _nonces_unchecked() -> bool:
    raise ApiError(
        "unavailable",
        "nonces cannot be checked while Redis is unreachable: retry shortly (a sign-in with a new nonce)",
    )
