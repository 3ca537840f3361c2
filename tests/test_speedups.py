"""The wire's compiled twins (wire/_speedups.c) equal the pure-Python reference (wire/codec.py), the build is optional,
and where a compiler is, the server runs the compiled ones."""
from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest
from geventwebsocket.exceptions import FrameTooLargeException, ProtocolError, WebSocketError
from hypothesis import given, settings
from hypothesis import strategies as st

from optimistic_messaging.wire import codec, frames, speedups
from support import ROOT

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store

PURE = os.environ.get("OM_PURE_PYTHON", "") not in ("", "0")
HAS_COMPILER = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is not None
try:
    from optimistic_messaging.wire import _speedups as compiled
except ImportError:
    compiled = None
else:  # as speedups.py does, which leaves it alone under OM_PURE_PYTHON
    compiled.init(codec.Frame, WebSocketError, ProtocolError, FrameTooLargeException)
needs_compiled = pytest.mark.skipif(compiled is None, reason="built without a compiler")
LENGTHS = [0, 1, 3, 4, 7, 8, 9, 125, 126, 127, 65535, 65536, 70_000]


def outcome(call: Any, *args: Any) -> Any:
    """What a call returns, with its type, or the exception it raises (type and text)."""
    try:
        result = call(*args)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return ("returned", type(result), result)


def test_the_server_runs_the_compiled_codec_where_a_compiler_is(server):
    """A build that silently stopped producing the extension fails here (it passes pure only under OM_PURE_PYTHON)."""
    wanted = "pure Python" if PURE or not HAS_COMPILER else "compiled (wire/_speedups.c)"
    assert speedups.COMPILED is (wanted != "pure Python")
    assert f"websocket frames: {wanted}" in server.log()


@needs_compiled
@pytest.mark.parametrize("opcode", [0x1, 0x2, 0x8, 0x9, 0xA])
@pytest.mark.parametrize("n", LENGTHS)
def test_frame_equals_the_reference(opcode, n):
    payload = bytes(i % 251 for i in range(n))
    built = compiled.frame(opcode, payload)
    assert outcome(compiled.frame, opcode, payload) == outcome(codec.frame, opcode, payload)
    assert hash(built) == hash(bytes(built)) and built == bytes(built)  # a whole bytes object, hash and all
    assert compiled.frame(opcode, memoryview(payload)) == built


@needs_compiled
@settings(max_examples=300)
@given(event=st.text(max_size=40), json=st.binary(max_size=300), pad=st.sampled_from([0, 120, 65_530, 65_540]))
def test_event_frame_equals_the_reference(event, json, pad):
    json += b" " * pad  # across the 126 and 65536 length encodings
    assert outcome(compiled.event_frame, event, json) == outcome(codec.event_frame, event, json)


@needs_compiled
def test_event_frame_refuses_what_the_reference_cannot_encode():
    assert outcome(compiled.event_frame, "\ud800", b"1")[:2] == outcome(codec.event_frame, "\ud800", b"1")[:2]


@needs_compiled
@given(mask=st.binary(min_size=4, max_size=4), payload=st.binary(max_size=200))
def test_unmask_equals_the_reference(mask, payload):
    assert compiled.unmask(mask, payload) == codec.unmask(mask, payload)
    assert compiled.unmask(mask, bytearray(payload)) == codec.unmask(mask, payload)


@pytest.mark.parametrize("unmask", [codec.unmask, *([compiled.unmask] if compiled else [])])
@pytest.mark.parametrize("n", LENGTHS)
def test_unmask_is_the_rfc_xor(unmask, n):
    mask, payload = b"\x01\x82\x03\xf4", bytes(i % 256 for i in range(n))
    assert unmask(mask, payload) == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert outcome(unmask, b"abc", payload)[:2] == ("raised", ValueError)


def client_frame(op: int, payload: bytes, fin: bool = True, rsv: int = 0, mask: bytes | None = b"\x0f\xf0\x3c\xc3",
                 wide: int = 0) -> bytes:
    """A frame as a client writes it; `wide` forces the 16- (1) or 64-bit (2) length encoding."""
    n = len(payload)
    first = bytes([(0x80 if fin else 0) | rsv << 4 | op])
    bit = 0x80 if mask is not None else 0
    if wide == 2 or n >= 65536:
        head = bytes([bit | 127]) + n.to_bytes(8, "big")
    elif wide == 1 or n >= 126:
        head = bytes([bit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([bit | n])
    if mask is None:
        return first + head + payload
    return first + head + mask + codec.unmask(mask, payload)


frame_specs = st.tuples(
    st.sampled_from([0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xA, 0xB]),
    st.one_of(st.binary(max_size=200), st.text(max_size=60).map(str.encode), st.just(b"\xe2\x82"),
              st.just(b"\xff")),
    st.booleans(),
    st.sampled_from([0, 0, 0, 1, 4]),
    st.sampled_from([b"\x0f\xf0\x3c\xc3", b"\x00\x00\x00\x00", None]),
    st.sampled_from([0, 0, 1, 2]),
)


def read_both(stream: bytes, room: int, decode: bool) -> None:
    """Both readers over the same bytes, frame by frame until one raises: equal results, equal bytes consumed."""
    ours, theirs = io.BytesIO(stream), io.BytesIO(stream)
    while True:
        got = outcome(compiled.read_frame, ours.read, room, decode)
        assert got == outcome(codec.read_frame, theirs.read, room, decode)
        assert ours.tell() == theirs.tell()
        if got[0] == "raised":
            return


@needs_compiled
@settings(max_examples=400)
@given(specs=st.lists(frame_specs, max_size=6), cut=st.integers(0, 2000), room=st.integers(-1, 300),
       decode=st.booleans())
def test_read_frame_equals_the_reference(specs, cut, room, decode):
    stream = b"".join(client_frame(op, p, fin, rsv, mask, wide) for op, p, fin, rsv, mask, wide in specs)
    read_both(stream[: len(stream) - cut % (len(stream) + 1)], room, decode)  # cut anywhere, a frame's middle too


@needs_compiled
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("wide", [0, 1, 2])
def test_read_frame_equals_the_reference_at_each_length_encoding(n, wide):
    payload = ("é" * n).encode()[:n]
    for room in (n - 1, n, 1 << 20):
        for cut in (0, 1, 2, 4, 9, n // 2):
            stream = client_frame(0x1, payload, wide=wide) + client_frame(0x2, payload, fin=False, wide=wide)
            read_both(stream[: len(stream) - cut], room, True)


def message_reader(read_frame: Any, stream: bytes, limit: int) -> list[Any]:
    """frames.py's read_message over `stream` with this read_frame: every message, then the fault that ends it."""
    replies: list[Any] = []

    class Socket:
        raw_read = io.BytesIO(stream).read

        def handle_ping(self, header: object, payload: bytes) -> None:
            replies.append(("ping", payload))

        def handle_close(self, header: object, payload: bytes) -> None:
            replies.append(("close", payload))

    read_message = frames._reader(limit)
    original = frames.read_frame
    frames.read_frame = read_frame
    try:
        while True:
            got = outcome(read_message, Socket())
            replies.append(got)
            if got[0] == "raised" or got[2] is None:
                return replies
    finally:
        frames.read_frame = original


@needs_compiled
@settings(max_examples=300)
@given(specs=st.lists(frame_specs, max_size=8), limit=st.integers(0, 400))
def test_read_message_is_the_same_with_either_reader(specs, limit):
    stream = b"".join(client_frame(op, p, fin, rsv, mask, wide) for op, p, fin, rsv, mask, wide in specs)
    assert message_reader(compiled.read_frame, stream, limit) == message_reader(codec.read_frame, stream, limit)


@pytest.mark.parametrize("read_frame", [codec.read_frame, *([compiled.read_frame] if compiled else [])])
def test_bad_utf8_split_across_fragments_is_refused_at_the_fragment_that_ends_it(read_frame):
    euro = "€".encode()  # 3 bytes: split over two fragments, fine; a bad continuation, refused
    good = client_frame(0x1, b"4" + euro[:2], fin=False) + client_frame(0x0, euro[2:])
    bad = client_frame(0x1, b"4" + euro[:2], fin=False) + client_frame(0x0, b"x")
    assert message_reader(read_frame, good, 100)[0] == ("returned", str, "4€")
    assert message_reader(read_frame, bad, 100)[0][:2] == ("raised", UnicodeDecodeError)


@pytest.mark.skipif(PURE, reason="builds a wheel with no compiler: the same on either path, so run once")
def test_the_package_builds_and_runs_without_a_compiler(tmp_path):
    """CC=false: the wheel builds all the same, without the extension, and its wire runs in pure Python."""
    source = tmp_path / "source"  # the sources alone: no extension an earlier build left beside them
    shutil.copytree(ROOT / "backend", source / "backend", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy(ROOT / name, source)
    env = {**os.environ, "CC": "false", "LDSHARED": "false"}
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w",
                            str(tmp_path / "dist"), str(source)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        assert not [name for name in zf.namelist() if "_speedups" in name and not name.endswith((".c", ".pyi"))]
        zf.extractall(tmp_path / "site")
    check = ("from optimistic_messaging.wire import speedups as s; assert not s.COMPILED; "
             "assert s.frame(1, b'hi') == b'\\x81\\x02hi'")
    subprocess.run([sys.executable, "-c", check], env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
                   check=True, cwd=Path(tmp_path))


def sent_through(send_frames: Any, frames: list[bytes], sndbuf: int) -> tuple[Any, bytes]:
    """send_frames into a non-blocking socket pair with a small send buffer: (what it returned, what arrived)."""
    a, b = socket.socketpair()
    with a, b:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        a.setblocking(False)
        rest = send_frames(a, frames)
        a.close()
        arrived = b"".join(iter(lambda: b.recv(1 << 20), b""))
    return rest, arrived


@needs_compiled
@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.sampled_from([0, 1, 125, 126, 4096, 65535, 65536, 300_000]), min_size=1, max_size=8),
       sndbuf=st.sampled_from([4096, 1 << 20]))
def test_send_frames_equals_the_reference_and_keeps_order_under_partial_writes(sizes, sndbuf):
    frames = [bytes([i % 251]) * n for i, n in enumerate(sizes)]
    for send_frames in (compiled.send_frames, codec.send_frames):
        rest, arrived = sent_through(send_frames, frames, sndbuf)
        assert arrived + (rest or b"") == b"".join(frames)  # what the kernel did not take is exactly the tail
        assert rest is None or (type(rest) is codec.Frame and rest)


@pytest.mark.parametrize("send_frames", [codec.send_frames, *([compiled.send_frames] if compiled else [])])
def test_send_frames_more_frames_than_one_writev_takes(send_frames):
    frames = [bytes([i % 256]) for i in range(3000)]  # over IOV_MAX (1024): the rest comes back, in order
    rest, arrived = sent_through(send_frames, frames, 1 << 20)
    assert arrived + (rest or b"") == b"".join(frames)


@pytest.mark.parametrize("send_frames", [codec.send_frames, *([compiled.send_frames] if compiled else [])])
def test_send_frames_to_a_gone_connection_raises_oserror(send_frames):
    a, b = socket.socketpair()
    b.close()
    with a, pytest.raises(OSError):
        send_frames(a, [b"x"])
    with pytest.raises(OSError):
        send_frames(a, [b"x"])  # closed: no descriptor
