"""Redis hung, down or emptied under a running node: nobody waits on it, sign-in says why it refuses, and presence
comes back whole."""
from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from cluster import Cluster, PrivateRedis
from support import Peer, Server, Wallet, free_port, new_chat, refusal, siwe_text, wait_until
from test_cluster import pipeline
from test_metrics import scrape

FAST = 5.0  # far above what each step takes now, far below what a hung Redis cost before (2 s per call)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    r = PrivateRedis(tmp_path / "redis").start()
    yield r
    r.kill()


def redis_state(server: Server) -> str:
    return server.get("/api/health").json()["redis"]


def send_all(peer: Peer, chat_id: str, n: int) -> list[dict[str, Any]]:
    """n sends written at once (not waiting for each ack); their acks, once all came within FAST seconds."""
    done, acks = pipeline(peer, chat_id, n, "hung")
    assert done.wait(FAST), f"{len(acks)} of {n} sends acknowledged within {FAST} s"
    return acks


def test_a_hung_redis_stalls_no_send_or_join_and_the_node_uses_it_again_when_it_answers(private_redis, make_server,
                                                                                       peers):
    metrics = free_port()
    server = make_server({"REDIS_URL": private_redis.url, "METRICS_PORT": str(metrics)})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    a.join(chat["id"])
    assert redis_state(server) == "ok"

    private_redis.signal(signal.SIGSTOP)
    try:
        acks = send_all(a, chat["id"], 10)
        assert all(ack["ok"] for ack in acks), acks
        assert sorted(ack["message"]["seq"] for ack in acks) == list(range(1, 11))
        joined = b.sio.call("join", {"chat_id": chat["id"]}, timeout=FAST)
        assert joined["ok"] and joined["online"] == sorted([alice.address, bob.address])
        assert redis_state(server) == "down"
        assert scrape(metrics)[("om_redis_up", ())] == 0
    finally:
        private_redis.signal(signal.SIGCONT)

    wait_until(lambda: redis_state(server) == "ok", what="the node to use Redis again")
    figures = scrape(metrics)
    assert figures[("om_redis_up", ())] == 1 and figures[("om_redis_breaker_trips_total", ())] == 1
    assert a.send(chat["id"], "Redis answers again")["ok"]
    assert Wallet().sign_in(server).token, "nonces are checked in Redis again"


def test_sign_in_while_redis_is_down_is_unavailable_and_the_nonce_stays_usable(private_redis, make_server):
    server = make_server({"REDIS_URL": private_redis.url, "NODE_TTL_S": "2"})
    # The ledger vouches for nonces issued since it began (its first beat that Redis answered): one issued while a
    # slow start had the breaker open would be refused by design, whatever this test does.
    ledger = redis.Redis(port=private_redis.port)
    wait_until(lambda: redis_state(server) == "ok" and any(ledger.scan_iter(match="*nonces-since")),
               what="the node's nonce ledger to begin in Redis")
    wallet = Wallet()
    text = siwe_text(wallet.address, server.get("/api/auth/nonce").json()["nonce"])
    attempt = {"message": text, "signature": wallet.sign(text)}

    private_redis.signal(signal.SIGSTOP)
    try:
        wait_until(lambda: redis_state(server) == "down", what="the node's heartbeat to find Redis hung")
        refused = server.post("/api/auth/verify", attempt)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        assert "Redis" in refused.json()["error"]["message"]
    finally:
        private_redis.signal(signal.SIGCONT)

    wait_until(lambda: redis_state(server) == "ok", what="the node to use Redis again")
    assert server.post("/api/auth/verify", attempt).status_code == 200, "the refused attempt used nothing up"
    assert server.post("/api/auth/verify", attempt).status_code == 401, "and the nonce is single use again"


@pytest.mark.parametrize("emptied", ["restarted", "flushed"])
def test_a_used_nonce_stays_used_when_redis_comes_back_empty(private_redis, make_server, emptied):
    server = make_server({"REDIS_URL": private_redis.url})
    wallet = Wallet()
    text = siwe_text(wallet.address, server.get("/api/auth/nonce").json()["nonce"])
    attempt = {"message": text, "signature": wallet.sign(text)}
    assert server.post("/api/auth/verify", attempt).status_code == 200

    if emptied == "restarted":
        private_redis.kill()
        private_redis.start()
    else:
        redis.Redis(port=private_redis.port).flushall()

    def replay() -> int | None:
        status = server.post("/api/auth/verify", attempt).status_code
        return None if status == 503 else status

    assert wait_until(replay, what="Redis to answer") == 401, "a replay of a used sign-in is refused"
    assert Wallet().sign_in(server).token, "a nonce issued since signs in"


@pytest.fixture
def cluster_on(tmp_path: Path) -> Iterator[Callable[[PrivateRedis], Cluster]]:
    started: list[Cluster] = []

    def make(r: PrivateRedis) -> Cluster:
        cluster = Cluster(tmp_path / "cluster", 2, {"NODE_TTL_S": "2", "MAX_SOCKETS_PER_ADDRESS": "2"}, redis_url=r.url)
        started.append(cluster)
        return cluster.start()

    yield make
    for cluster in started:
        cluster.stop()


@pytest.mark.own_store
@pytest.mark.parametrize("emptied", ["restarted", "flushed"])
def test_presence_and_socket_counts_held_by_a_node_are_reasserted_when_redis_comes_back_empty(
        private_redis, cluster_on, peers, emptied):
    c = cluster_on(private_redis)
    members = [Wallet().sign_in(c[0]) for _ in range(3)] + [Wallet().sign_in(c[1])]
    chat = new_chat(c[0], *members)
    on_first = [peers(c[0], w) for w in members[:3]]
    for peer in on_first:
        peer.join(chat["id"])
    peers(c[0], members[0])  # the first member's second socket (of two allowed), in no chat

    if emptied == "restarted":
        private_redis.kill()
        private_redis.start()
    else:
        redis.Redis(port=private_redis.port).flushall()

    everyone = sorted(w.address for w in members)
    fourth = peers(c[1], members[3])
    # A join from the other node lists what Redis holds: node 0's three only once it re-asserted them.
    wait_until(lambda: fourth.join(chat["id"])["online"] == everyone, what="all four online, seen from node 1")
    wait_until(lambda: redis_state(c[0]) == "ok", what="node 0 to have re-asserted all it holds")
    assert refusal(c[1], members[0].token) == {"message": "rate_limited"}, "node 0's two sockets count on node 1"
    for peer in on_first[:2]:
        peer.close()
    for gone in members[:2]:
        for watcher in (fourth, on_first[2]):
            assert watcher.wait("presence", lambda p, g=gone: p["address"] == g.address and not p["online"])
    assert fourth.join(chat["id"])["online"] == sorted(w.address for w in members[2:])


def test_health_says_redis_is_not_configured_without_it(server):
    assert redis_state(server) == "not configured"
