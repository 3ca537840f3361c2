"""Websocket frames built and read in pure Python: the reference that wire/_speedups.c's twins must equal."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from geventwebsocket.exceptions import FrameTooLargeException, ProtocolError, WebSocketError


class Frame(bytes):
    """Bytes to put on the wire as they are: a whole websocket frame, or the unsent rest of one."""

    __slots__ = ()  # no __dict__ slot: a frame is its bytes


def frame(opcode: int, payload: bytes) -> Frame:
    """An unmasked, final frame (RFC 6455 §5.2), as servers send them."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return Frame(header + payload)


def event_frame(event: str, json: bytes) -> Frame:
    """A text frame of engine.io MESSAGE (4) carrying a Socket.IO EVENT (2) on namespace '/', its data JSON already."""
    return frame(0x1, b'42["' + event.encode() + b'",' + json + b"]")


def unmask(mask: bytes, payload: bytes) -> bytes:
    """XOR with the 4-byte mask, in C (one big-integer XOR) rather than a Python loop per byte."""
    if len(mask) != 4:
        raise ValueError("a mask is 4 bytes")
    n = len(payload)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def read_frame(read: Callable[[int], bytes], room: int, decode: bool) -> tuple[int, bool, bytes | str]:
    """One client frame as (opcode, fin, unmasked payload), in two reads (the header, then the rest); a final text
    frame's payload decoded when `decode`. A data frame over `room` bytes raises FrameTooLargeException before its
    payload is read; a reserved bit, no mask or a long or unfinished control frame ProtocolError; bad UTF-8
    UnicodeError; the connection's end WebSocketError."""
    head = read(2)
    if len(head) != 2:
        raise WebSocketError("the connection ended in the middle of a frame")
    first, second = head[0], head[1]
    if first & 0x70:
        raise ProtocolError("a reserved bit is set (no extension was agreed)")
    if not second & 0x80:
        raise ProtocolError("a client's frames must be masked (RFC 6455 §5.1)")
    op, fin, n = first & 0x0F, bool(first & 0x80), second & 0x7F
    mask = b""
    if n >= 126:
        want = 6 if n == 126 else 12
        extended = read(want)
        if len(extended) != want:
            raise WebSocketError("the connection ended in the middle of a frame")
        n, mask = int.from_bytes(extended[:-4], "big"), extended[-4:]
    if op >= 0x8:
        if not fin or n > 125:
            raise ProtocolError("a control frame is final and carries at most 125 bytes")
    elif n > room:
        raise FrameTooLargeException("a message over the limit")
    rest = read(n if mask else 4 + n)
    if len(rest) != (n if mask else 4 + n):
        raise WebSocketError("the connection ended in the middle of a frame")
    if not mask:
        mask, rest = rest[:4], rest[4:]
    payload = unmask(mask, rest)
    return op, fin, payload.decode("utf-8") if decode and op == 0x1 and fin else payload


def send_frames(raw: Any, frames: list[bytes]) -> Frame | None:
    """The frames in one non-blocking send on the kernel socket `raw`: None when it took them all, else what it did not
    take as one Frame; OSError when the connection is gone."""
    data = frames[0] if len(frames) == 1 else b"".join(frames)
    try:
        sent = raw.send(data)
    except BlockingIOError:
        sent = 0
    return None if sent == len(data) else Frame(data[sent:])
