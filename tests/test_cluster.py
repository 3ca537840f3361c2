"""Several nodes on one PostgreSQL and one Redis: every guarantee of one process holds across them."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterator

import pytest

from cluster import Cluster
from support import TIMEOUT, Peer, Wallet, new_chat, refusal, siwe_text, wait_until

pytestmark = pytest.mark.own_store


@pytest.fixture
def clusters(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    started: list[Cluster] = []

    def make(n: int = 2, **env: str) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster{len(started)}", n,
                          {"RATE_PER_S": "100000", "RATE_BURST": "100000", **env})
        started.append(cluster)
        return cluster.start()

    yield make
    for cluster in started:
        cluster.stop()


def pipeline(peer: Peer, chat_id: str, n: int, prefix: str) -> tuple[threading.Event, list[dict]]:
    """Send n messages without waiting for acks; the acks, in the order they come, and an event set at the last."""
    acks: list[dict] = []
    done = threading.Event()

    def on_ack(ack: dict) -> None:
        acks.append(ack)
        if len(acks) == n:
            done.set()

    for i in range(n):
        peer.sio.emit("send", {"chat_id": chat_id, "client_id": f"{prefix}{i}", "body": f"{prefix} {i}"},
                      callback=on_ack)
    return done, acks


def test_a_message_sent_on_one_node_reaches_sockets_on_every_node(clusters, peers):
    c = clusters(3)
    alice, bob, carol = Wallet().sign_in(c[0]), Wallet().sign_in(c[1]), Wallet().sign_in(c[2])
    chat = new_chat(c[0], alice, bob, carol)
    listeners = [peers(c[i], w) for i, w in ((1, bob), (2, carol), (0, alice))]
    for peer in listeners:
        peer.join(chat["id"])
    sent = peers(c[0], alice).send(chat["id"], "to every node")["message"]
    for peer in listeners:
        assert peer.wait("message", lambda m: m["id"] == sent["id"]) == sent


def test_a_sign_out_on_one_node_ends_that_session_on_every_node(clusters, peers):
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    renewed = c[1].post("/api/auth/renew", token=alice.token).json()["token"]
    leaving = [peers(c[1], alice), peers(c[1], Wallet(alice.account, renewed))]
    staying = peers(c[1], Wallet(alice.account).sign_in(c[1]))
    for peer in [*leaving, staying]:
        peer.join(chat["id"])
    assert c[0].post("/api/auth/logout", token=alice.token).status_code == 200
    for peer in leaving:  # node B heard of it: its sockets of that session are told so and closed
        assert peer.wait("session:expired")["reason"] == "logout"
        wait_until(lambda peer=peer: not peer.sio.connected, what="node B to disconnect the signed-out socket")
    for node in c.nodes:
        for token in (alice.token, renewed):
            r = node.get("/api/chats", token)
            assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
            assert refusal(node, token) == {"message": "unauthorized"}
    assert staying.send(chat["id"], "the other sign-in goes on")["ok"]


def test_concurrent_pipelined_sends_on_two_nodes_get_one_gapless_seq_seen_in_the_same_order_everywhere(clusters, peers):
    c = clusters(3)
    alice, bob, carol = Wallet().sign_in(c[0]), Wallet().sign_in(c[1]), Wallet().sign_in(c[2])
    chat = new_chat(c[0], alice, bob, carol)
    watchers = [peers(c[i], carol) for i in range(3)]
    for w in watchers:
        w.join(chat["id"])
    n = 150
    a_done, a_acks = pipeline(peers(c[0], alice), chat["id"], n, "a")
    b_done, b_acks = pipeline(peers(c[1], bob), chat["id"], n, "b")
    assert a_done.wait(TIMEOUT) and b_done.wait(TIMEOUT)
    for acks in (a_acks, b_acks):
        seqs = [ack["message"]["seq"] for ack in acks]
        assert seqs == sorted(seqs), "each sender's acks come in seq order"
    assert sorted(ack["message"]["seq"] for ack in a_acks + b_acks) == list(range(1, 2 * n + 1))
    order = None
    for w in watchers:
        w.wait("message", lambda m: m["seq"] == 2 * n)
        seen = [(m["seq"], m["client_id"]) for m in w.received("message")]
        assert [seq for seq, _ in seen] == list(range(1, 2 * n + 1)), "gapless, in seq order, each once"
        order = order or seen
        assert seen == order, "the same order on every socket of every node"


def test_a_repeated_client_id_on_another_node_returns_the_first_message(clusters, peers):
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[0])
    chat = new_chat(c[0], alice, bob)
    first = peers(c[0], alice).send(chat["id"], "once", client_id="same")["message"]
    assert peers(c[1], alice).send(chat["id"], "again", client_id="same")["message"] == first
    assert c[1].get(f"/api/chats/{chat['id']}", alice.token).json()["chat"]["last_seq"] == 1


def test_a_nonce_is_used_once_across_nodes(clusters):
    c = clusters(2)
    wallet = Wallet()
    text = siwe_text(wallet.address, c[0].get("/api/auth/nonce").json()["nonce"])
    assert c[1].post("/api/auth/verify", {"message": text, "signature": wallet.sign(text)}).status_code == 200
    assert c[0].post("/api/auth/verify", {"message": text, "signature": wallet.sign(text)}).status_code == 401


def test_a_token_from_one_node_works_on_every_node(clusters, peers):
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[0])
    chat = new_chat(c[0], alice, bob)
    assert peers(c[1], alice).send(chat["id"])["ok"]


def test_the_send_rate_limit_counts_sends_on_every_node(clusters, peers):
    c = clusters(2, RATE_PER_S="0.05", RATE_BURST="3")
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    on_a, on_b = peers(c[0], alice), peers(c[1], alice)
    assert on_a.send(chat["id"])["ok"] and on_b.send(chat["id"])["ok"] and on_a.send(chat["id"])["ok"]
    refused = on_b.send(chat["id"])
    assert refused["error"]["code"] == "rate_limited" and refused["error"]["retry_after_ms"] > 0


def test_an_address_holds_its_socket_allowance_across_nodes(clusters, peers):
    from support import refusal

    c = clusters(2, MAX_SOCKETS_PER_ADDRESS="2")
    alice = Wallet().sign_in(c[0])
    peers(c[0], alice), peers(c[1], alice)
    assert refusal(c[0], alice.token) == {"message": "rate_limited"}


def across_two_nodes(clusters, peers) -> tuple[Cluster, dict, Wallet, Wallet, Peer, Peer]:
    """Alice's socket on node 0, Bob's on node 1 joined to their DM: what one does, the other node must deliver."""
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    b = peers(c[1], bob)
    b.join(chat["id"])
    return c, chat, alice, bob, peers(c[0], alice), b


def test_presence_and_typing_cross_nodes(clusters, peers):
    c, chat, alice, bob, a, b = across_two_nodes(clusters, peers)
    joined = a.join(chat["id"])
    assert joined["online"] == sorted([alice.address, bob.address])
    assert b.wait("presence", lambda p: p["address"] == alice.address and p["online"])
    a.call("typing", {"chat_id": chat["id"], "typing": True})
    assert b.wait("typing", lambda t: t["address"] == alice.address and t["typing"])
    b.close()
    assert a.wait("presence", lambda p: p["address"] == bob.address and not p["online"])


def test_a_dead_nodes_sockets_go_offline_within_a_minute(clusters, peers):
    c = clusters(2, NODE_TTL_S="4")
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    b = peers(c[1], bob)
    b.join(chat["id"])
    Peer(c[0], alice.token).join(chat["id"])  # its node dies under it
    b.wait("presence", lambda p: p["address"] == alice.address and p["online"])
    c[0].kill()
    assert b.wait("presence", lambda p: p["address"] == alice.address and not p["online"], timeout=60)
    assert b.join(chat["id"])["online"] == [bob.address]


def test_a_member_removed_on_one_node_stops_hearing_on_another(clusters, peers):
    c = clusters(2)
    alice, bob, carol = Wallet().sign_in(c[0]), Wallet().sign_in(c[1]), Wallet().sign_in(c[0])
    chat = new_chat(c[0], alice, bob, carol)
    b = peers(c[1], bob)
    b.join(chat["id"])
    assert c[0].request("DELETE", f"/api/chats/{chat['id']}/members/{bob.address}", alice.token).status_code == 200
    assert bob.address not in b.wait("chat:update")["members"]
    a = peers(c[0], alice)
    a.join(chat["id"])
    after = a.send(chat["id"], "after bob left")["message"]
    a.wait("message", lambda m: m["id"] == after["id"])
    marker_chat = new_chat(c[0], alice, bob)  # bob's socket still hears of other chats, in order: it is alive
    b.join(marker_chat["id"])
    marker = a.send(marker_chat["id"], "marker")["message"]
    b.wait("message", lambda m: m["id"] == marker["id"])
    assert [m["body"] for m in b.received("message")] == ["marker"]


def test_a_member_added_on_one_node_gets_no_earlier_message_on_another_and_an_erased_chat_keeps_no_socket(
        clusters, peers):
    c = clusters(2)
    alice, bob, carol, mallory = (Wallet().sign_in(c[0]) for _ in range(4))
    chat_id = "c1a57e2" + alice.address[2:12].lower()
    r = c[0].post("/api/chats", {"members": [bob.address], "id": chat_id}, alice.token)
    assert r.status_code == 201, r.text
    a, b = peers(c[0], alice), peers(c[1], bob)
    a.join(chat_id)
    b.join(chat_id)  # node 1 serves the chat from here on
    old = a.send(chat_id, "before carol")["message"]
    b.wait("message", lambda m: m["id"] == old["id"])
    assert c[0].post(f"/api/chats/{chat_id}/members", {"members": [carol.address]}, alice.token).status_code == 200
    k = peers(c[1], carol)
    assert k.join(chat_id)["changes"] == []
    assert a.call("attest", {"chat_id": chat_id, "message_id": old["id"], "xmtp_id": "x-old"})["ok"]
    b.wait("message:update", lambda m: m["id"] == old["id"])
    new = a.send(chat_id, "after carol")["message"]
    k.wait("message", lambda m: m["id"] == new["id"])
    assert k.received("message:update") == [] and [m["body"] for m in k.received("message")] == ["after carol"]
    # Everyone leaves; the last one's socket on the other node hears of it and is unsubscribed, so the next chat of
    # that id tells it nothing.
    for who in (bob, carol):
        assert c[0].request("DELETE", f"/api/chats/{chat_id}/members/{who.address}", who.token).status_code == 200
    a2 = peers(c[1], alice)
    a2.join(chat_id)
    assert c[0].request("DELETE", f"/api/chats/{chat_id}/members/{alice.address}", alice.token).json()["chat"][
        "members"] == []
    assert a2.wait("chat:update", lambda ch: ch["members"] == [])["id"] == chat_id
    assert c[1].post("/api/chats", {"members": [], "id": chat_id}, mallory.token).status_code == 201
    m = peers(c[1], mallory)
    m.join(chat_id)
    fresh = m.send(chat_id, "a new chat")["message"]
    assert fresh["seq"] > new["seq"]
    marker_chat = new_chat(c[1], mallory, alice)  # a2 still hears of other chats, in order: it is alive
    a2.join(marker_chat["id"])
    marker = m.send(marker_chat["id"], "marker")["message"]
    a2.wait("message", lambda msg: msg["id"] == marker["id"])
    assert "a new chat" not in [msg["body"] for msg in a2.received("message")]


def test_positions_marked_on_one_node_are_read_and_listed_on_another(clusters, peers):
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    for body in ("one", "two"):
        assert peers(c[0], alice).send(chat["id"], body)["ok"]
    ack = peers(c[0], bob).call("mark", {"chat_id": chat["id"], "read_seq": 1})
    assert ack == {"ok": True, "read_seq": 1, "delivered_seq": 1}
    seen = c[1].get(f"/api/chats/{chat['id']}", bob.token).json()["chat"]
    assert (seen["read_seq"], seen["delivered_seq"], seen["unread"]) == (1, 1, 1)
    receipts = peers(c[1], alice).join(chat["id"])["receipts"]
    assert {r["address"]: r["read_seq"] for r in receipts} == {alice.address: 2, bob.address: 1}


def test_each_message_is_settled_once_by_one_node(clusters, peers):
    c = clusters(3, XMTP_GRACE_S="1")
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    watcher = peers(c[2], bob, features=("chat:confirmed",))
    watcher.join(chat["id"])
    plain = peers(c[1], bob)  # a client of the contract alone, on another node
    plain.join(chat["id"])
    sent = [peers(c[i % 3], alice).send(chat["id"], f"m{i}")["message"] for i in range(6)]
    for m in sent:
        assert watcher.settled(m["id"])["status"] == "confirmed"
        assert plain.wait("message:update", lambda u, m=m: u["id"] == m["id"])["source"] == "fallback"
    leaders = [n for n in c.nodes if n.get("/api/health").json()["reconciler"]["leader"]]
    assert len(leaders) == 1
    last = peers(c[0], alice).send(chat["id"], "marker")["message"]  # settled after every other one
    watcher.settled(last["id"])
    assert not watcher.received("message:update"), "plain messages are confirmed per chat, not per message"
    runs = [(e["first_rev"], e["rev"]) for e in watcher.received("chat:confirmed")]
    assert sum(hi - lo + 1 for lo, hi in runs) == len(sent) + 1, "one confirmation per message"
    assert all(a[1] < b[0] for a, b in zip(runs, runs[1:])), "each rev confirmed once, in order"
    for m in [*sent, last]:  # and every node reads each in its one state
        page = f"/api/chats/{chat['id']}/messages?after={m['seq'] - 1}&limit=1"
        stored = c[m["seq"] % 3].get(page, alice.token).json()["messages"][0]
        assert (stored["status"], stored["source"]) == ("confirmed", "fallback")
        assert any(lo <= stored["rev"] <= hi for lo, hi in runs)
    plain.settled(last["id"])
    assert not plain.received("chat:confirmed")
    assert sorted(u["rev"] for u in plain.received("message:update")) == sorted(
        rev for lo, hi in runs for rev in range(lo, hi + 1)), "each confirmed message once, at its rev"


def test_the_reconciler_moves_to_another_node_when_its_node_dies(clusters, peers):
    c = clusters(2, XMTP_GRACE_S="1")
    leader = c.leader()
    survivor = next(n for n in c.nodes if n is not leader)
    leader.kill()
    assert c.leader() is survivor
    alice, bob = Wallet().sign_in(survivor), Wallet().sign_in(survivor)
    chat = new_chat(survivor, alice, bob)
    b = peers(survivor, bob)
    b.join(chat["id"])
    m = peers(survivor, alice).send(chat["id"], "settled by the new leader")["message"]
    assert b.settled(m["id"])["status"] == "confirmed"


def test_a_node_killed_mid_burst_loses_nothing_acked_and_its_clients_catch_up_on_another(clusters, peers):
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    b = peers(c[1], bob)
    b.join(chat["id"])
    sender = Peer(c[0], alice.token)
    acked: dict[str, int] = {}
    enough = threading.Event()

    def on_ack(client_id: str, ack: dict) -> None:
        if ack.get("ok"):
            acked[client_id] = ack["message"]["seq"]
        if len(acked) >= 200:
            enough.set()

    for i in range(3000):
        sender.sio.emit("send", {"chat_id": chat["id"], "client_id": f"k{i}", "body": f"burst {i}"},
                        callback=lambda ack, cid=f"k{i}": on_ack(cid, ack))
    assert enough.wait(TIMEOUT)
    c[0].kill()
    snapshot = dict(acked)
    caught_up = peers(c[1], alice).join(chat["id"], since_rev=0)
    found = {m["client_id"]: m["seq"] for m in caught_up["changes"]}
    while caught_up["has_more"]:
        page = c[1].get(f"/api/chats/{chat['id']}/changes?since_rev={max(m['rev'] for m in caught_up['changes'])}",
                        alice.token).json()
        caught_up = {"changes": page["changes"], "has_more": page["has_more"]}
        found.update({m["client_id"]: m["seq"] for m in page["changes"]})
    assert all(found.get(k) == seq for k, seq in snapshot.items()), "every acked message, at its seq"
    assert sorted(found.values()) == list(range(1, len(found) + 1))
    last = max(found.values())
    b.wait("message", lambda m: m["seq"] == last)
    assert [m["seq"] for m in b.received("message")] == list(range(1, last + 1)), "the other node's sockets too"


def test_a_lost_listen_connection_misses_nothing(clusters, peers):
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat = new_chat(c[0], alice, bob)
    b = peers(c[1], bob)
    b.join(chat["id"])
    a = peers(c[0], alice)
    assert c.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                 "AND query LIKE 'LISTEN%%'"), "every node's LISTEN connection is cut"
    sent = [a.send(chat["id"], f"while nobody listened {i}")["message"] for i in range(20)]
    b.wait("message", lambda m: m["id"] == sent[-1]["id"])
    assert [m["seq"] for m in b.received("message")] == [m["seq"] for m in sent]


def test_the_event_loop_serves_others_while_a_query_waits(clusters, peers):
    """psycopg waits cooperatively under gevent: while a write waits on a lock held elsewhere, the node serves on."""
    import psycopg

    c = clusters(1)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[0])
    chat = new_chat(c[0], alice, bob)
    a, b = peers(c[0], alice), peers(c[0], bob)
    a.join(chat["id"])
    answers: list[dict] = []
    with psycopg.connect(c.database_url) as locker:
        locker.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (chat["id"],))
        waiting = threading.Thread(target=lambda: answers.append(a.send(chat["id"], "waits for the lock")))
        waiting.start()
        assert c[0].get("/api/health").status_code == 200
        assert c[0].get(f"/api/chats/{chat['id']}/messages", bob.token).json()["messages"] == []
        b.call("typing", {"chat_id": chat["id"], "typing": True})  # alice's own socket is busy with her send
        assert a.wait("typing", lambda t: t["typing"])
        assert answers == [], "still waiting for the lock"
        locker.rollback()
    waiting.join(TIMEOUT)
    assert answers and answers[0]["ok"]


def test_with_postgresql_down_sends_are_refused_never_falsely_acked_and_nodes_recover_by_themselves(
        private_pg, tmp_path, peers):
    c = Cluster(tmp_path, 2, {"RATE_PER_S": "100000", "RATE_BURST": "100000"},
                database_url=private_pg.database()).start()
    try:
        alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
        chat = new_chat(c[0], alice, bob)
        watcher = peers(c[1], bob)
        watcher.join(chat["id"])
        sender = peers(c[0], alice)
        answers: dict[str, dict] = {}
        some_acked, all_answered = threading.Event(), threading.Event()
        n = 2000

        def on_ack(client_id: str, ack: dict) -> None:
            answers[client_id] = ack
            if sum(a["ok"] for a in answers.values()) >= 100:
                some_acked.set()
            if len(answers) == n:
                all_answered.set()

        for i in range(n):
            sender.sio.emit("send", {"chat_id": chat["id"], "client_id": f"k{i}", "body": f"burst {i}"},
                            callback=lambda ack, cid=f"k{i}": on_ack(cid, ack))
        assert some_acked.wait(TIMEOUT)
        private_pg.stop("immediate")
        assert all_answered.wait(30), "every send is answered, none left hanging"
        refused = [a for a in answers.values() if not a["ok"]]
        assert refused and {a["error"]["code"] for a in refused} == {"unavailable"}
        for node in c.nodes:
            wait_until(lambda node=node: node.get("/api/health").status_code == 503, what="health to say so")
        assert sender.sio.connected and watcher.sio.connected, "sockets stay open"
        private_pg.start()
        for node in c.nodes:
            wait_until(lambda node=node: node.get("/api/health").status_code == 200, 60, "the node to recover")
        after = wait_until(lambda: (ack := sender.send(chat["id"], "after the outage"))["ok"] and ack, 30,
                           "sends to be taken again")["message"]
        watcher.wait("message", lambda m: m["id"] == after["id"])
        stored = {}
        page = c[1].get(f"/api/chats/{chat['id']}/changes?since_rev=0", alice.token).json()
        while True:
            stored.update({m["client_id"]: m["seq"] for m in page["changes"]})
            if not page["has_more"]:
                break
            last = max(m["rev"] for m in page["changes"])
            page = c[1].get(f"/api/chats/{chat['id']}/changes?since_rev={last}", alice.token).json()
        acked = {cid: a["message"]["seq"] for cid, a in answers.items() if a["ok"]}
        assert all(stored.get(cid) == seq for cid, seq in acked.items()), "every acked message is stored at its seq"
        assert sorted(stored.values()) == list(range(1, len(stored) + 1))
    finally:
        c.stop()



def test_a_reaction_and_a_deletion_on_one_node_reach_a_socket_joined_on_another(clusters, peers):
    c, chat, _, _, a, b = across_two_nodes(clusters, peers)
    sent = a.send(chat["id"], "react across nodes")["message"]
    target = {"chat_id": chat["id"], "message_id": sent["id"]}
    liked = a.call("react", {**target, "emoji": "🎉", "action": "added"})["message"]
    assert b.wait("message:update", lambda m: m["id"] == sent["id"] and m["reaction_counts"]) == liked
    deleted = a.call("delete", target)["message"]
    assert b.wait("message:update", lambda m: m["id"] == sent["id"] and m["deleted"]) == deleted
    assert deleted["body"] == "" and c.sql("SELECT body FROM messages WHERE chat_id = %s", chat["id"]) == [("",)]


def test_a_socket_that_joined_nothing_on_one_node_hears_of_a_send_on_another(clusters, peers):
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    b = peers(c[1], bob)
    chat = new_chat(c[0], alice, bob, Wallet())  # a group: bob can be removed
    assert b.wait("chat:update", lambda ch: ch["id"] == chat["id"])["members"] == chat["members"]
    sent = peers(c[0], alice).send(chat["id"], "across nodes")["message"]
    activity = b.wait("chat:activity", lambda a: a["chat_id"] == chat["id"])
    assert activity == {"chat_id": chat["id"], "last_seq": sent["seq"], "rev": sent["rev"], "last_message": sent}
    assert c[0].request("DELETE", f"/api/chats/{chat['id']}/members/{bob.address}", alice.token).status_code == 200
    assert b.wait("chat:removed") == {"chat_id": chat["id"]}


def test_a_socket_that_joined_nothing_hears_at_the_resync_what_its_node_missed(clusters, peers):
    """Node B's LISTEN connection is cut while B is stopped, so it cannot listen again before the commits: their
    notifications reach nobody there. Listening again, B tells its feed sockets what changed as if they had heard it."""
    c = clusters(2)
    alice, bob = Wallet().sign_in(c[0]), Wallet().sign_in(c[1])
    chat, left = new_chat(c[0], alice, bob), new_chat(c[0], alice, bob, Wallet())
    b = peers(c[1], bob)  # joins nothing: it follows both by feed
    with c[1].paused():
        assert c.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND query LIKE 'LISTEN%%'"), "every node's LISTEN connection is cut"
        a = peers(c[0], alice)
        sent = [a.send(chat["id"], f"missed {i}")["message"] for i in range(3)]
        added = new_chat(c[0], alice, bob)
        assert c[0].request("DELETE", f"/api/chats/{left['id']}/members/{bob.address}", alice.token).status_code == 200
    update = b.wait("chat:update", lambda ch: ch["id"] == chat["id"])
    assert (update["last_seq"], update["last_message"]["id"], update["unread"]) == (3, sent[-1]["id"], 3)
    assert b.wait("chat:update", lambda ch: ch["id"] == added["id"])["members"] == added["members"]
    assert b.wait("chat:removed") == {"chat_id": left["id"]}


def test_a_mark_on_one_node_reaches_the_markers_and_the_joined_members_sockets_on_another(clusters, peers):
    c = clusters(2)
    alice, bob = (Wallet().sign_in(c[0]) for _ in range(2))
    chat = new_chat(c[0], alice, bob)
    a, b_elsewhere = peers(c[1], alice), peers(c[1], bob)
    a.join(chat["id"])  # on node 1; alice sends and bob marks on node 0
    sent = peers(c[0], alice).send(chat["id"], "read me")["message"]
    assert a.wait("message")["id"] == sent["id"]
    assert peers(c[0], bob).call("mark", {"chat_id": chat["id"], "read_seq": sent["seq"]})["ok"]
    receipt = {"chat_id": chat["id"], "address": bob.address, "read_seq": sent["seq"], "delivered_seq": sent["seq"]}
    assert a.wait("receipt") == receipt and b_elsewhere.wait("receipt") == receipt
