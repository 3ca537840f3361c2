"""Websocket frames (RFC 6455) in and out: built once, written with one syscall, read and closed by the rules.

Patches python-engineio's gevent websocket driver and per-socket queue, and gevent-websocket's frame reader.
"""

from __future__ import annotations

import codecs
import logging
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import engineio.async_drivers.gevent as engineio_gevent
import engineio.exceptions
import engineio.packet
import engineio.socket
import gevent
import gevent.event
import gevent.queue
import gevent.socket
import gevent.ssl
import geventwebsocket.websocket as gws
import orjson
from geventwebsocket.exceptions import FrameTooLargeException, ProtocolError

from ..stats import METER
from . import speedups
from .codec import Frame
from .speedups import frame, read_frame, send_frames

MAX_BACKLOG_BYTES = 4 * 1024 * 1024  # beyond this, a socket that has stopped draining is cut off
HARD_BACKLOG_BYTES = 32 * 1024 * 1024  # beyond this, a socket is cut off even while it drains
STALL_S = 5.0  # "stopped draining": not a byte written to it for this long
_PACKET_TYPES = frozenset("0123456")  # engine.io v4 text packets (a base64 'b' binary packet is not accepted either)
CLOSE_NORMAL, CLOSE_PROTOCOL, CLOSE_BAD_DATA, CLOSE_TOO_BIG = 1000, 1002, 1007, 1009
log = logging.getLogger(__name__)
_by_websocket: dict[int, FastWebSocket] = {}  # id(gevent-websocket WebSocket) -> its driver, while connected


def text_frame(payload: bytes) -> Frame:
    return frame(0x1, payload)


def close_frame(code: int | None) -> Frame:
    """A close frame carrying `code` (RFC 6455 §5.5.1); None: no status code, as a close that named none is echoed."""
    return frame(0x8, b"" if code is None else struct.pack("!H", code))


def event_frame(event: str, data: Any) -> Frame:
    """engine.io MESSAGE (4) carrying a Socket.IO EVENT (2) on namespace '/'."""
    return speedups.event_frame(event, orjson.dumps(data))


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
        if ws is None:
            return super().__call__(environ, start_response)
        self.gsock = ws.handler.socket
        # Straight to the kernel socket under gevent's (non-blocking); under TLS every byte must go through it.
        self.raw = None if isinstance(self.gsock, gevent.ssl.SSLSocket) else self.gsock._sock
        self.eio_socket = self.app.__self__  # self.app is the engine.io socket's bound _websocket_handler
        self.eio_socket.fast_ws = self
        self.on_message = self.eio_socket.server.handlers["message"]
        _by_websocket[id(ws)] = self  # gevent-websocket's WebSocket has __slots__: find us from it by id
        try:
            return super().__call__(environ, start_response)  # returns when the connection ends
        finally:
            del _by_websocket[id(ws)]
            # Break the engine.io socket's cycles through us, so refcounting frees the session now, not the collector.
            self.eio_socket.fast_ws = None
            self.eio_socket.queue.detach()

    def wait(self) -> Any:
        """The next packet for engine.io's read loop. A MESSAGE (4) goes straight to the message handler instead, as
        engine.io's loop would hand it on (without its Packet, per-packet log line and handler wrappers). A text frame
        that is no engine.io packet ends the connection as a close would: engine.io decodes it outside its read loop's
        error handling, so the connection's greenlet would die with a traceback and the session linger.
        """
        while True:
            message = super().wait()
            if not isinstance(message, str):
                return message
            kind = message[:1]
            if kind == "4" and not self.eio_socket.closed:
                try:
                    self.on_message(self.eio_socket.sid, message[1:])
                except Exception:
                    log.exception("message handler failed")
                continue
            if kind not in _PACKET_TYPES:
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
            if sent:
                self.eio_socket.queue.progress()
            if sent < len(message):
                self._send_rest(memoryview(message)[sent:])
        finally:
            self.writing = False
            if queued:
                self.eio_socket.queue.written(message)

    def _send_rest(self, rest: memoryview) -> None:
        """Wait for the kernel to take the rest while the peer reads. A peer that reads nothing is cut: after STALL_S
        once more than MAX_BACKLOG_BYTES wait for it, else after a ping's whole deadline."""
        eio = self.eio_socket.server
        patience_s = eio.ping_interval + eio.ping_timeout
        queue = self.eio_socket.queue
        if self.raw is None:  # TLS: the SSL socket must write every byte itself
            try:
                with gevent.Timeout(patience_s):
                    self.gsock.sendall(rest)
            except gevent.Timeout:
                self._stalled()
            return
        fileno = self.raw.fileno()
        while rest:
            try:
                gevent.socket.wait_write(fileno, timeout=1.0)
            except TimeoutError:
                if queue.stalled(STALL_S if queue.backlog > MAX_BACKLOG_BYTES else patience_s):
                    self._stalled()
                continue
            sent = _send_some(self.raw, rest)
            if sent:
                rest = rest[sent:]
                queue.progress()

    def _stalled(self) -> None:
        drop(self.eio_socket, "it stopped reading")
        raise OSError("write timed out")


def _send_some(raw: Any, frame: bytes | memoryview) -> int:
    """One non-blocking send: what the kernel took (0 when its buffer is full)."""
    try:
        return raw.send(frame)
    except BlockingIOError:
        return 0


_corked: dict[Any, list[Frame]] = {}  # engine.io socket -> frames for it, written at the end of this turn of the loop


def deliver_soon(eio_socket: Any, frame: Frame) -> None:
    """Write at the end of this turn of the loop: a commit's broadcast to a socket and the acks of that socket's sends
    in it (answered in the same turn) leave in one write instead of one each."""
    pending = _corked.get(eio_socket)
    if pending is not None:
        pending.append(frame)
        return
    if not _corked:
        gevent.get_hub().loop.run_callback(_uncork)
    _corked[eio_socket] = [frame]


def _uncork() -> None:
    while _corked:
        eio_socket, frames = _corked.popitem()
        try:
            _write(eio_socket, frames)
        except Exception:  # one socket's fault must not leave the others' frames waiting for a turn that never comes
            log.exception("writing to %s failed", getattr(eio_socket, "sid", "a socket"))


def deliver(eio_socket: Any, frame: Frame) -> None:
    """Write now, after whatever waits for this socket (order kept)."""
    pending = _corked.pop(eio_socket, None)
    _write(eio_socket, [frame] if pending is None else [*pending, frame])


def _write(eio_socket: Any, frames: list[Frame]) -> None:
    """Write now (one syscall for them all) when this socket's line is free, else queue behind what is already waiting
    (order kept)."""
    if eio_socket.closed or eio_socket.closing:
        return
    ws = getattr(eio_socket, "fast_ws", None)
    if ws is None or ws.raw is None or ws.writing or eio_socket.queue.qsize():
        queue = eio_socket.queue
        if queue.backlog > MAX_BACKLOG_BYTES and (queue.stalled(STALL_S) or queue.backlog > HARD_BACKLOG_BYTES):
            drop(eio_socket, "it stopped reading")
            return
        queue.put(_Queued(frames[0] if len(frames) == 1 else Frame(b"".join(frames))))
        return
    try:
        rest = send_frames(ws.raw, frames)
    except OSError:
        return  # the connection is gone; its reader notices and cleans up
    if rest is not None:
        eio_socket.queue.put(_Queued(rest))


def drop(eio_socket: Any, why: str) -> None:
    """Cut a connection at the TCP level; its reader sees the end and engine.io cleans up as for any drop."""
    log.info("dropping connection %s: %s", eio_socket.sid, why)
    METER.cuts.add(why)
    ws = getattr(eio_socket, "fast_ws", None)
    try:
        if ws is not None:
            ws.gsock.shutdown(socket.SHUT_RDWR)
        else:
            eio_socket.close(wait=False, abort=True)
    except OSError:
        pass  # already gone


class LeanQueue:
    """engine.io's per-socket send queue in ~0.5 KB (gevent's JoinableQueue is ~3 KB), with no writer greenlet parked on
    it for the socket's life (~7 KB each): once `drain_with` gives it the socket, what waits is written by a greenlet
    made when the first item comes and gone when the queue is empty."""

    __slots__ = (
        "_dead",
        "_drainer",
        "_finished",
        "_head",
        "_items",
        "_progress_at",
        "_ready",
        "_unfinished",
        "_ws",
        "backlog",
    )

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._head = 0  # items before it were taken; trimmed in bulk, so taking stays O(1)
        self._ready = gevent.event.Event()  # set while items wait
        self._unfinished = 0
        self._finished: gevent.event.Event | None = None  # made by the first join()
        self.backlog = 0  # frame bytes queued or being written: past MAX_BACKLOG_BYTES a stalled socket is cut off
        self._progress_at = time.monotonic()  # when bytes last reached this socket's kernel buffer
        self._ws: Any = None  # the socket to drain into, once its websocket runs
        self._drainer: gevent.Greenlet | None = None
        self._dead = False  # a write failed: the connection is gone, nothing more is kept

    def drain_with(self, ws: Any) -> None:
        self._ws = ws
        if self.qsize():
            self._drainer = gevent.spawn(self._drain)

    def finish(self) -> None:
        """The connection ends: write what waits, close the websocket, and return once that is done."""
        self.put(None)
        if self._drainer is not None:
            self._drainer.join()

    def _drain(self) -> None:
        ws = self._ws  # None when the connection ended before this greenlet ran: then nothing waits either
        try:
            while self.qsize():
                item = self.get(block=False)
                self.task_done()
                if item is None:
                    ws.close()
                    return
                try:
                    ws.send(item.encode())
                except Exception:  # the connection is gone (as engine.io's own writer, stop and close)
                    self._abandon()
                    ws.close()
                    return
        finally:
            self._drainer = None

    def _abandon(self) -> None:
        """Nothing more will be written: drop what waits and whatever comes."""
        self._dead = True
        self._items.clear()
        self._head = self._unfinished = 0
        if self._finished is not None:
            self._finished.set()

    def detach(self) -> None:
        """The connection has ended: let go of its websocket (a cycle through the engine.io socket); write no more."""
        self._abandon()
        self._ws = None

    def qsize(self) -> int:
        return len(self._items) - self._head

    def put(self, item: Any) -> None:
        if self._dead:
            return
        if type(item) is _Queued:
            if not self.backlog:
                self._progress_at = time.monotonic()  # a backlog's stall is counted from when it began
            self.backlog += len(item.frame)
        self._items.append(item)
        self._unfinished += 1
        self._ready.set()
        if self._finished is not None:
            self._finished.clear()
        if self._ws is not None and self._drainer is None:
            self._drainer = gevent.spawn(self._drain)

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
            del self._items[: self._head]
            self._head = 0
        return item

    def progress(self) -> None:
        """Some bytes of a queued frame reached the kernel: the peer is reading."""
        self._progress_at = time.monotonic()

    def stalled(self, for_s: float) -> bool:
        """Nothing reached the kernel for `for_s` while frames waited: the peer has stopped reading."""
        return time.monotonic() - self._progress_at > for_s

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


def _websocket_handler(self: Any, ws: Any) -> Any:
    """engine.io's Socket._websocket_handler for a socket that starts on websocket (the only kind here): its read loop,
    with the queue drained on demand instead of by a writer greenlet for the socket's whole life."""
    if self.connected or not isinstance(ws, FastWebSocket):  # an upgrade from polling: engine.io's own way
        return _original_websocket_handler(self, ws)
    server = self.server
    self.connected = self.upgraded = True
    self.queue.drain_with(ws)
    for environ in (ws.environ, ws._sock.environ):  # Flask-SocketIO's copy, and pywsgi's own
        if environ:
            _trim_environ(environ)
    while True:
        try:
            data = ws.wait()
        except Exception as exc:
            if not self.closed:
                log.info("%s: unexpected error %r, closing the connection", self.sid, exc)
            break
        if data is None:
            break
        try:
            self.receive(engineio.packet.Packet(encoded_packet=data))
        except engineio.exceptions.UnknownPacketError:
            pass
        except engineio.exceptions.SocketIsClosedError:
            break
        except Exception:
            log.exception("%s: unknown receive error", self.sid)
            break
    self.queue.finish()
    self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
    return []


_original_websocket_handler = engineio.socket.Socket._websocket_handler
_KEPT_ENVIRON = ("REMOTE_ADDR", "HTTP_X_FORWARDED_FOR", "HTTP_ORIGIN", "PATH_INFO", "wsgi.websocket")


def _trim_environ(environ: dict[str, Any]) -> None:
    """A websocket's WSGI environ is held for the connection's life (pywsgi's by it and gevent-websocket,
    Flask-SocketIO's copy by engine.io and python-socketio), yet once its read loop runs at most the client's address
    is read from it (by a connect's handler): the rest, headers and WSGI keys, goes (cleared in place, so every holder
    sees it, and its table is freed)."""
    kept = {key: environ[key] for key in _KEPT_ENVIRON if key in environ}
    environ.clear()
    environ.update(kept)


def _write_control(ws: gws.WebSocket, frame: Frame) -> None:
    """A control frame goes in line with the data frames, never into the middle of one."""
    fast = _by_websocket.get(id(ws))
    if fast is not None and (fast.writing or fast.eio_socket.queue.backlog):
        deliver(fast.eio_socket, frame)  # behind what waits (skipped when engine.io is closing: nothing more is sent)
    elif ws.raw_write is not None:
        ws.raw_write(frame)


def _handle_ping(self: gws.WebSocket, header: object, payload: bytes) -> None:
    _write_control(self, frame(0xA, bytes(payload)))


def _close(self: gws.WebSocket, code: int | None = CLOSE_NORMAL, message: Any = None) -> None:
    """Send a close frame with its status code (gevent-websocket writes none, and a repr of the reason), then stop."""
    if self.closed:
        return
    try:
        _write_control(self, close_frame(code))
    except OSError:
        pass  # the peer is gone already: nothing to tell it
    finally:
        self.closed = True
        self.stream = self.raw_write = self.raw_read = self.environ = None


def _handle_close(self: gws.WebSocket, header: object, payload: bytes) -> None:
    """A client's close is answered with its own status code (none when it named none)."""
    if not payload:
        return self.close(None)
    if len(payload) < 2:
        raise ProtocolError("a close frame's payload is a 2-byte status code and a reason")
    code = struct.unpack("!H", payload[:2])[0]
    payload[2:].decode("utf-8")  # UnicodeDecodeError: 1007
    if not self._is_valid_close_code(code):
        raise ProtocolError(f"invalid close code {code}")
    self.close(code)


def _receive(self: gws.WebSocket) -> Any:
    """The next message, or None once the connection ended; a protocol fault is answered with its close code."""
    if self.closed:
        return None
    try:
        return self.read_message()
    except UnicodeError:
        self.close(CLOSE_BAD_DATA)
    except FrameTooLargeException:
        self.close(CLOSE_TOO_BIG)
    except ProtocolError:
        self.close(CLOSE_PROTOCOL)
    except OSError:
        self.close(None)
    return None


def _reader(max_frame_bytes: int) -> Callable[[gws.WebSocket], Any]:
    """A websocket's read_message: the next text (str) or binary (bytes) message, None after a close.

    Two reads per frame (header and the rest), masking required, a frame or a fragmented message held to the packet
    limit before its payload is read, bad UTF-8 refused at the fragment that carries it, control frames final and
    short; faults raise ProtocolError, FrameTooLargeException or UnicodeError for `_receive` to close with.
    """

    def read_message(self: gws.WebSocket) -> Any:
        read = self.raw_read
        parts: list[bytes] | None = None  # the fragments of a message so far
        texts: list[str] = []
        decoder: Any = None
        opcode = size = 0
        while True:
            op, fin, payload = read_frame(read, max_frame_bytes - size, parts is None)
            if op == 0x9:
                self.handle_ping(None, payload)
            elif op == 0xA:
                continue
            elif op == 0x8:
                self.handle_close(None, payload)
                return None
            elif op in (0x1, 0x2):
                if parts is not None:
                    raise ProtocolError("a message began before the one before it ended")
                if fin:
                    return payload
                opcode, parts, size = op, [payload], len(payload)
                if op == 0x1:
                    decoder = codecs.getincrementaldecoder("utf-8")()
                    texts.append(decoder.decode(payload))
            elif op == 0x0:
                if parts is None:
                    raise ProtocolError("a continuation frame with no message to continue")
                size += len(payload)
                if decoder is not None:
                    texts.append(decoder.decode(payload, bool(fin)))
                else:
                    parts.append(payload)
                if fin:
                    return "".join(texts) if opcode == 0x1 else b"".join(parts)
            else:
                raise ProtocolError(f"unknown opcode {op}")

    return read_message


def install(max_frame_bytes: int) -> None:
    """Patch the frame reader and writer, process-wide."""
    log.info("websocket frames: %s", "compiled (wire/_speedups.c)" if speedups.COMPILED else "pure Python")
    gws.WebSocket.read_message = _reader(max_frame_bytes)
    gws.WebSocket.handle_ping = _handle_ping
    gws.WebSocket.handle_close = _handle_close
    gws.WebSocket.close = _close
    gws.WebSocket.receive = _receive
    engineio.socket.Socket._websocket_handler = _websocket_handler
