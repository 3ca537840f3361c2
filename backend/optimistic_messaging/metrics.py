"""What an operator watches, in Prometheus's format on METRICS_PORT (a listener of its own, off by default).

On the hot path every figure is a plain number a component keeps (no lock, no allocation per event or recipient);
prometheus_client reads them all when /metrics is scraped, through one custom collector.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from .stats import METER, Histogram

if TYPE_CHECKING:
    from .services import Services

log = logging.getLogger(__name__)


def histogram(h: Histogram, name: str, documentation: str) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], h.buckets(), h.sum)
    return family


class Collector:
    """Reads every component's own figures at scrape time."""

    def __init__(self, services: Services) -> None:
        self.s = services

    def describe(self) -> list[Metric]:
        return []  # no description ahead of a scrape: the figures exist only when read

    def collect(self) -> Iterator[Metric]:
        s = self.s
        acks = CounterMetricFamily(
            "om_sends", "Send attempts answered, by result (ok or the error code)", labels=["result"]
        )
        for result, n in sorted(METER.acks.by.items()):
            acks.add_metric([result], n)
        yield acks
        yield histogram(METER.ack_seconds, "om_send_ack_seconds", "From a send read to its ack ready (durable)")
        stats = s.store.stats
        yield histogram(
            stats.commit_seconds,
            "om_commit_seconds",
            "Storage's time per group commit (write and fsync, or transaction)",
        )
        yield histogram(stats.batch_size, "om_commit_batch_size", "Writes per group commit")
        failed = CounterMetricFamily("om_commit_failures", "Group commits storage refused (answered unavailable)")
        failed.add_metric([], stats.failures)
        yield failed
        pushes = CounterMetricFamily(
            "om_pushes", "Web Push requests by result (and messages dropped)", labels=["result"]
        )
        for result, n in sorted(METER.pushes.by.items()):
            pushes.add_metric([result], n)
        yield pushes
        farcaster = CounterMetricFamily(
            "om_farcaster_notifications", "Farcaster notification requests by result", labels=["result"]
        )
        for result, n in sorted(METER.farcaster.by.items()):
            farcaster.add_metric([result], n)
        yield farcaster
        yield GaugeMetricFamily(
            "om_push_queue", "Committed messages whose pushes wait to be decided", METER.push_queued
        )
        yield histogram(METER.push_seconds, "om_push_seconds", "From a message's sending to its push taken")
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
        for budget in ("sends", "events", "chats", "handshakes", "signins"):
            refused.add_metric([budget], getattr(s.limits, budget).refused)
        yield refused
        healthy = GaugeMetricFamily("om_store_healthy", "1 while storage takes writes")
        healthy.add_metric([], int(s.store.healthy()))
        yield healthy
        if s.redis is not None:
            up = GaugeMetricFamily("om_redis_up", "1 while Redis is used; 0 while its breaker is open (own view)")
            up.add_metric([], int(s.redis.up))
            yield up
            trips = CounterMetricFamily("om_redis_breaker_trips", "Times Redis failed or hung and the breaker opened")
            trips.add_metric([], s.redis.trips)
            yield trips
        yield from self._reconciler()

    def _reconciler(self) -> Iterator[Metric]:
        r = self.s.reconciler
        rounds = CounterMetricFamily("om_reconciler_rounds", "Reconciler rounds run on this node")
        rounds.add_metric([], r.rounds)
        yield rounds
        leader = GaugeMetricFamily("om_reconciler_leader", "1 on the node that runs the reconciler")
        leader.add_metric([], int(r.leadership.is_leader()))
        yield leader
        pending = GaugeMetricFamily(
            "om_provisional", "Messages waiting to be settled, by what settles them", labels=["kind"]
        )
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


def serve_metrics(services: Services, host: str, port: int) -> None:
    """/metrics on a listener of its own (an operator's, never the public one), in the background."""
    from gevent import pywsgi

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector(services))
    app = make_wsgi_app(registry)
    server = pywsgi.WSGIServer((host, port), app, log=None)
    server.start()
    log.info("metrics on http://%s:%d/metrics", host, server.server_port)
