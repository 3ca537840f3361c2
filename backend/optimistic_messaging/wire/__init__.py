"""The fast and hardened path between Socket.IO and the kernel.

This package is the only code that reaches into library internals (python-engineio's per-socket queue and websocket
driver, python-socketio's dispatch, gevent-websocket's frame reader and upgrade, gevent's pywsgi handler). `install`
refuses any version but the pinned ones, so an upgrade fails loudly in tests/test_wire.py instead of misbehaving
quietly; the process boot calls it once. `attach` puts one Socket.IO server on the path (the app factory does; it
starts nothing: the pinger's loop is returned for the app's node to run). What it changes:
- `frames`: every text packet's websocket frame is built once and written straight to each recipient's socket when
  nothing else is queued or being written there (else it waits in that socket's queue, in order); a batch of
  broadcasts reaches each socket as one write. Incoming frames must be masked, are unmasked in C, and are held to the
  packet limit (a fragmented message as a whole) with bad UTF-8 failing at its fragment; close frames carry their
  status code (a client's is echoed; 1002/1007/1009 for protocol, UTF-8 and size faults). A socket whose backlog
  passes 4 MiB is cut only once it stops draining. Each socket's send queue is a lean one. An idle socket keeps little:
  once its read loop runs, its WSGI environ keeps only the client's address and origin, and gevent records no
  spawning tree (whose captured stacks kept every reader's frames alive).
- `engine`: one greenlet pings all sockets (engine.io parks a sleeping one per socket), closes those whose PONG is
  late and sessions left without a Socket.IO session for a whole interval, and holds session ids only (a closed
  session is freed at once); binary packets drop the connection, undecodable ones are
  answered `invalid`, the reserved event names are refused. A socket's consecutive sends are in flight together (a
  handler answers `Later`), their answers going out in the order the sends came, and any other event waits for them.
- `http`: raw HTTP faults (bad request lines, headers, chunked bodies, overlong lines, bad handshakes) are answered in
  the error shape with one response; a handshake over its client's budget is refused 429 and a foreign Origin 403,
  both before the upgrade; a connection that has not sent a whole request within HTTP_IDLE_TIMEOUT_S is closed. An
  upgraded connection lets go of its parsed headers and its request deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from importlib.metadata import version
from typing import Any

import gevent
import socketio

from . import engine, frames, http
from .engine import Later, broadcast, broadcast_many, close_socket, in_room, room_empty, to_sids
from .frames import Frame, LeanQueue, deliver, drop, event_frame, text_frame

__all__ = [
    "Frame",
    "Later",
    "LeanQueue",
    "attach",
    "broadcast",
    "broadcast_many",
    "close_socket",
    "deliver",
    "drop",
    "event_frame",
    "in_room",
    "install",
    "room_empty",
    "text_frame",
    "to_sids",
]

PINNED = {"python-engineio": "4.15.1", "python-socketio": "5.18.1", "gevent-websocket": "0.10.1", "gevent": "26.9.0"}


def install(
    max_frame_bytes: int,
    origins: Collection[str],
    idle_timeout_s: float,
    admit: Callable[[dict[str, Any]], None],
) -> None:
    """Patch the libraries onto the fast, hardened path, process-wide (the process boot does it, once); refuses
    library versions it was not written against. `admit(environ)` raises `rate_limited` for a websocket handshake
    over its client's budget."""
    _check_versions()
    # gevent records each greenlet's spawner and stack; capturing a stack keeps the frames of a socket's reader, ~3 KB
    # for every connection's life.
    gevent.config.track_greenlet_tree = False
    frames.install(max_frame_bytes)
    engine.install()
    http.install(origins, idle_timeout_s, admit)


def attach(sio: socketio.Server, pipelined: Collection[str] = ()) -> Callable[[], None]:
    """Put this Socket.IO server on that path (its websocket driver and queue, direct sends, the packet guard, one
    pinger); starts nothing: returns the pinger's loop, for the app's node to run. The answers of `pipelined` events
    may come later (`Later`) while the socket's next events are read, and still go out in the order they came."""
    _check_versions()
    sio.eio._async = {**sio.eio._async, "websocket": frames.FastWebSocket, "queue": frames.LeanQueue}
    return engine.attach(sio, frozenset(pipelined))


def _check_versions() -> None:
    """Refuse library versions this package was not written against: an upgrade fails loudly here, not quietly later."""
    found = {name: version(name) for name in PINNED}
    if found != PINNED:
        raise RuntimeError(f"optimistic_messaging.wire is written for {PINNED}, found {found}: re-check its internals")
