"""Floods anyone can send without signing in: closed sessions are freed at once, handshakes and sign-in attempts are
budgeted per client (behind TRUSTED_PROXIES, per forwarded address), and a silent client is closed at its timeout."""
from __future__ import annotations

import base64
import json
import os
import socket
import threading
from typing import Any

import pytest
import websocket

from cluster import Cluster
from support import Wallet, new_chat

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store

MB = 1024 * 1024


def handshake(server, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One engine.io websocket handshake over a raw socket; on 101, reads the open packet and closes.
    Returns (status, response headers, body or the open packet's frame)."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    request = (f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n{extra}\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"the connection closed mid-response: {data!r}"
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        want = 2 if status == 101 else int(fields.get("content-length", 0))
        while len(body) < want or (status == 101 and len(body) < 2 + (body[1] & 0x7F)):
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return status, fields, body


def rss_bytes(server) -> int:
    with open(f"/proc/{server.proc.pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def assert_rate_limited(status: int, body: bytes) -> None:
    assert status == 429, body
    error = json.loads(body)["error"]
    assert error["code"] == "rate_limited" and error["retry_after_ms"] > 0, error


def test_closed_engine_io_sessions_are_freed_at_once(make_server):
    server = make_server()  # the default 25 s interval: the pinger used to hold them that long
    for _ in range(300):  # warm up what every connection touches once
        assert handshake(server)[0] == 101
    before = rss_bytes(server)
    for _ in range(3000):  # ~9 KB each while held: ~27 MB
        assert handshake(server)[0] == 101
    grown = rss_bytes(server) - before
    assert grown < 10 * MB, f"RSS grew {grown / MB:.1f} MB over 3,000 opened and closed sessions"


def test_signed_in_sessions_leave_nothing_behind(make_server):
    server = make_server()
    wallets = [Wallet().sign_in(server) for _ in range(4)]
    chat = new_chat(server, wallets[0], *wallets[1:])
    url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"

    def cycles(wallet: Wallet, n: int) -> None:
        for _ in range(n):
            ws = websocket.create_connection(url, timeout=10, suppress_origin=True)
            assert ws.recv().startswith("0{")
            ws.send("40" + json.dumps({"token": wallet.token}))
            assert ws.recv().startswith("40{")
            ws.send('421["join",' + json.dumps({"chat_id": chat["id"]}) + "]")
            while not ws.recv().startswith("431"):
                pass
            ws.close()

    def churn(per_wallet: int) -> None:
        threads = [threading.Thread(target=cycles, args=(w, per_wallet)) for w in wallets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    churn(50)
    before = rss_bytes(server)
    churn(500)  # 2,000 signed-in sessions joined to a chat and closed: ~8 KB each were kept
    grown = rss_bytes(server) - before
    assert grown < 8 * MB, f"RSS grew {grown / MB:.1f} MB over 2,000 signed-in connect/disconnect cycles"
    assert server.get("/api/health").json()["connections"] == 0


def test_handshakes_past_the_burst_are_refused_429_in_the_error_shape_per_client(make_server):
    server = make_server({"HANDSHAKE_RATE_PER_MIN": "1", "HANDSHAKE_RATE_BURST": "3"})
    assert [handshake(server)[0] for _ in range(3)] == [101] * 3
    status, headers, body = handshake(server)
    assert_rate_limited(status, body)
    assert int(headers["retry-after"]) >= 1
    status, _, body = handshake(server, {"X-Forwarded-For": "203.0.113.7"})
    assert_rate_limited(status, body)  # no trusted proxy: a forwarded address is the client's own say, ignored
    assert server.get("/api/health").status_code == 200, "plain requests are not handshakes"


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_handshake_budget(make_server):
    server = make_server({"HANDSHAKE_RATE_PER_MIN": "1", "HANDSHAKE_RATE_BURST": "2", "TRUSTED_PROXIES": "127.0.0.0/8"})
    alice = {"X-Forwarded-For": "203.0.113.5"}
    assert [handshake(server, alice)[0] for _ in range(2)] == [101, 101]
    assert_rate_limited(*handshake(server, alice)[::2])
    # What a client writes left of the hop our proxy added does not make it someone else.
    assert_rate_limited(*handshake(server, {"X-Forwarded-For": "198.51.100.1, 203.0.113.5"})[::2])
    assert handshake(server, {"X-Forwarded-For": "203.0.113.6"})[0] == 101, "another client has its own budget"
    assert handshake(server)[0] == 101, "the proxy's own requests count as the proxy's"


@pytest.mark.own_store
def test_the_handshake_budget_holds_across_nodes_sharing_redis(tmp_path):
    cluster = Cluster(tmp_path, 2, {"HANDSHAKE_RATE_PER_MIN": "1", "HANDSHAKE_RATE_BURST": "2"}).start()
    try:
        assert [handshake(cluster[0])[0], handshake(cluster[1])[0]] == [101, 101]
        assert_rate_limited(*handshake(cluster[0])[::2])
        assert_rate_limited(*handshake(cluster[1])[::2])
    finally:
        cluster.stop()


@pytest.mark.parametrize("method, path", [("GET", "/api/auth/nonce"), ("POST", "/api/auth/verify"),
                                          ("POST", "/api/auth/verify-tx"), ("POST", "/api/auth/renew")])
def test_sign_in_attempts_are_budgeted_per_client(make_server, method, path):
    server = make_server({"SIGNIN_RATE_PER_MIN": "1", "SIGNIN_RATE_BURST": "3", "TRUSTED_PROXIES": "127.0.0.1"})
    alice = Wallet().sign_in(server)  # two attempts: nonce and verify
    assert server.post("/api/auth/renew", token=alice.token).status_code == 200  # the third
    r = server.request(method, path, json={}, headers={"Origin": "http://localhost:3000"})
    assert_rate_limited(r.status_code, r.content)  # refused before the body is even looked at
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000", "the web app can read the refusal"
    other: Any = server.get("/api/auth/nonce", headers={"X-Forwarded-For": "203.0.113.9"})
    assert other.status_code == 200, "another client behind the proxy has its own budget"


def test_a_client_that_stops_answering_pings_is_closed_at_its_ping_timeout(make_server):
    """With a 1 s interval the timeout is 1 s too: the silent client is gone within a few of the other's pings (it
    used to wait for engine.io's 20 s timeout and its sweep, some 20 pings)."""
    server = make_server({"PING_INTERVAL_S": "1"})
    alice = Wallet().sign_in(server)
    url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"

    def signed_in_socket() -> websocket.WebSocket:
        ws = websocket.create_connection(url, timeout=60, suppress_origin=True)
        assert json.loads(ws.recv()[1:])["pingTimeout"] == 1000
        ws.send("40" + json.dumps({"token": alice.token}))
        assert ws.recv().startswith("40{")
        return ws

    silent, answering = signed_in_socket(), signed_in_socket()
    closed = threading.Event()

    def read_until_closed() -> None:
        try:
            while silent.recv():  # pings, never answered
                pass
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            pass
        closed.set()

    threading.Thread(target=read_until_closed, daemon=True).start()
    pings = 0
    while not closed.is_set() and pings < 10:
        assert answering.recv() == "2"
        answering.send("3")
        pings += 1
    assert closed.is_set(), f"the silent client was still open after {pings} pings of the answering one"
    answering.send('421["leave",{"chat_id":"x"}]')
    while (frame := answering.recv()) == "2":
        answering.send("3")
    assert frame.startswith("431"), "the answering client is served on"
    answering.close()
