"""What an operator watches, in Prometheus's format on METRICS_PORT (a listener of its own, off by default).

On the hot path every figure is a plain number a component keeps (no lock, no allocation per event or recipient);
prometheus_client reads them all when /metrics is scraped, through one custom collector.
"""
from __future__ import annotations

import logging
from bisect import bisect_left
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)  # seconds
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)


class Histogram:
    """Counts per bucket, a sum and a count: one bisect and three additions per observation."""

    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def family(self, name: str, documentation: str, labels: dict[str, str] | None = None,
               family: HistogramMetricFamily | None = None) -> HistogramMetricFamily:
        family = family or HistogramMetricFamily(name, documentation, labels=list(labels or {}))
        cumulative, buckets = 0, []
        for bound, n in zip((*map(str, self.bounds), "+Inf"), self.counts):
            cumulative += n
            buckets.append((bound, cumulative))
        family.add_metric(list((labels or {}).values()), buckets, self.sum)
        return family


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


METER = Meter()  # one per process, like the Socket.IO server it counts for


class Collector:
    """Reads every component's own figures at scrape time."""

    def __init__(self, services: "Services") -> None:
        self.s = services

    def describe(self) -> list[Metric]:
        return []  # no description ahead of a scrape: the figures exist only when read

    def collect(self) -> Iterator[Metric]:
        s = self.s
        acks = CounterMetricFamily("om_sends", "Send attempts answered, by result (ok or the error code)",
                                   labels=["result"])
        for result, n in sorted(METER.acks.by.items()):
            acks.add_metric([result], n)
        yield acks
        yield METER.ack_seconds.family("om_send_ack_seconds", "From a send read to its ack ready (durable)")
        stats = s.store.stats
        yield stats.commit_seconds.family("om_commit_seconds", "Storage's time per group commit (write and fsync, "
                                          "or transaction)")
        yield stats.batch_size.family("om_commit_batch_size", "Writes per group commit")
        failed = CounterMetricFamily("om_commit_failures", "Group commits storage refused (answered unavailable)")
        failed.add_metric([], stats.failures)
        yield failed
        delivered = CounterMetricFamily("om_deliveries", "Message and update frames written to sockets")
        delivered.add_metric([], METER.deliveries)
        yield delivered
        cuts = CounterMetricFamily("om_connections_cut", "Connections the server cut, by reason", labels=["reason"])
        for reason, n in sorted(METER.cuts.by.items()):
            cuts.add_metric([reason], n)
        yield cuts
        sockets = GaugeMetricFamily("om_sockets", "Signed-in sockets open on this node")
        sockets.add_metric([], len(s.connections))
        yield sockets
        refused = CounterMetricFamily("om_refusals", "Requests refused rate_limited, by budget", labels=["budget"])
        for budget in ("sends", "events", "chats"):
            refused.add_metric([budget], getattr(s.limits, budget).refused)
        yield refused
        healthy = GaugeMetricFamily("om_store_healthy", "1 while storage takes writes")
        healthy.add_metric([], int(s.store.healthy()))
        yield healthy
        yield from self._reconciler()

    def _reconciler(self) -> Iterator[Metric]:
        r = self.s.reconciler
        rounds = CounterMetricFamily("om_reconciler_rounds", "Reconciler rounds run on this node")
        rounds.add_metric([], r.rounds)
        yield rounds
        leader = GaugeMetricFamily("om_reconciler_leader", "1 on the node that runs the reconciler")
        leader.add_metric([], int(r.leadership.is_leader()))
        yield leader
        pending = GaugeMetricFamily("om_provisional", "Messages waiting to be settled, by what settles them",
                                    labels=["kind"])
        try:
            for kind, n in sorted(r.waiting_by_kind().items()):
                pending.add_metric([kind], n)
        except Exception as exc:  # the store away: the rest of the figures still count
            log.debug("provisional counts not read: %s", exc)
        yield pending
        calls = CounterMetricFamily("om_chain_rpc_calls", "JSON-RPC requests to the chain's node (a batch counts once)")
        calls.add_metric([], r.chain.calls if r.chain else 0)
        yield calls
        errors = CounterMetricFamily("om_reconciler_errors", "Checks that failed (a source of truth down or wrong)")
        errors.add_metric([], r.errors)
        yield errors


def serve_metrics(services: "Services", host: str, port: int) -> None:
    """/metrics on a listener of its own (an operator's, never the public one), in the background."""
    from gevent import pywsgi

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(services))  # type: ignore[arg-type]
    app = make_wsgi_app(registry)
    server = pywsgi.WSGIServer((host, port), app, log=None)
    server.start()
    log.info("metrics on http://%s:%d/metrics", host, server.server_port)
