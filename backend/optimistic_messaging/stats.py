"""The figures components keep as they work: plain numbers (no lock, no allocation per event or recipient), read by
metrics.py when /metrics is scraped."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)  # seconds
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


PUSH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Histogram:
    """Counts per bucket, a sum and a count: one bisect and three additions per observation."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def buckets(self) -> list[tuple[str, int]]:
        """Cumulative counts per upper bound, as Prometheus has them."""
        cumulative, out = 0, []
        for bound, n in zip((*map(str, self.bounds), "+Inf"), self.counts, strict=True):
            cumulative += n
            out.append((bound, cumulative))
        return out


class Counts:
    """Counters by a label's value, kept in a dict of ints."""

    __slots__ = ("by",)

    def __init__(self) -> None:
        self.by: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        self.by[key] = self.by.get(key, 0) + n


class Meter:
    """The figures kept outside any one component: sends and their acks, deliveries, cuts."""

    def __init__(self) -> None:
        self.acks = Counts()  # by result: ok, or the error code
        self.ack_seconds = Histogram(LATENCY_BUCKETS)  # send received -> ack ready (durable)
        self.deliveries = 0  # message frames written to sockets (a socket's batch counts each message)
        self.cuts = Counts()  # connections dropped by the server, by reason
        self.pushes = Counts()  # Web Push requests by result: delivered, gone, retried, refused, failed; dropped
        self.farcaster = Counts()  # Farcaster notifications by result: sent, invalid, limited, failed, dropped
        self.push_queued = 0  # committed messages waiting for their pushes to be decided
        self.push_seconds = Histogram(PUSH_BUCKETS)  # a message's commit -> the push service took its push


METER = Meter()  # one per process, like the Socket.IO server it counts for


@dataclass
class StoreStats:
    """What a store counts of its group commits."""

    commit_seconds: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    batch_size: Histogram = field(default_factory=lambda: Histogram(SIZE_BUCKETS))
    failures: int = 0  # commits storage refused (answered unavailable)

    def committed(self, seconds: float, writes: int) -> None:
        self.commit_seconds.observe(seconds)
        self.batch_size.observe(writes)
