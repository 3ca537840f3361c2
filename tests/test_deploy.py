"""Deployment: the gunicorn gevent websocket worker, the live smoke script, and the TCP_NODELAY listener."""
from __future__ import annotations

import socket
import subprocess
import sys

import requests

from optimistic_messaging.server import listener

from support import ROOT, Peer, Wallet, free_port, new_chat
from test_raw_http import BAD_REQUESTS, only_error

GUNICORN = [sys.executable, "-m", "gunicorn", "-k", "geventwebsocket.gunicorn.workers.GeventWebSocketWorker",
            "-w", "1", "--graceful-timeout", "5", "--chdir", str(ROOT / "backend"), "--no-control-socket", "--bind", "127.0.0.1:{port}",
            "optimistic_messaging.wsgi:app"]


def gunicorn(make_server):
    return make_server(command=GUNICORN)


def test_gunicorn_worker_serves_rest_and_sockets(make_server, peers):
    server = gunicorn(make_server)
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    b = peers(server, bob)
    b.join(chat["id"])
    sent = peers(server, alice).send(chat["id"], "via gunicorn")["message"]
    assert b.wait("message", lambda m: m["id"] == sent["id"])["body"] == "via gunicorn"


def test_gunicorn_worker_keeps_acked_messages_across_kill_9(make_server):
    server = gunicorn(make_server)
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    sent = peer.send(chat["id"], "durable under gunicorn")["message"]
    peer.close()
    server.kill()
    server.start()
    assert server.get(f"/api/chats/{chat['id']}/messages", alice.token).json()["messages"] == [sent]


def test_smoke_script_passes_against_a_live_server(server):
    run = subprocess.run([sys.executable, str(ROOT / "backend" / "test_messaging.py"), "--url", server.url],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "✗" not in run.stdout and run.stdout.count("✓") == 10


MOVED = {"SIWE_DOMAINS": "chat.example:8443", "CORS_ORIGINS": "https://chat.example:8443"}  # the web app elsewhere


def smoke(server, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "backend" / "test_messaging.py"), "--url", server.url, *flags],
                          capture_output=True, text=True, timeout=60)


def test_smoke_script_needs_no_flag_where_the_web_app_is_not_on_the_default_port(make_server):
    run = smoke(make_server(MOVED))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "✗" not in run.stdout and run.stdout.count("✓") == 10


def test_smoke_script_given_a_domain_the_server_refuses_names_the_flag_it_needs(make_server):
    run = smoke(make_server(MOVED), "--domain", "localhost:3000")
    assert run.returncode == 1
    assert ("✗ sign in wallet A (SIWE): DomainRefused: the server does not allow SIWE domain localhost:3000: "
            "pass --domain <one of SIWE_DOMAINS>") in run.stdout, run.stdout


def test_smoke_script_fails_with_a_cross_when_the_server_is_down():
    run = subprocess.run([sys.executable, str(ROOT / "backend" / "test_messaging.py"), "--url",
                          f"http://127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stdout.startswith("✗ health")


def test_listener_sockets_hand_tcp_nodelay_to_accepted_connections():
    sock = listener("127.0.0.1", 0)
    sock.setblocking(True)
    client = socket.create_connection(sock.getsockname())
    accepted, _ = sock.accept()
    try:
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        for s in (accepted, client, sock):
            s.close()


def test_gunicorn_worker_refuses_a_request_a_proxy_could_frame_otherwise(make_server):
    status, error = only_error(gunicorn(make_server), BAD_REQUESTS["Content-Length beside chunked"])
    assert (status, error["code"]) == (400, "invalid")


def test_gunicorn_worker_answers_raw_http_faults_in_the_error_shape_and_closes_idle_connections(make_server):
    server = make_server({"HTTP_IDLE_TIMEOUT_S": "1"}, command=GUNICORN)
    refused = requests.get(server.url + "/socket.io/?EIO=4&transport=websocket", timeout=10,
                           headers={"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                    "Origin": "https://evil.example", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        assert idle.recv(1) == b"", "closed by the server, unanswered"
