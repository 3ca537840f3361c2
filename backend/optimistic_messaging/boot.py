"""The process boot: what a serving process does around the pure app factory, in order and in one place.

`backend/main.py` (pywsgi) and `wsgi.py` (gunicorn) both call `boot`: logging, the app, the library patches of
`wire`, then the node (everything that runs in the background), the metrics listener, and the collector tuned last.
"""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from . import logs, wire
from .app import NODE, create_app
from .clients import client_address
from .clock import SYSTEM_CLOCK, Clock
from .config import Config
from .node import Node
from .notify import vapid
from .store.postgres.kept import kept_key


def config_from_env(env: dict[str, str] | None = None) -> Config:
    """The process's settings: the environment's, the signing key kept beside the data when unset, the VAPID key
    too (with DATABASE_URL in the database, so every node signs pushes with the same key)."""
    url = (os.environ if env is None else env).get("DATABASE_URL")
    return Config.from_env(
        env, secret_beside, (lambda _: kept_key(url, "vapid", vapid.generate)) if url else vapid_beside
    )


def secret_beside(data_file: Path) -> str:
    """Generate the signing key once and keep it beside the data, so a restart keeps tokens valid."""
    return kept_beside(data_file.with_name(data_file.name + ".secret"), lambda: secrets.token_hex(32))


def vapid_beside(data_file: Path) -> str:
    """Generate the VAPID key once and keep it beside the data, so a restart keeps push subscriptions working."""
    return kept_beside(data_file.with_name(data_file.name + ".vapid"), vapid.generate)


def kept_beside(path: Path, make: Callable[[], str]) -> str:
    """The key kept at `path`, made once.

    Written to a temporary file, synced, then renamed: a crash never leaves a short or empty key behind.
    """
    if path.exists():
        return path.read_text().strip()
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(make())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent.resolve(), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path.read_text().strip()


def boot(config: Config, clock: Clock = SYSTEM_CLOCK) -> Flask:
    """Set the process up, build the app, start it: the one way a process comes to serve."""
    logs.configure(config.log_level, config.log_format)
    app = create_app(config, clock)
    services = app.extensions["optimistic_messaging"]
    handshakes = services.limits.handshakes  # the app's: a handshake is refused before the upgrade, in the patch
    wire.install(
        config.max_request_bytes,
        config.cors_origins,
        config.http_idle_timeout_s,
        lambda environ: handshakes.take(client_address(environ, config.trusted_proxies)),
    )
    node: Node = app.extensions[NODE]
    node.start()
    if config.metrics_port is not None:
        from .metrics import serve_metrics

        serve_metrics(services, config.metrics_host, config.metrics_port)
    spare_the_collector()
    return app


def spare_the_collector() -> None:
    """Stored messages live as long as the process: keep the cyclic GC from rescanning them on every pass.

    Freezing moves what start-up loaded out of the collector's view; the higher first threshold makes
    collections rarer under the steady allocation of a busy event loop (nothing we keep forms cycles).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
