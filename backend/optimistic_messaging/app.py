"""The app factory: one Flask app with its Socket.IO server, its store loaded and its handlers wired."""

from __future__ import annotations

import gc

import orjson
from flask import Flask
from flask_socketio import SocketIO

from . import api, events, logs, wire
from .auth import Auth, Revocations
from .backends import open_backends
from .chats import Chats
from .clients import client_address
from .clock import SYSTEM_CLOCK, Clock
from .config import Config
from .connections import Connections
from .messaging import Messaging
from .reconciler import Reconciler
from .services import Services


class OrjsonCodec:
    """The `json` module Socket.IO packets are encoded with: orjson is several times faster and encodes dataclasses."""

    @staticmethod
    def dumps(obj: object, **_: object) -> str:
        return orjson.dumps(obj).decode()

    loads = staticmethod(orjson.loads)


def create_app(config: Config | None = None, clock: Clock = SYSTEM_CLOCK) -> Flask:
    """Build the server; `app.extensions["socketio"]` is its Socket.IO server."""
    config = config or Config.from_env()
    logs.configure(config.log_level, config.log_format)
    backends = open_backends(config, clock)
    store, limits = backends.store, backends.limits
    chats = Chats(store, config.max_members, limits.chats)
    reconciler = Reconciler(config, store, clock, backends.leadership)
    backends.broker.subscribe(reconciler.noticed)
    backends.broker.on_resync(reconciler.reseed)
    revocations = Revocations(store, clock)
    revocations.load()
    backends.broker.subscribe(revocations.noticed)
    backends.broker.on_resync(revocations.load)
    services = Services(
        config=config,
        clock=clock,
        store=store,
        broker=backends.broker,
        auth=Auth(config, backends.used_nonces, clock, revocations),
        chats=chats,
        messaging=Messaging(config, store, chats, limits.sends),
        presence=backends.presence,
        signals=backends.signals,
        limits=limits,
        reconciler=reconciler,
        connections=Connections(backends.quota),
        redis=backends.redis,
    )

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    app.extensions["optimistic_messaging"] = services
    api.install(app)
    socketio = SocketIO(
        app,
        async_mode="gevent",
        # Websocket only: long-polling adds a slow path, and engine.io's polling close can hang a greenlet forever.
        transports=["websocket"],
        # Handle each socket's events in order on its own reader greenlet: no greenlet spawned per event.
        async_handlers=False,
        cors_allowed_origins=list(config.cors_origins),
        max_http_buffer_size=config.max_request_bytes,
        ping_interval=config.ping_interval_s,
        ping_timeout=config.ping_timeout_s,
        json=OrjsonCodec,
        logger=False,
        engineio_logger=False,
    )
    wire.install(
        socketio.server,
        config.max_request_bytes,
        config.cors_origins,
        config.http_idle_timeout_s,
        lambda environ: limits.handshakes.take(client_address(environ, config.trusted_proxies)),
    )
    events.register(socketio.server, services)
    socketio.start_background_task(services.reconciler.run)
    backends.start()
    if config.metrics_port is not None:
        from .metrics import serve_metrics

        serve_metrics(services, config.metrics_host, config.metrics_port)
    _spare_the_collector()
    return app


def _spare_the_collector() -> None:
    """Stored messages live as long as the process: keep the cyclic GC from rescanning them on every pass.

    Freezing moves what start-up loaded out of the collector's view; the higher first threshold makes
    collections rarer under the steady allocation of a busy event loop (nothing we keep forms cycles).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
