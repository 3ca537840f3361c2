"""The fast path between Socket.IO and the kernel: frames encoded once, written with one syscall each.

This is the only module that reaches into library internals (python-engineio's per-socket queue and
websocket driver, gevent-websocket's frame reader). `install` refuses any version but the pinned ones,
so an upgrade fails loudly in tests/test_wire.py instead of misbehaving quietly. What it changes:
- every text packet (broadcasts, acks): its websocket frame is built once and written straight to each
  recipient's socket when nothing else is queued or being written there (else it waits in that socket's
  queue, in order); a batch of broadcasts reaches each socket as one write;
- every outgoing text frame: header built here, one `send` (gevent's sendall also calls getsockopt);
- incoming frames: unmasked in C via int XOR instead of a Python loop per byte; UTF-8 checked once,
  by the decode that follows, instead of also by a pure-Python validator; a frame whose header
  announces more than the packet limit is refused before its payload is read;
- hostile packets: binary packets drop the connection, undecodable ones are answered `invalid`, the
  reserved event names (connect, disconnect) are refused, a client that stops reading is cut off;
- memory per connection: one greenlet pings all sockets (engine.io parks a sleeping one per socket), and
  each socket's send queue is a lean one.
"""
from __future__ import annotations

import functools
import logging
import re
import socket
import struct
import time
from collections import deque
from importlib.metadata import version
from typing import Any, Callable, Collection, Iterable

import engineio
import engineio.async_drivers.gevent as engineio_gevent
import engineio.packet
import engineio.socket
import gevent
import gevent.event
import gevent.queue
import gevent.ssl
import geventwebsocket.websocket as gws
import orjson
import socketio
from geventwebsocket.exceptions import FrameTooLargeException

PINNED = {"python-engineio": "4.15.1", "python-socketio": "5.18.1", "gevent-websocket": "0.10.1"}
MAX_BACKLOG_BYTES = 4 * 1024 * 1024  # beyond this, a further frame for a socket that does not read closes it
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
_EVENT_ACK_ID = re.compile(r"2(?:/[^,]*,)?([0-9]{1,15})")
_PACKET_TYPES = frozenset("0123456")  # engine.io v4 text packets (a base64 'b' binary packet is not accepted either)
log = logging.getLogger(__name__)
_decode_header = gws.Header.__dict__["decode_header"].__func__
_original_read_frame = gws.WebSocket.read_frame
_original_handle_ping = gws.WebSocket.handle_ping
_by_websocket: dict[int, "FastWebSocket"] = {}  # id(gevent-websocket WebSocket) -> its driver, while connected


class Frame(bytes):
    """Bytes to put on the wire as they are: a whole websocket frame, or the unsent rest of one."""


def text_frame(payload: bytes) -> Frame:
    """An unmasked, final text frame (RFC 6455 §5.2), as servers send them."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return Frame(header + payload)


def event_frame(event: str, data: Any) -> Frame:
    """engine.io MESSAGE (4) carrying a Socket.IO EVENT (2) on namespace '/'."""
    return text_frame(b'42["' + event.encode() + b'",' + orjson.dumps(data) + b"]")


class _Queued:
    """A frame waiting in an engine.io socket's queue; the queue's writer calls `encode()` then `send()`."""

    __slots__ = ("frame",)

    def __init__(self, frame: Frame) -> None:
        self.frame = frame

    def encode(self, b64: bool = False) -> Frame:
        return self.frame


class FastWebSocket(engineio_gevent.WebSocketWSGI):
    """engine.io's gevent websocket driver, writing frames itself and registering on its engine.io socket."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        ws = environ.get("wsgi.websocket")
        self.writing = False
        self.message_bytes = 0  # of the message being read, across its continuation frames
        if ws is None:
            return super().__call__(environ, start_response)
        self.gsock = ws.handler.socket
        # Straight to the kernel socket under gevent's (non-blocking); under TLS every byte must go through it.
        self.raw = None if isinstance(self.gsock, gevent.ssl.SSLSocket) else self.gsock._sock
        self.eio_socket = self.app.__self__  # self.app is the engine.io socket's bound _websocket_handler
        self.eio_socket.fast_ws = self
        _by_websocket[id(ws)] = self  # gevent-websocket's WebSocket has __slots__: find us from it by id
        try:
            return super().__call__(environ, start_response)  # returns when the connection ends
        finally:
            del _by_websocket[id(ws)]

    def wait(self) -> Any:
        """The next message; a text frame that is no engine.io packet ends the connection as a close would.

        engine.io decodes it outside its read loop's error handling: the connection's greenlet dies with a traceback
        in the log and the session lingers until its ping times out.
        """
        message = super().wait()
        if isinstance(message, str) and message[:1] not in _PACKET_TYPES:
            log.info("closing connection %s: a frame that is no engine.io packet", self.eio_socket.sid)
            return None
        return message

    def send(self, message: Any) -> None:
        queued = isinstance(message, Frame)  # only frames that went through deliver's queue count as backlog
        if isinstance(message, str):
            message = text_frame(message.encode())
        elif not queued:
            return super().send(message)
        self.writing = True
        try:
            sent = _send_some(self.raw, message) if self.raw is not None else 0
            if sent < len(message):
                self._send_rest(memoryview(message)[sent:])
        finally:
            self.writing = False
            if queued:
                self.eio_socket.queue.written(message)

    def _send_rest(self, rest: memoryview) -> None:
        """Wait for the kernel to take the rest, but not past the ping deadline: a peer that reads nothing is cut."""
        eio = self.eio_socket.server
        try:
            with gevent.Timeout(eio.ping_interval + eio.ping_timeout):
                self.gsock.sendall(rest)
        except gevent.Timeout:
            drop(self.eio_socket, "it stopped reading")
            raise OSError("write timed out") from None


def _send_some(raw: Any, frame: bytes) -> int:
    """One non-blocking send: what the kernel took (0 when its buffer is full)."""
    try:
        return raw.send(frame)
    except BlockingIOError:
        return 0


def deliver(eio_socket: Any, frame: Frame) -> None:
    """Write now when this socket's line is free, else queue behind what is already waiting (order kept)."""
    if eio_socket.closed or eio_socket.closing:
        return
    ws = getattr(eio_socket, "fast_ws", None)
    if ws is None or ws.raw is None or ws.writing or eio_socket.queue.qsize():
        if eio_socket.queue.backlog > MAX_BACKLOG_BYTES:
            drop(eio_socket, "it stopped reading")
            return
        eio_socket.queue.put(_Queued(frame))
        return
    try:
        sent = _send_some(ws.raw, frame)
    except OSError:
        return  # the connection is gone; its reader notices and cleans up
    if sent < len(frame):
        eio_socket.queue.put(_Queued(Frame(frame[sent:])))


def drop(eio_socket: Any, why: str) -> None:
    """Cut a connection at the TCP level; its reader sees the end and engine.io cleans up as for any drop."""
    log.info("dropping connection %s: %s", eio_socket.sid, why)
    ws = getattr(eio_socket, "fast_ws", None)
    try:
        if ws is not None:
            ws.gsock.shutdown(socket.SHUT_RDWR)
        else:
            eio_socket.close(wait=False, abort=True)
    except OSError:
        pass  # already gone


def broadcast_many(sio: socketio.Server, events: Iterable[tuple[str, str, Any]], skip: Collection[str] = ()) -> None:
    """Emit (room, event, data) triples in order: each frame encoded once, each socket written once."""
    frames: dict[str, list[Frame]] = {}
    for room, event, data in events:
        frame = event_frame(event, data)
        for sid, eio_sid in sio.manager.get_participants("/", room):
            if sid not in skip:
                frames.setdefault(eio_sid, []).append(frame)
    sockets = sio.eio.sockets
    for eio_sid, pending in frames.items():
        eio_socket = sockets.get(eio_sid)
        if eio_socket is not None:
            deliver(eio_socket, pending[0] if len(pending) == 1 else Frame(b"".join(pending)))


def broadcast(sio: socketio.Server, room: str, event: str, data: Any, skip: Collection[str] = ()) -> None:
    """Emit one event to every socket in the room but `skip`."""
    broadcast_many(sio, ((room, event, data),), skip)


def _send_packet(eio: engineio.Server, eio_sid: str, pkt: engineio.packet.Packet) -> None:
    """engine.io's send_packet, taking the direct path for text messages (acks, single-socket events)."""
    eio_socket = eio.sockets.get(eio_sid)
    if eio_socket is None:
        return
    if pkt.packet_type == engineio.packet.MESSAGE and isinstance(pkt.data, str):
        deliver(eio_socket, text_frame(("4" + pkt.data).encode()))
    else:
        eio_socket.send(pkt)


class LeanQueue:
    """engine.io's per-socket send queue (one consumer: the socket's writer) in ~0.5 KB; gevent's JoinableQueue is ~3 KB."""

    __slots__ = ("_items", "_head", "_ready", "_unfinished", "_finished", "backlog")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._head = 0  # items before it were taken; trimmed in bulk, so taking stays O(1)
        self._ready = gevent.event.Event()  # set while items wait
        self._unfinished = 0
        self._finished: gevent.event.Event | None = None  # made by the first join()
        self.backlog = 0  # frame bytes queued or being written: past MAX_BACKLOG_BYTES a non-reader is cut off

    def qsize(self) -> int:
        return len(self._items) - self._head

    def put(self, item: Any) -> None:
        if type(item) is _Queued:
            self.backlog += len(item.frame)
        self._items.append(item)
        self._unfinished += 1
        self._ready.set()
        if self._finished is not None:
            self._finished.clear()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if not self.qsize() and not (block and self._ready.wait(timeout)):
            raise gevent.queue.Empty
        item = self._items[self._head]
        self._items[self._head] = None
        self._head += 1
        if self._head == len(self._items):
            self._items.clear()
            self._head = 0
            self._ready.clear()
        elif self._head > 64 and self._head * 2 > len(self._items):
            del self._items[:self._head]
            self._head = 0
        return item

    def written(self, frame: bytes) -> None:
        """A queued frame reached the kernel (or failed to): it no longer counts against the backlog."""
        self.backlog -= len(frame)

    def task_done(self) -> None:
        self._unfinished -= 1
        if self._unfinished <= 0 and self._finished is not None:
            self._finished.set()

    def join(self, timeout: float | None = None) -> bool:
        if self._unfinished <= 0:
            return True
        if self._finished is None:
            self._finished = gevent.event.Event()
        return self._finished.wait(timeout)


class _Pinger:
    """One greenlet sends every socket's engine.io PING; engine.io itself parks a sleeping greenlet per socket."""

    def __init__(self, eio: engineio.Server, attached: Callable[[str], bool]) -> None:
        self.eio = eio
        self.attached = attached  # engine.io sessions that never signed in are dropped at their first ping
        self.due: deque[tuple[float, Any]] = deque()  # one interval for all, so appending keeps it sorted
        self.wake = gevent.event.Event()
        gevent.spawn(self.run)

    def add(self, eio_socket: Any) -> None:
        self.due.append((time.monotonic() + self.eio.ping_interval, eio_socket))
        self.wake.set()

    def run(self) -> None:
        while True:
            if not self.due:
                self.wake.clear()
                self.wake.wait()
            at, eio_socket = self.due[0]
            wait = at - time.monotonic()
            if wait > 0:
                gevent.sleep(wait)
                continue
            self.due.popleft()
            if eio_socket.closing or eio_socket.closed:
                continue
            if not self.attached(eio_socket.sid):
                drop(eio_socket, "no Socket.IO session by its first ping")
            else:
                eio_socket.last_ping = time.time()
                eio_socket.send(engineio.packet.Packet(engineio.packet.PING))


def _schedule_ping(self: engineio.socket.Socket) -> None:
    """engine.io's Socket.schedule_ping, handing the wait to the server's one pinger."""
    if self.last_ping:
        self.last_ping = None
        self.server.om_pinger.add(self)


def _refuse(sio: socketio.Server, eio_sid: str, ack_id: Any, message: str) -> None:
    """Answer an event the server will not run, when the client asked for an answer."""
    if ack_id is not None:
        error = {"ok": False, "error": {"code": "invalid", "message": message}}
        sio.eio.send(eio_sid, f"3{ack_id}" + orjson.dumps([error]).decode())


def _guard_messages(sio: socketio.Server) -> None:
    """In front of python-socketio's dispatch: binary packets drop the connection (nothing here uses them, and
    their attachments would be buffered without limit); packets that do not decode get `invalid`, not silence."""
    dispatch = sio.eio.handlers["message"]

    def on_message(eio_sid: str, data: Any) -> None:
        if not isinstance(data, str) or data[:1] in ("5", "6"):
            eio_socket = sio.eio.sockets.get(eio_sid)
            if eio_socket is not None:
                drop(eio_socket, "binary packet")
            return
        try:
            dispatch(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            log.debug("undecodable packet from %s: %s", eio_sid, exc)
            ack = _EVENT_ACK_ID.match(data)
            _refuse(sio, eio_sid, ack and ack.group(1), "packet is not a valid Socket.IO event with a JSON payload")

    sio.eio.on("message", on_message)
    run_event = sio._handle_event_internal

    def handle_event(server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, ack_id: Any) -> None:
        if data[0] in RESERVED_EVENTS:  # else the server's own connect/disconnect handlers would run
            _refuse(sio, eio_sid, ack_id, f"'{data[0]}' is reserved and cannot be sent as an event")
            return
        run_event(server, sid, eio_sid, data, namespace, ack_id)

    sio._handle_event_internal = handle_event


def _unmask(self: gws.Header, payload: bytes) -> bytes:
    n = len(payload)
    if not n:
        return b""
    mask = (bytes(self.mask) * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(mask, "little")).to_bytes(n, "little")


def _handle_ping(self: gws.WebSocket, header: gws.Header, payload: bytes) -> None:
    """A websocket ping is answered in line with the data frames, never in the middle of one."""
    fast = _by_websocket.get(id(self))
    if fast is None:
        return _original_handle_ping(self, header, payload)
    deliver(fast.eio_socket, Frame(bytes((0x8A, len(payload))) + bytes(payload)))


def install(sio: socketio.Server, max_frame_bytes: int) -> None:
    """Switch the server onto the fast path; refuses library versions it was not written against."""
    found = {name: version(name) for name in PINNED}
    if found != PINNED:
        raise RuntimeError(f"optimistic_messaging.wire is written for {PINNED}, found {found}: re-check its internals")
    sio.eio._async = {**sio.eio._async, "websocket": FastWebSocket, "queue": LeanQueue}
    sio.eio.send_packet = functools.partial(_send_packet, sio.eio)
    sio.eio.om_pinger = _Pinger(sio.eio, lambda eio_sid: sio.manager.sid_from_eio_sid(eio_sid, "/") is not None)
    engineio.socket.Socket.schedule_ping = _schedule_ping
    _guard_messages(sio)
    gws.Header.mask_payload = gws.Header.unmask_payload = _unmask
    gws.WebSocket.validate_utf8 = lambda self, payload: None  # _decode_bytes validates (and closes with 1007)

    def capped_header(cls: type, stream: Any) -> gws.Header:
        header = _decode_header(cls, stream)
        if header.length > max_frame_bytes:
            raise FrameTooLargeException(f"frame of {header.length} bytes is over the {max_frame_bytes}-byte limit")
        return header

    gws.Header.decode_header = classmethod(capped_header)

    def capped_read_frame(self: gws.WebSocket) -> tuple[gws.Header, bytes]:
        """A message split into continuation frames counts as a whole against the limit."""
        header, payload = _original_read_frame(self)
        if header.opcode == gws.WebSocket.OPCODE_CONTINUATION:
            fast = _by_websocket.get(id(self))
            if fast is None:
                raise FrameTooLargeException("continuation frames are not accepted here")
            fast.message_bytes += len(payload)
            if fast.message_bytes > max_frame_bytes:
                raise FrameTooLargeException(f"fragmented message over the {max_frame_bytes}-byte limit")
        elif header.opcode in (gws.WebSocket.OPCODE_TEXT, gws.WebSocket.OPCODE_BINARY) and not header.fin:
            fast = _by_websocket.get(id(self))
            if fast is not None:
                fast.message_bytes = len(payload)
        return header, payload

    gws.WebSocket.read_frame = capped_read_frame
    gws.WebSocket.handle_ping = _handle_ping
