"""Per-address token buckets: RATE_PER_S sustained, RATE_BURST at once, across all of an address's sockets."""
from __future__ import annotations

import math
import time

from .errors import ApiError


class RateLimiter:
    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s = per_s
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)
        self._refill_s = self.burst / per_s  # an untouched bucket is full again after this: no need to keep it
        self._pruned_at = time.monotonic()

    def take(self, address: str) -> None:
        """Spend one token or raise `rate_limited` saying when the next one comes."""
        now = time.monotonic()
        if now - self._pruned_at > max(60.0, self._refill_s):
            self._prune(now)
        tokens, at = self._buckets.get(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_s)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            retry_after_ms = max(1, math.ceil((1.0 - tokens) / self.per_s * 1000))
            raise ApiError("rate_limited", f"more than {self.per_s:g} per second (burst {self.burst:g}) from this "
                           f"address; retry in {retry_after_ms} ms", retry_after_ms=retry_after_ms)
        self._buckets[address] = (tokens - 1.0, now)

    def _prune(self, now: float) -> None:
        """Forget addresses whose buckets have refilled, so memory follows active senders, not every one ever seen."""
        self._buckets = {a: (t, at) for a, (t, at) in self._buckets.items() if now - at < self._refill_s}
        self._pruned_at = now
