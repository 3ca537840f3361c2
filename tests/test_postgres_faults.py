"""PostgreSQL racing, down or hung: a race between nodes fails nobody, and a database away is said at once."""
from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

import psycopg
import pytest
import requests
from eth_account import Account

from cluster import Cluster, PrivatePostgres
from farcaster import AppKey, Hub
from support import TIMEOUT, Peer, Wallet, new_chat, wait_until

pytestmark = pytest.mark.own_store

QUICK = 1.0  # a request timeout: an answer that waits on the database (5 s before) does not come within it
UNLIMITED = {"RATE_PER_S": "100000", "RATE_BURST": "100000", "CHAT_RATE_PER_MIN": "1000000",
             "CHAT_RATE_BURST": "100000"}


@pytest.fixture
def outage(private_pg: PrivatePostgres, tmp_path) -> Iterator[Cluster]:
    """One node on the private PostgreSQL, whatever a test leaves it in (stopped, frozen) undone after."""
    c = Cluster(tmp_path, 1, {**UNLIMITED, "XMTP_GRACE_S": "5"}, database_url=private_pg.database()).start()
    try:
        yield c
    finally:
        if private_pg.running():
            private_pg.thaw()
        else:
            private_pg.start()
        c.stop()


def test_the_same_new_dm_created_on_two_nodes_at_once_is_one_chat_and_refuses_no_other_write(tmp_path, peers):
    c = Cluster(tmp_path, 2, UNLIMITED).start()
    try:
        alice, carol, dave = Wallet().sign_in(c[0]), Wallet().sign_in(c[1]), Wallet()
        others = new_chat(c[1], carol, dave)
        bystander = peers(c[1], carol)
        sends: list[dict] = []
        racing = threading.Event()

        def send_meanwhile() -> None:
            while racing.is_set():
                sends.append(bystander.send(others["id"], "unrelated"))

        def create(node: int, address: str) -> requests.Response:
            return requests.post(c[node].url + "/api/chats", json={"members": [address]}, timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {alice.token}"})

        addresses = [Account.create().address for _ in range(200)]
        racing.set()
        sender = threading.Thread(target=send_meanwhile)
        sender.start()
        with ThreadPoolExecutor(32) as pool:
            pairs = [(pool.submit(create, 0, a), pool.submit(create, 1, a)) for a in addresses]
            answers = [(first.result(), second.result()) for first, second in pairs]
        racing.clear()
        sender.join(TIMEOUT)

        for (first, second), address in zip(answers, addresses, strict=True):
            assert {first.status_code, second.status_code} == {200, 201}, (first.text, second.text)
            assert first.json()["chat"] == second.json()["chat"]
            assert first.json()["chat"]["members"] == [alice.address, address]  # both EIP-55
        assert sends and all(s["ok"] for s in sends), [s for s in sends if not s["ok"]][:3]
    finally:
        c.stop()


def test_with_postgresql_stopped_health_reads_and_writes_say_unavailable_at_once_and_recover(
        outage, private_pg, peers):
    node = outage[0]
    alice, bob = Wallet().sign_in(node), Wallet().sign_in(node)
    chat = new_chat(node, alice, bob)
    peer = peers(node, alice)
    peer.join(chat["id"])
    private_pg.stop("immediate")
    wait_until(lambda: node.get("/api/health").status_code == 503, what="the node to find the database away")

    health = node.get("/api/health", timeout=QUICK)
    assert (health.status_code, health.json()["status"]) == (503, "unavailable")
    read = node.get(f"/api/chats/{chat['id']}/messages", alice.token, timeout=QUICK)
    assert (read.status_code, read.json()["error"]["code"]) == (503, "unavailable")
    assert node.get("/api/chats", alice.token, timeout=QUICK).json()["error"]["code"] == "unavailable"
    assert peer.sio.call("join", {"chat_id": chat["id"]}, timeout=QUICK)["error"]["code"] == "unavailable"
    send = peer.sio.call("send", {"chat_id": chat["id"], "client_id": "during", "body": "x"}, timeout=QUICK)
    assert send["error"]["code"] == "unavailable"

    private_pg.start()
    wait_until(lambda: node.get("/api/health").status_code == 200, 30, "the node to find the database back")
    assert peer.join(chat["id"])["changes"] == []
    assert peer.send(chat["id"], "after", client_id="after")["ok"]
    assert [m["body"] for m in node.get(f"/api/chats/{chat['id']}/messages", bob.token).json()["messages"]] == [
        "after"]


def test_a_hung_postgresql_is_found_without_waiting_on_it_and_said_once_by_the_reconciler(outage, private_pg, peers):
    node = outage[0]
    alice, bob = Wallet().sign_in(node), Wallet().sign_in(node)
    chat = new_chat(node, alice, bob)
    sent = peers(node, alice).send(chat["id"], "settled after the outage")["message"]  # due in XMTP_GRACE_S
    private_pg.freeze()
    wait_until(lambda: node.get("/api/health", timeout=QUICK).status_code == 503,  # never waiting on it meanwhile
               what="the node to find the database hung")
    assert node.get(f"/api/chats/{chat['id']}", alice.token, timeout=QUICK).json()["error"]["code"] == "unavailable"
    said = "reconcile rounds wait for the store"
    wait_until(lambda: said in node.log(), what="the reconciler to say it waits for the store")

    private_pg.thaw()  # after rounds every RECONCILE_INTERVAL_S (0.2 s) for at least the probe's second
    wait_until(lambda: node.get("/api/health").status_code == 200, 30, "the node to find the database back")
    wait_until(lambda: [(m["id"], m["status"]) for m in node.get(f"/api/chats/{chat['id']}/messages",
                                                                   bob.token).json()["messages"]]
               == [(sent["id"], "confirmed")], 30, "the message to be settled once the store answers")
    log = node.log()
    assert "Traceback" not in log, log
    assert log.count(said) == 1, log


def test_every_pooled_connection_busy_refuses_those_reads_only_never_finds_the_database_away(outage, peers):
    """Reads queued behind a table lock (the test's own transaction) fill the pool: the read left waiting is refused,
    while health, sends and the log never say the database is away."""
    node = outage[0]
    alice, bob = Wallet().sign_in(node), Wallet().sign_in(node)
    chat = new_chat(node, alice, bob)
    peer = peers(node, alice)
    with psycopg.connect(outage.database_url) as locker, ThreadPoolExecutor(12) as pool:
        locker.execute("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")  # reads of history wait, holding connections
        reads = [pool.submit(node.get, f"/api/chats/{chat['id']}/messages", bob.token) for _ in range(12)]
        refused = next(as_completed(reads)).result().json()  # more reads than pooled connections: one is left waiting
        assert refused["error"]["code"] == "unavailable", refused
        assert node.get("/api/health", timeout=QUICK).status_code == 200
        locker.rollback()
        answers = [r.result() for r in reads]
    assert 200 in {a.status_code for a in answers} <= {200, 503}, [a.text for a in answers]
    assert peer.send(chat["id"], "after", client_id="after")["ok"]
    assert node.get("/api/health").status_code == 200
    assert "the database cannot be reached" not in node.log(), node.log()


def test_a_sign_out_with_postgresql_stopped_is_unavailable_at_once_and_works_once_it_is_back(outage, private_pg):
    node = outage[0]
    alice = Wallet().sign_in(node)
    private_pg.stop("immediate")
    wait_until(lambda: node.get("/api/health").status_code == 503, what="the node to find the database away")

    refused = node.post("/api/auth/logout", token=alice.token, timeout=QUICK)
    assert (refused.status_code, refused.json()["error"]["code"]) == (503, "unavailable")

    private_pg.start()
    wait_until(lambda: node.get("/api/health").status_code == 200, 30, "the node to find the database back")
    assert node.post("/api/auth/logout", token=alice.token).status_code == 200
    assert node.get("/api/chats", alice.token).status_code == 401


def test_a_farcaster_event_the_database_could_not_store_is_taken_when_the_client_retries(private_pg, hub: Hub,
                                                                                          tmp_path):
    """The event was noted as accepted (in Redis) before its write failed: noted no more, or the retry is a replay."""
    c = Cluster(tmp_path, 1, {"FARCASTER_HUB_URL": hub.url, "NOTIFY_ALLOW_HOSTS": "127.0.0.1"},
                database_url=private_pg.database()).start()
    try:
        node = c[0]
        body = hub.add(AppKey(1010)).sign(
            {"event": "miniapp_added", "notificationDetails": {"url": "http://127.0.0.1:9/n", "token": "t"}})
        private_pg.stop("immediate")
        wait_until(lambda: node.get("/api/health").status_code == 503, what="the node to find the database away")
        refused = node.post("/api/farcaster/webhook", body, timeout=QUICK)
        assert (refused.status_code, refused.json()["error"]["code"]) == (503, "unavailable"), refused.text

        private_pg.start()
        wait_until(lambda: node.get("/api/health").status_code == 200, 30, "the node to find the database back")
        retried = node.post("/api/farcaster/webhook", body)
        assert retried.status_code == 200, retried.text
        assert c.sql("SELECT token FROM farcaster_tokens WHERE fid = 1010") == [("t",)]
    finally:
        if not private_pg.running():
            private_pg.start()
        c.stop()


def test_sends_racing_another_nodes_idempotency_keys_fail_alone_never_the_batch(tmp_path, peers):
    """Three commits in a row meeting keys another node is committing (here, the test's own transactions): each send
    gets its own answer (the keys were used in another chat: `conflict`), and the batch's other send is stored."""
    import psycopg

    c = Cluster(tmp_path, 1, UNLIMITED).start()
    elsewhere: list[psycopg.Connection] = []
    try:
        alice, carol, dave, erin = Wallet().sign_in(c[0]), Wallet().sign_in(c[0]), Wallet(), Wallet()
        held, chat, other = new_chat(c[0], alice, dave), new_chat(c[0], carol, dave), new_chat(c[0], carol, erin)
        keys = ["k1", "k2", "k3"]
        for i, key in enumerate(keys):  # another node's transactions, holding these keys uncommitted
            conn = psycopg.connect(c.database_url)
            conn.execute("INSERT INTO messages (chat_id, seq, rev, client_id, sender, body, xmtp_bound, status, "
                         "source, sent_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'elsewhere', false, 'confirmed', "
                         "'fallback', 0, 0)", (other["id"], 100 + i, 100 + i, key, carol.address))
            elsewhere.append(conn)
        with psycopg.connect(c.database_url) as locker:  # the node's writer waits on it, so carol's sends queue up
            locker.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (held["id"],))
            first, _ = pipeline(peers(c[0], alice), held["id"], ["first"])
            wait_until(lambda: locker.info.backend_pid in blocking(c), what="the node's writer to wait on the lock")
            done, acks = pipeline(peers(c[0], carol), chat["id"], [*keys, "unrelated"])
            assert c[0].get("/api/health").status_code == 200  # a round trip: the node has read carol's sends
        assert first.wait(TIMEOUT)
        for _ in keys:  # commit whichever the node's next commit waits on, one at a time: a collision each
            blocker = wait_until(lambda: next((conn for conn in elsewhere if not conn.closed
                                               and conn.info.backend_pid in blocking(c)), None),
                                 what="the node's commit to wait on a key held elsewhere")
            blocker.commit()
            blocker.close()
        assert done.wait(TIMEOUT)
        assert {key: ack.get("error", {}).get("code") for key, ack in acks.items()} == {
            "k1": "conflict", "k2": "conflict", "k3": "conflict", "unrelated": None}
        assert acks["unrelated"]["message"]["seq"] == 1
        assert peers(c[0], carol).send(chat["id"], "and the next write is taken")["ok"]
    finally:
        for conn in elsewhere:
            conn.close()
        c.stop()


def test_new_chats_racing_another_nodes_creation_are_that_nodes_chats_and_refuse_nothing_else(tmp_path, peers):
    """The same new DMs being created elsewhere (the test's own transactions) while the node creates them, three
    commits in a row: each creation answers 200 with the chat made elsewhere, and the batch's send is stored."""
    import psycopg

    c = Cluster(tmp_path, 1, UNLIMITED).start()
    elsewhere: list[psycopg.Connection] = []
    try:
        alice, bob, dave = Wallet().sign_in(c[0]), Wallet(), Wallet()
        held, chat = new_chat(c[0], alice, bob), new_chat(c[0], alice, dave)
        others = [Account.create().address for _ in range(3)]
        for address in others:  # another node's transactions, creating the same DMs, uncommitted
            conn = psycopg.connect(c.database_url)
            dm = "dm:" + ":".join(sorted((alice.address.lower(), address.lower())))
            conn.execute("INSERT INTO chats (id, created_by, created_at, activity) "
                         "VALUES (%s, %s, 0, nextval('chat_activity'))", (dm, alice.address))
            conn.execute("INSERT INTO members (chat_id, address) VALUES (%s, %s), (%s, %s)",
                         (dm, alice.address, dm, address))
            elsewhere.append(conn)
        creating = [http.client.HTTPConnection("127.0.0.1", c[0].port, timeout=TIMEOUT) for _ in others]
        with psycopg.connect(c.database_url) as locker:  # the node's writer waits on it, so the rest queue up
            locker.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (held["id"],))
            first, _ = pipeline(peers(c[0], alice), held["id"], ["first"])
            wait_until(lambda: locker.info.backend_pid in blocking(c), what="the node's writer to wait on the lock")
            for conn, address in zip(creating, others, strict=True):
                conn.request("POST", "/api/chats", json.dumps({"members": [address]}),
                             {"Authorization": f"Bearer {alice.token}", "Content-Type": "application/json"})
            done, acks = pipeline(peers(c[0], alice), chat["id"], ["unrelated"])
            assert c[0].get("/api/health").status_code == 200  # a round trip: the node has read the requests
        assert first.wait(TIMEOUT)
        for _ in others:  # commit whichever the node's next commit waits on, one at a time: a collision each
            blocker = wait_until(lambda: next((conn for conn in elsewhere if not conn.closed
                                               and conn.info.backend_pid in blocking(c)), None),
                                 what="the node's commit to wait on a chat created elsewhere")
            blocker.commit()
            blocker.close()
        for conn, address in zip(creating, others, strict=True):
            answer = conn.getresponse()
            body = json.loads(answer.read())
            assert answer.status == 200, body
            assert body["chat"]["members"] == [alice.address, address]
        assert done.wait(TIMEOUT) and acks["unrelated"]["ok"], acks
    finally:
        for conn in elsewhere:
            conn.close()
        c.stop()


def pipeline(peer: Peer, chat_id: str, keys: list[str]) -> tuple[threading.Event, dict[str, dict]]:
    """Send without waiting (one group commit); the acks by client_id, and an event set at the last."""
    acks: dict[str, dict] = {}
    done = threading.Event()

    def on_ack(key: str, ack: dict) -> None:
        acks[key] = ack
        if len(acks) == len(keys):
            done.set()

    for key in keys:
        peer.sio.emit("send", {"chat_id": chat_id, "client_id": key, "body": key},
                      callback=lambda ack, key=key: on_ack(key, ack))
    return done, acks


def blocking(c: Cluster) -> set[int]:
    """The backends that some backend of this database waits on for a lock."""
    return {pid for (pid,) in c.sql("SELECT DISTINCT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity "
                                    "WHERE datname = current_database()")}
