"""Notifications across nodes: the coalescing windows are shared (one chat's messages committed on two nodes make one
push per window, sent once), and a hung Redis delays no push (each node keeps its own windows meanwhile)."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Iterator

import pytest

from cluster import Cluster, PrivateRedis
from push_service import PushService
from support import Wallet, new_chat
from test_push import put

pytestmark = pytest.mark.own_store


@pytest.fixture
def service() -> Iterator[list[PushService]]:
    made: list[PushService] = []
    yield made
    for s in made:
        s.close()


def test_messages_committed_on_two_nodes_inside_one_window_make_one_push_counting_them(tmp_path: Path, peers,
                                                                                      service):
    cluster = Cluster(tmp_path, 2, {"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": "2"}).start()
    try:
        first, second = cluster[0], cluster[1]
        push = PushService(first.get("/api/push/key").json()["public_key"])
        service.append(push)
        alice, bob = Wallet().sign_in(first), Wallet().sign_in(first)
        chat = new_chat(first, alice, bob)
        sub_id, sub = push.subscribe()
        assert put(first, bob, sub).status_code == 201
        on_first, on_second = peers(first, alice), peers(second, alice)
        on_first.send(chat["id"], "one")
        assert push.next().payload["preview"] == "one"
        on_second.send(chat["id"], "two")  # each node opens no window of its own: both are inside the first one
        three = on_first.send(chat["id"], "three")["message"]
        coalesced = push.next().payload
        assert (coalesced["message_id"], coalesced["count"]) == (three["id"], 2)
        four = on_second.send(chat["id"], "four")["message"]  # inside the window that push opened
        after = push.next().payload
        assert (after["message_id"], after["count"]) == (four["id"], 1)  # nobody sent "two" and "three" again
        assert push.pushes.empty()
    finally:
        cluster.stop()


def test_a_hung_redis_delays_no_push(tmp_path: Path, peers, service):
    redis = PrivateRedis(tmp_path / "redis").start()
    cluster = Cluster(tmp_path / "nodes", 1, {"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": "60"},
                      redis_url=redis.url).start()
    try:
        node = cluster[0]
        push = PushService(node.get("/api/push/key").json()["public_key"])
        service.append(push)
        alice, bob = Wallet().sign_in(node), Wallet().sign_in(node)
        subscribed = push.subscribe()
        assert put(node, bob, subscribed[1]).status_code == 201
        redis.signal(signal.SIGSTOP)
        try:
            sent = peers(node, alice).send(new_chat(node, alice, bob)["id"], "while redis hangs")["message"]
            assert push.next().payload["message_id"] == sent["id"]
        finally:
            redis.signal(signal.SIGCONT)
    finally:
        cluster.stop()
        redis.kill()
