"""RFC 6455 and engine.io at the frame level, with a hand-made client: masking, close codes, fragments, sessions."""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading

import pytest
import socketio

from support import TIMEOUT, Server, Wallet, new_chat

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


class RawWebSocket:
    """A websocket client that sends frames exactly as told (unmasked, fragmented, malformed) and reads every one."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.buffer = b""
        assert self.text().startswith("0{")  # engine.io OPEN

    def sign_in(self, token: str) -> "RawWebSocket":
        self.send(TEXT, b"40" + json.dumps({"token": token}).encode())
        assert self.text().startswith("40{")
        return self

    def send(self, opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> None:
        n = len(payload)
        first = (0x80 if fin else 0) | opcode
        length = bytes([(0x80 if masked else 0) | n]) if n < 126 else (
            struct.pack("!BH", (0x80 if masked else 0) | 126, n) if n < 65536 else
            struct.pack("!BQ", (0x80 if masked else 0) | 127, n))
        mask = os.urandom(4) if masked else b""
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if masked else payload
        self.sock.sendall(bytes([first]) + length + mask + body)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before a whole frame")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self) -> tuple[int, bytes]:
        first, second = self._read(2)
        n = second & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8))[0]
        assert not second & 0x80, "a server's frames are never masked"
        return first & 0x0F, self._read(n)

    def text(self) -> str:
        """The next text message, answering engine.io pings on the way."""
        while True:
            opcode, payload = self.frame()
            assert opcode == TEXT, (opcode, payload)
            if payload == b"2":
                self.send(TEXT, b"3")
                continue
            return payload.decode()

    def ping(self) -> None:
        """Wait for engine.io's next ping and answer it (whatever else comes first is passed over)."""
        while True:
            opcode, payload = self.frame()
            if opcode == TEXT and payload == b"2":
                self.send(TEXT, b"3")
                return

    def close_code(self) -> int | None:
        """Read up to the server's close frame: the status code it carries (None: it carries none)."""
        while True:
            opcode, payload = self.frame()
            if opcode == CLOSE:
                assert len(payload) in (0, 2) or len(payload) > 2, payload
                return struct.unpack("!H", payload[:2])[0] if payload else None
            if opcode == TEXT and payload == b"2":
                self.send(TEXT, b"3")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(server):
    opened: list[RawWebSocket] = []

    def make() -> RawWebSocket:
        ws = RawWebSocket(server)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


def test_an_unmasked_client_frame_is_a_protocol_error_1002(raw):
    ws = raw()
    ws.send(TEXT, b"3", masked=False)
    assert ws.close_code() == 1002


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
def test_a_clients_close_is_answered_with_a_close_frame_echoing_its_code(raw, code):
    ws = raw()
    ws.send(CLOSE, struct.pack("!H", code) + b"bye")
    opcode, payload = ws.frame()
    assert (opcode, payload) == (CLOSE, struct.pack("!H", code))


def test_a_close_naming_no_code_is_answered_with_one_naming_none(raw):
    ws = raw()
    ws.send(CLOSE, b"")
    assert ws.frame() == (CLOSE, b"")


@pytest.mark.parametrize("payload, code", [
    (struct.pack("!H", 1005), 1002),  # a code no endpoint may send
    (b"\x03", 1002),  # half a status code
    (struct.pack("!H", 1000) + b"\xff\xfe", 1007),  # a reason that is not UTF-8
])
def test_a_malformed_close_is_answered_with_the_fault_it_has(raw, payload, code):
    ws = raw()
    ws.send(CLOSE, payload)
    assert ws.close_code() == code


def test_invalid_utf8_is_refused_1007_at_the_fragment_that_carries_it(raw):
    ws = raw()
    ws.send(TEXT, b"4" + "é".encode()[:1] + b"\xff", fin=False)  # the final fragment never comes
    assert ws.close_code() == 1007


def test_a_utf8_character_split_across_fragments_is_fine(server, wallets, raw):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ws = raw().sign_in(alice.token)
    packet = ('421["send",' + json.dumps({"chat_id": chat["id"], "client_id": "frag", "body": "€uro"},
                                         ensure_ascii=False) + "]").encode()
    cut = packet.index("€".encode()) + 1  # in the middle of the euro sign's three bytes
    ws.send(TEXT, packet[:cut], fin=False)
    ws.send(CONT, packet[cut:])
    reply = ws.text()
    while reply.startswith("42"):  # the feed's events of the chat (this socket joined nothing) may come first
        reply = ws.text()
    assert reply.startswith("431") and json.loads(reply[3:])[0]["message"]["body"] == "€uro"


def test_a_frame_over_the_packet_limit_is_refused_1009(raw):
    ws = raw()
    ws.send(TEXT, b"4" + b"x" * 70_000)
    assert ws.close_code() == 1009


def test_a_client_may_leave_and_rejoin_the_namespace_on_one_engine_io_session(make_server):
    server = make_server({"PING_INTERVAL_S": "0.5"})
    alice = Wallet().sign_in(server)
    ws = RawWebSocket(server).sign_in(alice.token)
    ws.ping()
    ws.send(TEXT, b"41")  # leave '/': the next ping finds the session without one
    ws.ping()
    ws.send(TEXT, b"40" + json.dumps({"token": alice.token}).encode())  # and back before the one after
    assert ws.text().startswith("40{")
    ws.ping()
    ws.send(TEXT, b'421["leave",{"chat_id":"x"}]')
    assert ws.text() == '431[{"ok":true}]'
    ws.close()


def test_a_session_left_without_a_namespace_for_a_whole_interval_is_closed(make_server):
    server = make_server({"PING_INTERVAL_S": "0.5"})
    ws = RawWebSocket(server).sign_in(Wallet().sign_in(server).token)
    ws.send(TEXT, b"41")
    with pytest.raises(ConnectionError):
        while True:  # pings are answered; the session is closed within two intervals all the same
            ws.text()
    ws.close()


def test_a_client_reading_a_long_burst_of_large_messages_is_not_cut_off(make_server):
    server = make_server({"RATE_PER_S": "100000", "RATE_BURST": "100000"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    client = socketio.Client(reconnection=False, websocket_extra_options={"suppress_origin": True})
    client.connect(server.url, auth={"token": alice.token}, transports=["websocket"], wait_timeout=TIMEOUT)
    try:
        assert client.call("join", {"chat_id": chat["id"]}, timeout=TIMEOUT)["ok"]
        acked = threading.Semaphore(0)
        n = 420
        for i in range(n):  # each ack and each broadcast is 12 KB: far past the 4 MiB backlog, read all along
            client.emit("send", {"chat_id": chat["id"], "client_id": f"euro{i}", "body": "€" * 4000},
                        callback=lambda ack: ack["ok"] and acked.release())
        for _ in range(n):
            assert acked.acquire(timeout=TIMEOUT), "every send acked on a connection still open"
        assert client.connected
    finally:
        client.disconnect()
