"""The app factory: one Flask app with its Socket.IO server and its handlers wired, built and nothing else.

Building starts nothing, patches no library, configures no logging and touches no file: the process boot
(`boot.py`) does those, and starts the app's `Node`."""

from __future__ import annotations

import orjson
from flask import Flask
from flask_socketio import SocketIO

from . import api
from .auth import Auth, Revocations
from .backends import open_backends
from .chats import Chats
from .clock import SYSTEM_CLOCK, Clock
from .config import Config
from .connections import Connections
from .farcaster.hub import Hub
from .farcaster.quickauth import QuickAuth
from .farcaster.replays import Replays
from .messaging import Messaging
from .namespace import Handlers
from .node import Node
from .receipts import Receipts
from .reconciler import Reconciler
from .services import Services


class OrjsonCodec:
    """The `json` module Socket.IO packets are encoded with: orjson is several times faster and encodes dataclasses."""

    @staticmethod
    def dumps(obj: object, **_: object) -> str:
        return orjson.dumps(obj).decode()

    loads = staticmethod(orjson.loads)


NODE = "optimistic_messaging.node"  # the app's extension holding its Node


def create_app(config: Config, clock: Clock = SYSTEM_CLOCK) -> Flask:
    """Build the server, starting nothing; `app.extensions["socketio"]` is its Socket.IO server,
    `app.extensions[NODE]` what the boot starts (serve `boot.boot(config)`, not this alone: the node opens the
    store)."""
    backends = open_backends(config, clock)
    store, limits = backends.store, backends.limits
    chats = Chats(store, config.max_members, limits.chats)
    reconciler = Reconciler(config, store, clock, backends.leadership)
    revocations = Revocations(store, clock)
    services = Services(
        config=config,
        clock=clock,
        store=store,
        broker=backends.broker,
        auth=Auth(config, backends.used_nonces, clock, revocations),
        chats=chats,
        messaging=Messaging(config, store, chats, limits.sends),
        receipts=Receipts(store, chats),
        presence=backends.presence,
        signals=backends.signals,
        limits=limits,
        reconciler=reconciler,
        connections=Connections(backends.quota),
        replays=Replays(backends.used_nonces, clock),
        hub=Hub(config.farcaster_hub_url) if config.farcaster_hub_url else None,
        quick_auth=QuickAuth(config.farcaster_auth_jwks_url, config.siwe_domains)
        if config.farcaster_auth_jwks_url
        else None,
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
    node = app.extensions[NODE] = Node(socketio.server, services, backends, Handlers.pipelined)
    socketio.server.register_namespace(Handlers(services, node))
    return app
