"""Raw HTTP, below any client library: every bad request gets one 4xx in the error shape, idle connections are
closed, and a flood of connections is refused cleanly while health checks are still answered."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass

import pytest

from support import ROOT, TIMEOUT, Server, wait_until

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store

WS_PATH = b"/socket.io/?EIO=4&transport=websocket"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def exchange(server: Server, request: bytes) -> tuple[list[Response], bytes]:
    """Send raw bytes; read until the server closes: the responses it sent, and any bytes that are no response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    responses = []
    while data.startswith(b"HTTP/1.1 "):
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        responses.append(Response(int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]
    return responses, data


def only_error(server: Server, request: bytes) -> tuple[int, dict]:
    """The one response a bad request gets: its status and its error, in the contract's shape."""
    responses, extra = exchange(server, request)
    assert len(responses) == 1 and extra == b"", (responses, extra)
    response = responses[0]
    assert response.headers["content-type"] == "application/json"
    assert len(response.body) == int(response.headers["content-length"])
    return response.status, json.loads(response.body)["error"]


def upgrade(*headers: str) -> bytes:
    return (b"GET " + WS_PATH + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "".join(h + "\r\n" for h in headers).encode() + b"\r\n")


BAD_REQUESTS = {
    "bad chunk size": b"POST /api/auth/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Type: application/json\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    "chunk larger than said": b"POST /api/auth/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"2\r\n{}}}}}\r\n0\r\n\r\n",
    "websocket without key": upgrade("Sec-WebSocket-Version: 13"),
    "websocket with a bad key": upgrade("Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: bm90IDE2IGJ5dGVz"),
    "websocket version 99": upgrade("Sec-WebSocket-Version: 99", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
    "websocket without version": upgrade("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="),
    "websocket without Connection: Upgrade": b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                                             b"Upgrade: websocket\r\nConnection: close\r\n\r\n",
    "request line too long": b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "header too long": b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 70_000 + b"\r\n\r\n",
    "no HTTP method": b"GARBAGE\r\n\r\n",
    "bad Content-Length": b"POST /api/auth/verify HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    "HTTP/2 line": b"GET /api/health HTTP/2.0\r\nHost: x\r\n\r\n",
    # Framing a proxy in front may read otherwise (request smuggling): answered 400, and the connection closed.
    "Content-Length beside chunked": b"GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "Content-Lengths that differ": b"GET /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                   b"Content-Length: 5\r\n\r\n",
    "a coding other than chunked": b"GET /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "chunked not last": b"GET /api/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                        b"0\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_gets_one_4xx_in_the_error_shape_and_no_traceback(server, request_bytes):
    status, error = only_error(server, request_bytes)
    assert 400 <= status < 500 and error["code"] in {"invalid", "too_large"} and error["message"]
    assert "Traceback" not in server.log()


def test_an_overlong_request_line_is_414_too_large(server):
    status, error = only_error(server, BAD_REQUESTS["request line too long"])
    assert (status, error["code"]) == (414, "too_large") and "request line" in error["message"]


def test_a_handshake_without_a_supported_version_names_the_one_it_takes(server):
    responses, _ = exchange(server, BAD_REQUESTS["websocket version 99"])
    assert responses[0].headers["sec-websocket-version"] == "13"


def test_a_good_request_after_a_bad_body_is_not_read_as_a_second_request(server):
    """The connection closes after the answer: what follows a body that broke HTTP's framing is never run."""
    smuggled = BAD_REQUESTS["bad chunk size"] + b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
    responses, extra = exchange(server, smuggled)
    assert [r.status for r in responses] == [400] and extra == b""


def get(path: bytes, method: bytes = b"GET", body: bytes = b"") -> bytes:
    return (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_a_doubled_slash_reaches_the_same_view_never_a_redirect(server):
    """Not Flask's 308 page (to `http://`, whatever the client used): the view's own answer."""
    responses, _ = exchange(server, get(b"/api//health"))
    assert responses[0].status == 200 and json.loads(responses[0].body)["status"] == "ok"
    status, error = only_error(server, get(b"/api//farcaster/webhook", b"POST", b"{}"))
    assert (status, error["code"]) == (503, "unavailable"), error  # the webhook's: no FARCASTER_HUB_URL here


@pytest.mark.parametrize("path", [b"/api/nope", b"/api//nope//", b"/api/health/", b"/api/chats//x//messages/",
                                  b"/api/%2F%2Fhealth/x", b"/nope"])
def test_an_unknown_path_is_not_found_in_the_error_shape(server, path):
    assert only_error(server, get(path))[1]["code"] == "not_found"


@pytest.fixture
def cramped(make_server):
    """A server with 300 open files at most (so about a hundred connections) and 2 s for a request to arrive."""
    command = ["prlimit", "--nofile=300:300", sys.executable, str(ROOT / "backend" / "main.py")]
    return make_server({"HTTP_IDLE_TIMEOUT_S": "2"}, command=command)


def idle_connections(server: Server, n: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) for _ in range(n)]


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (within the socket's timeout), whatever it said first."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(cramped):
    (sock,) = idle_connections(cramped, 1)
    assert closed_by_server(sock)  # recv waits up to TIMEOUT; the server closes it after 2 s
    sock.close()


def test_a_connection_that_sends_half_a_request_is_closed_after_the_idle_timeout(cramped):
    (sock,) = idle_connections(cramped, 1)
    sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")  # no blank line: the headers never end
    assert closed_by_server(sock)
    sock.close()


def test_a_flood_of_silent_connections_is_refused_cleanly_while_health_is_answered(cramped):
    flood = idle_connections(cramped, 150)  # more than the server may hold open
    try:
        status, error = only_error(cramped, upgrade("Sec-WebSocket-Version: 13",
                                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="))
        assert (status, error["code"]) == (503, "unavailable")
        responses, _ = exchange(cramped, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert responses[0].status == 200 and json.loads(responses[0].body)["status"] == "ok"
        assert all(closed_by_server(sock) for sock in flood), "every silent one is closed in the end"
        wait_until(lambda: exchange(cramped, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")[0][0].status == 200,
                   what="health served normally again")
    finally:
        for sock in flood:
            sock.close()


def test_the_servers_own_limit_of_open_files_is_raised_to_its_hard_limit(make_server):
    command = ["prlimit", "--nofile=256:4096", sys.executable, str(ROOT / "backend" / "main.py")]
    server = make_server(command=command)
    limits = subprocess.run(["prlimit", "--nofile", "--pid", str(server.proc.pid), "--output=SOFT,HARD", "--noheadings"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert limits == ["4096", "4096"]
