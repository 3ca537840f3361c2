"""Serve with gevent's pywsgi and the websocket handler on our own listener, with TCP_NODELAY set."""
from __future__ import annotations

import logging
import socket

from flask import Flask
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler

from .config import Config

log = logging.getLogger(__name__)


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


class Handler(WebSocketHandler):
    """gevent-websocket's handler with a 1 KiB read buffer: a websocket keeps its buffer for life (pywsgi's is 8 KiB).

    Socket.IO frames are small, and a read larger than the buffer goes straight to the socket.
    """

    def __init__(self, sock: socket.socket, address: tuple, server: pywsgi.WSGIServer) -> None:
        super().__init__(sock, address, server)
        self.rfile = sock.makefile("rb", 1024)


def serve(app: Flask, config: Config) -> None:
    server = pywsgi.WSGIServer(listener(config.host, config.port), app, handler_class=Handler, log=None)
    log.info("serving on http://%s:%d (data: %s, fsync: %s)", config.host, server.server_port,
             config.data_file, "always" if config.fsync else "off")
    server.serve_forever()
