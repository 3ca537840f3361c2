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

    def take(self, address: str) -> None:
        """Spend one token or raise `rate_limited` saying when the next one comes."""
        now = time.monotonic()
        tokens, at = self._buckets.get(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_s)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            retry_after_ms = max(1, math.ceil((1.0 - tokens) / self.per_s * 1000))
            raise ApiError("rate_limited", f"more than {self.per_s:g} per second (burst {self.burst:g}) from this "
                           f"address; retry in {retry_after_ms} ms", retry_after_ms=retry_after_ms)
        self._buckets[address] = (tokens - 1.0, now)
