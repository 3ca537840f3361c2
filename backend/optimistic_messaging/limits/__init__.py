"""Budgets (token buckets): per wallet address, sends, other socket events, and chat creation and membership changes;
per client address (clients.client_address), Socket.IO handshakes and sign-in attempts.

Each budget is a `RateLimiter`: in this process, or shared by every node (limits/redis.py). `Limits` builds all of
them in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..clock import Clock
from ..config import Config
from ..errors import ApiError


class RateLimiter(Protocol):
    refused: int  # attempts answered rate_limited, for /metrics

    def take(self, address: str) -> None:
        """Spend one token of the address's budget, or raise `rate_limited` saying when the next one comes."""


@dataclass(frozen=True)
class Budget:
    """A budget's shape: `per_s` sustained, `burst` at once; `what` names what it counts, for the error."""

    what: str
    per_s: float
    burst: int

    def refusal(self, retry_after_ms: int) -> ApiError:
        rate = f"{self.per_s:g} per second" if self.per_s >= 1 else f"{self.per_s * 60:g} per minute"
        return ApiError(
            "rate_limited",
            f"more than {rate} {self.what} (burst {self.burst}) from this address; retry in {retry_after_ms} ms",
            retry_after_ms=retry_after_ms,
        )

    def retry_after_ms(self, tokens: float) -> int:
        """How long until a bucket holding `tokens` holds one."""
        return max(1, math.ceil((1.0 - tokens) / self.per_s * 1000))


class LocalRateLimiter:
    """Token buckets in this process's memory, for every address that spent some lately."""

    def __init__(self, budget: Budget, clock: Clock) -> None:
        self.budget = budget
        self._clock = clock
        self._burst = float(budget.burst)
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, at)
        self._refill_s = self._burst / budget.per_s  # an untouched bucket is full again after this: no need to keep it
        self._pruned_at = clock.monotonic()
        self.refused = 0

    def take(self, address: str) -> None:
        now = self._clock.monotonic()
        if now - self._pruned_at > max(60.0, self._refill_s):
            self._prune(now)
        tokens, at = self._buckets.get(address, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self.budget.per_s)
        if tokens < 1.0:
            self._buckets[address] = (tokens, now)
            self.refused += 1
            raise self.budget.refusal(self.budget.retry_after_ms(tokens))
        self._buckets[address] = (tokens - 1.0, now)

    def _prune(self, now: float) -> None:
        """Forget addresses whose buckets have refilled, so memory follows active senders, not every one ever seen."""
        self._buckets = {a: (t, at) for a, (t, at) in self._buckets.items() if now - at < self._refill_s}
        self._pruned_at = now


@dataclass(frozen=True)
class Limits:
    """Every per-address budget of the server."""

    sends: RateLimiter  # RATE_PER_S / RATE_BURST: every send attempt
    events: RateLimiter  # EVENT_RATE_PER_S / EVENT_RATE_BURST: every other socket event
    chats: RateLimiter  # CHAT_RATE_PER_MIN / CHAT_RATE_BURST: chat creation and member changes
    handshakes: RateLimiter  # HANDSHAKE_RATE_PER_MIN / HANDSHAKE_RATE_BURST: Socket.IO connections, per client
    signins: RateLimiter  # SIGNIN_RATE_PER_MIN / SIGNIN_RATE_BURST: nonce, verify, verify-tx, renew, per client

    @staticmethod
    def budgets(config: Config) -> dict[str, Budget]:
        return {
            "sends": Budget("sends", config.rate_per_s, config.rate_burst),
            "events": Budget("socket events", config.event_rate_per_s, config.event_rate_burst),
            "chats": Budget("chat creations and member changes", config.chat_rate_per_min / 60, config.chat_rate_burst),
            "handshakes": Budget(
                "connection handshakes", config.handshake_rate_per_min / 60, config.handshake_rate_burst
            ),
            "signins": Budget("sign-in attempts", config.signin_rate_per_min / 60, config.signin_rate_burst),
        }

    @classmethod
    def build(cls, config: Config, make: Callable[[str, Budget], RateLimiter]) -> Limits:
        """Each budget of `config`, made by `make(name, budget)` (in this process, or shared)."""
        return cls(**{name: make(name, budget) for name, budget in cls.budgets(config).items()})

    @classmethod
    def local(cls, config: Config, clock: Clock) -> Limits:
        return cls.build(config, lambda _, budget: LocalRateLimiter(budget, clock))
