"""Two nodes behind a real load balancer (HAProxy, deploy/haproxy.cfg): clients see one service, and when a node
dies its clients reconnect through the balancer to the other and catch up by rev."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import requests

from cluster import Cluster
from support import ROOT, TIMEOUT, Peer, Server, Wallet, free_port, new_chat, wait_until

pytestmark = pytest.mark.own_store


class LoadBalancer:
    """haproxy -f deploy/haproxy.cfg in the foreground, in front of the cluster's nodes."""

    def __init__(self, folder: Path, nodes: list[Server]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OM_LB_BIND": f"127.0.0.1:{self.port}",
               **{f"OM_NODE_{i + 1}": f"127.0.0.1:{node.port}" for i, node in enumerate(nodes)}}
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], env=env,
                                     stdout=open(folder / "haproxy.log", "ab"), stderr=subprocess.STDOUT)
        wait_until(self._up, 30, f"haproxy on {self.url}")

    def _up(self) -> bool:
        try:
            return requests.get(self.url + "/api/health", timeout=1).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def balanced(tmp_path) -> Iterator[tuple[Cluster, Server]]:
    cluster = Cluster(tmp_path, 2, {"RATE_PER_S": "1000", "RATE_BURST": "1000"}).start()
    lb = LoadBalancer(tmp_path, cluster.nodes)
    front = Server(tmp_path / "front")  # the balancer's address, spoken to like a node
    front.port, front.url = lb.port, lb.url
    yield cluster, front
    lb.stop()
    cluster.stop()


def test_clients_of_the_balancer_reach_each_other_on_whichever_node_they_land(balanced, peers):
    _, front = balanced
    alice, bob = Wallet().sign_in(front), Wallet().sign_in(front)
    chat = new_chat(front, alice, bob)
    listeners = [peers(front, bob) for _ in range(4)]  # least-connections spreads them over both nodes
    for peer in listeners:
        peer.join(chat["id"])
    sent = peers(front, alice).send(chat["id"], "through the balancer")["message"]
    for peer in listeners:
        assert peer.wait("message", lambda m: m["id"] == sent["id"])["body"] == "through the balancer"


def test_when_a_node_dies_its_clients_reconnect_through_the_balancer_and_miss_nothing(balanced, peers):
    cluster, front = balanced
    alice, bob = Wallet().sign_in(front), Wallet().sign_in(front)
    chat = new_chat(front, alice, bob)
    b = Peer(front, bob.token)
    seen = b.join(chat["id"])["chat"]["rev"]
    a = peers(front, alice)
    before = a.send(chat["id"], "before")["message"]
    b.wait("message", lambda m: m["id"] == before["id"])
    seen = max(seen, before["rev"])
    victim = next(node for node in cluster.nodes if node.get("/api/health").json()["connections"] > 0)
    victim.kill()
    wait_until(lambda: not b.sio.connected or not a.sio.connected, TIMEOUT, "a client to lose its node")
    sender = peers(front, alice)  # a new connection: the balancer sends it to the living node
    during = [wait_until(lambda i=i: (ack := sender.send(chat["id"], f"after {i}"))["ok"] and ack, TIMEOUT,
                         "a send to be taken")["message"] for i in range(3)]
    again = peers(front, bob).join(chat["id"], since_rev=seen)
    assert [m["id"] for m in again["changes"]] == [m["id"] for m in during]
    b.close()
