"""Serve with gevent's pywsgi and the websocket handler on our own listener: TCP_NODELAY set, and open connections
held below the limit of open files, so a flood of connections is refused at once instead of hanging everyone."""

from __future__ import annotations

import logging
import resource
import socket
from typing import Any

import gevent
from flask import Flask
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler

from .config import Config
from .wire.http import raw_response, send_and_linger

log = logging.getLogger(__name__)
RESERVE_FDS = 128  # kept free for the store, the database, the chain's node, logs, and the answers to overflow
OVERFLOW = 64  # connections past the cap given a moment to show they are health checks; beyond, refused at once
PEEK_S = 2.0  # an overflow connection has this long to show whether it is a health check
_FULL = raw_response(
    "503 Service Unavailable",
    "unavailable",
    "the server is at its connection limit; retry soon",
    [("Retry-After", "1")],
)


def listener(host: str, port: int) -> socket.socket:
    """Accepted sockets inherit TCP_NODELAY: without it Nagle's algorithm adds ~40 ms to small acks."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def connection_cap() -> int:
    """Open connections allowed: the limit of open files (raised to its hard limit first) less RESERVE_FDS."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return max(16, soft - RESERVE_FDS - OVERFLOW)


class Handler(WebSocketHandler):
    """gevent-websocket's handler with a 1 KiB read buffer: a websocket keeps its buffer for life (pywsgi's is 8 KiB).

    Socket.IO frames are small, and a read larger than the buffer goes straight to the socket.
    """

    def __init__(self, sock: socket.socket, address: tuple, server: pywsgi.WSGIServer) -> None:
        super().__init__(sock, address, server)
        self.rfile = sock.makefile("rb", 1024)


class Server(pywsgi.WSGIServer):
    """pywsgi, counting open connections: past `cap`, a health check is still served (up to OVERFLOW of them at once)
    and anything else is answered 503 and closed."""

    def __init__(self, sock: socket.socket, app: Flask, cap: int) -> None:
        # pywsgi's own complaints (a bad request line, say) go through logging, so LOG_FORMAT holds for them too.
        super().__init__(sock, app, handler_class=Handler, log=None, error_log=logging.getLogger("gevent.pywsgi"))
        self.cap = cap
        self.open = 0

    def handle(self, sock: Any, address: Any) -> None:
        self.open += 1
        try:
            if self.open <= self.cap or (self.open <= self.cap + OVERFLOW and _is_health_check(sock)):
                super().handle(sock, address)
            else:
                send_and_linger(sock, _FULL, 0.5)
        except OSError:
            pass
        finally:
            self.open -= 1
            sock.close()


def _is_health_check(sock: Any) -> bool:
    """Whether the request waiting on the socket is `GET /api/health` (peeked at, not read)."""
    want = b"GET /api/health"
    with gevent.Timeout(PEEK_S, False):
        while True:
            seen = sock.recv(len(want), socket.MSG_PEEK)
            if len(seen) == len(want) or not seen or not want.startswith(seen):
                return seen == want
            gevent.sleep(0.05)  # only part of the request line is here yet
    return False


def serve(app: Flask, config: Config) -> None:
    cap = connection_cap()
    server = Server(listener(config.host, config.port), app, cap)
    where = "PostgreSQL" if config.database_url else f"{config.data_file}, fsync {'always' if config.fsync else 'off'}"
    log.info("serving on http://%s:%d (store: %s; at most %d connections)", config.host, server.server_port, where, cap)
    server.serve_forever()
