"""/metrics: Prometheus's text format on a listener of its own, off unless METRICS_PORT is set."""
from __future__ import annotations

import socket
import subprocess

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from support import Wallet, free_port, new_chat


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def metered(make_server):
    port = free_port()
    server = make_server({"METRICS_PORT": str(port), "RATE_PER_S": "0.05", "RATE_BURST": "2"})
    return server, port


def test_sends_their_acks_and_deliveries_are_counted(metered, peers):
    server, port = metered
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    sent = [a.send(chat["id"], f"m{i}") for i in range(3)]
    b.wait("message", lambda m: m["id"] == sent[1]["message"]["id"])
    figures = scrape(port)
    assert figures[("om_sends_total", (("result", "ok"),))] == 2
    assert figures[("om_sends_total", (("result", "rate_limited"),))] == 1
    assert figures[("om_refusals_total", (("budget", "sends"),))] == 1
    assert figures[("om_send_ack_seconds_count", ())] == 2
    assert figures[("om_commit_batch_size_count", ())] >= 2, "the chat and the two messages were committed"
    assert figures[("om_deliveries_total", ())] == 2, "two messages, to bob's one socket"
    assert figures[("om_sockets", ())] == 2
    assert figures[("om_store_healthy", ())] == 1
    assert figures[("om_provisional", (("kind", "plain"),))] == 2
    assert figures[("om_reconciler_leader", ())] == 1


def test_a_cut_connection_is_counted_by_its_reason(metered):
    server, port = metered
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.sendall(b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    raw.recv(4096)
    raw.sendall(bytes([0x82, 0x81, 0, 0, 0, 0, 0]))  # a binary frame: dropped
    while raw.recv(4096):
        pass
    raw.close()
    assert scrape(port)[("om_connections_cut_total", (("reason", "binary packet"),))] == 1


def listening(pid: int) -> list[str]:
    """The addresses a process listens on (ss)."""
    lines = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout.splitlines()
    return sorted(line.split()[3] for line in lines if f"pid={pid}," in line)


def test_metrics_listen_on_loopback_beside_the_server(metered):
    server, port = metered
    assert listening(server.proc.pid) == sorted([f"127.0.0.1:{server.port}", f"127.0.0.1:{port}"])
    assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).headers["Content-Type"].startswith("text/plain")


def test_without_metrics_port_there_is_no_metrics_listener_and_none_on_the_public_one(make_server):
    server = make_server()
    assert listening(server.proc.pid) == [f"127.0.0.1:{server.port}"]
    assert server.get("/metrics").status_code == 404
