"""`python -m optimistic_messaging.migrate FILE`: a JSON-lines log moves into PostgreSQL whole, and only once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from optimistic_messaging.broker.notify import announce
from optimistic_messaging.models import FarcasterToken
from optimistic_messaging.store.jsonl import JsonlStore
from optimistic_messaging.store.postgres import PgStore

from support import ROOT, FakeClock, Peer, Server, Wallet, fresh_database, new_chat

pytestmark = pytest.mark.jsonl  # it reads a log the JSON-lines store wrote


def migrate(log: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "optimistic_messaging.migrate", str(log)], cwd=ROOT / "backend",
                          env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=120)


def everything(server: Server, token: str) -> dict:
    """All a member sees of its chats: each chat and its whole history, by chat id, and the order of the list."""
    chats = server.get("/api/chats", token).json()["chats"]
    return {"order": [c["id"] for c in chats],
            **{c["id"]: (c, server.get(f"/api/chats/{c['id']}/messages?limit=200", token).json()["messages"])
               for c in chats}}


@pytest.fixture
def a_log(make_server, tmp_path):
    """A log with a DM, a group someone left, a payment claim, an attested copy and settled messages."""
    server = make_server({"XMTP_GRACE_S": "1", "RATE_PER_S": "1000", "RATE_BURST": "1000"})
    alice, bob, carol = Wallet().sign_in(server), Wallet().sign_in(server), Wallet().sign_in(server)
    dm = new_chat(server, alice, bob)
    group = server.post("/api/chats", {"members": [bob.address, carol.address], "title": "trio"}, alice.token).json()
    a = Peer(server, alice.token)
    a.join(dm["id"])
    for i in range(5):
        a.send(dm["id"], f"dm {i}", client_id=f"dm{i}")
    settled = a.send(dm["id"], "settles", client_id="settles")["message"]
    assert a.settled(settled["id"])["status"] == "confirmed"
    a.send(group["chat"]["id"], "pay", client_id="pay", tx={"chain_id": 42220, "hash": "0x" + "ab" * 32,
                                                            "to": bob.address, "value": "5", "token": None})
    sent = a.send(group["chat"]["id"], "attested", client_id="att")["message"]
    a.call("attest", {"chat_id": group["chat"]["id"], "message_id": sent["id"], "xmtp_id": "xmtp-1"})
    server.request("DELETE", f"/api/chats/{group['chat']['id']}/members/{carol.address}", carol.token)
    a.close()
    b = Peer(server, bob.token)
    assert b.call("mark", {"chat_id": dm["id"], "read_seq": 2, "delivered_seq": 4})["ok"]
    b.close()
    server.request("PUT", "/api/me/settings", bob.token, json={"read_receipts": False})
    signed_out = Wallet(alice.account).sign_in(server).token
    assert server.post("/api/auth/logout", token=signed_out).status_code == 200
    before = everything(server, alice.token)
    server.stop()
    secret = (server.data_file.parent / (server.data_file.name + ".secret")).read_text().strip()
    return {"server": server, "alice": alice, "bob": bob, "before": before, "secret": secret, "dm": dm["id"],
            "group": group["chat"]["id"], "signed_out": signed_out}


def on_postgres(make_server, a_log, database_url: str) -> Server:
    return make_server({"DATABASE_URL": database_url, "SECRET_KEY": a_log["secret"]})


def test_a_log_comes_into_postgresql_with_everything_a_node_serves(make_server, a_log):
    url = fresh_database()
    run = migrate(a_log["server"].data_file, url)
    assert run.returncode == 0, run.stderr
    assert "imported 2 chats, 8 messages" in run.stdout
    node = on_postgres(make_server, a_log, url)
    alice = a_log["alice"]  # the same token: the same SECRET_KEY signs it
    after = everything(node, alice.token)
    assert after == a_log["before"]
    assert node.get("/api/chats", a_log["signed_out"]).status_code == 401, "a sign-out comes along"
    bobs = node.get(f"/api/chats/{a_log['dm']}", a_log["bob"].token).json()["chat"]
    assert (bobs["read_seq"], bobs["delivered_seq"], bobs["unread"]) == (2, 4, 4), "positions come along"
    assert node.get("/api/me/settings", a_log["bob"].token).json()["settings"]["read_receipts"] is False
    repeat = Peer(node, alice.token)
    assert repeat.send(a_log["dm"], "a repeat", client_id="dm3")["message"] == a_log["before"][a_log["dm"]][1][3]
    assert repeat.send(a_log["dm"], "new")["message"]["seq"] == 7, "the sequence goes on where the log left it"
    repeat.close()


def test_migrating_again_imports_nothing_twice_and_never_rolls_a_chat_back(make_server, a_log):
    url = fresh_database()
    assert migrate(a_log["server"].data_file, url).returncode == 0
    node = on_postgres(make_server, a_log, url)
    peer = Peer(node, a_log["alice"].token)
    peer.send(a_log["dm"], "written in postgres")
    peer.close()
    moved_on = node.get(f"/api/chats/{a_log['dm']}", a_log["alice"].token).json()["chat"]
    node.stop()
    again = migrate(a_log["server"].data_file, url)
    assert again.returncode == 0 and "imported 0 chats, 0 messages and 0 later changes" in again.stdout
    node.start()
    assert node.get(f"/api/chats/{a_log['dm']}", a_log["alice"].token).json()["chat"] == moved_on


def test_what_the_log_gained_since_comes_in_and_a_chat_written_in_both_is_named(make_server, a_log):
    url = fresh_database()
    assert migrate(a_log["server"].data_file, url).returncode == 0
    node = on_postgres(make_server, a_log, url)
    in_postgres = Peer(node, a_log["alice"].token)
    in_postgres.send(a_log["dm"], "the dm moved on in postgres")
    in_postgres.close()
    node.stop()
    old = a_log["server"]
    old.start()  # the old server took more messages after the first import
    in_log = Peer(old, a_log["alice"].token)
    in_log.send(a_log["group"], "later, in the log")
    in_log.send(a_log["dm"], "later, in the log too")
    in_log.close()
    old.stop()
    run = migrate(old.data_file, url)
    assert run.returncode == 0 and "imported 0 chats, 1 messages" in run.stdout
    assert a_log["dm"] in run.stderr, "the chat both wrote to is named, and left as the database has it"
    node.start()
    group = node.get(f"/api/chats/{a_log['group']}/messages", a_log["alice"].token).json()["messages"]
    assert group[-1]["body"] == "later, in the log"
    dm = node.get(f"/api/chats/{a_log['dm']}/messages", a_log["alice"].token).json()["messages"]
    assert dm[-1]["body"] == "the dm moved on in postgres"


def test_migrate_needs_a_database_url_and_a_log(tmp_path):
    run = subprocess.run([sys.executable, "-m", "optimistic_messaging.migrate", str(tmp_path / "none.json")],
                         cwd=ROOT / "backend", env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "DATABASE_URL" in run.stderr


def test_where_members_views_begin_and_erased_ids_counters_come_along(make_server, tmp_path):
    server = make_server({"RATE_PER_S": "1000", "RATE_BURST": "1000"})
    alice, bob, carol = Wallet().sign_in(server), Wallet().sign_in(server), Wallet().sign_in(server)
    group = new_chat(server, alice, bob, Wallet())["id"]
    erased = "e7a5ed" + alice.address[2:12].lower()
    assert server.post("/api/chats", {"members": [bob.address], "id": erased}, alice.token).status_code == 201
    a = Peer(server, alice.token)
    for chat_id in (group, erased):
        a.send(chat_id, "before")
        a.send(chat_id, "before, too")
    a.close()
    assert server.post(f"/api/chats/{group}/members", {"members": [carol.address]}, alice.token).status_code == 200
    for who in (bob, alice):
        assert server.request("DELETE", f"/api/chats/{erased}/members/{who.address}", who.token).status_code == 200
    server.stop()
    secret = (server.data_file.parent / (server.data_file.name + ".secret")).read_text().strip()
    url = fresh_database()
    assert migrate(server.data_file, url).returncode == 0
    pg = make_server({"DATABASE_URL": url, "SECRET_KEY": secret})
    assert pg.get(f"/api/chats/{group}/messages", carol.token).json()["messages"] == []
    assert len(pg.get(f"/api/chats/{group}/messages", bob.token).json()["messages"]) == 2
    again = pg.post("/api/chats", {"members": [], "id": erased}, carol.token)
    assert again.status_code == 201 and again.json()["chat"]["last_seq"] == 2


def test_a_chat_erased_in_the_log_after_an_import_is_erased_by_the_next_and_its_id_starts_again(make_server):
    server = make_server({"RATE_PER_S": "1000", "RATE_BURST": "1000"})
    alice, bob, carol, dave = (Wallet().sign_in(server) for _ in range(4))
    again, gone = ("e7a5ed" + prefix + alice.address[2:12].lower() for prefix in ("a0", "b0"))
    for chat_id in (again, gone):
        assert server.post("/api/chats", {"members": [bob.address], "id": chat_id}, alice.token).status_code == 201
    a = Peer(server, alice.token)
    for chat_id in (again, gone):
        a.send(chat_id, "secret of the first chat")
        a.send(chat_id, "another secret")
    a.close()
    old = server.get(f"/api/chats/{again}", alice.token).json()["chat"]
    server.stop()
    secret = (server.data_file.parent / (server.data_file.name + ".secret")).read_text().strip()
    url = fresh_database()
    assert migrate(server.data_file, url).returncode == 0
    server.start()  # the log goes on: both chats erased as their last members leave, one registered again by others
    for chat_id in (again, gone):
        for who in (bob, alice):
            assert server.request("DELETE", f"/api/chats/{chat_id}/members/{who.address}", who.token).status_code == 200
    assert server.post("/api/chats", {"members": [dave.address], "id": again}, carol.token).status_code == 201
    c = Peer(server, carol.token)
    first = c.send(again, "the new chat")["message"]
    c.close()
    server.stop()
    run = migrate(server.data_file, url)
    assert run.returncode == 0 and "erased 2 chats" in run.stdout, run.stdout + run.stderr
    pg = make_server({"DATABASE_URL": url, "SECRET_KEY": secret})
    chat = pg.get(f"/api/chats/{again}", carol.token).json()["chat"]
    assert chat["members"] == [carol.address, dave.address] and chat["last_seq"] == first["seq"] > old["last_seq"]
    assert chat["rev"] == first["rev"] > old["rev"]
    assert [m["body"] for m in pg.get(f"/api/chats/{again}/messages?after=0", dave.token).json()["messages"]] == [
        "the new chat"]
    for who in (alice, bob):
        assert pg.get(f"/api/chats/{again}", who.token).status_code == 403, "the old members are not members"
        assert pg.get(f"/api/chats/{gone}", who.token).status_code == 404
        assert pg.get("/api/chats", who.token).json()["chats"] == []
    with psycopg.connect(url) as conn:
        left = conn.execute("SELECT count(*) FROM messages WHERE body LIKE '%secret%'").fetchone()
    assert left == (0,), "no trace of the erased chats"
    p = Peer(pg, carol.token)
    assert p.send(again, "and on")["message"]["seq"] == first["seq"] + 1
    p.close()


def test_replies_reactions_with_every_reactor_and_deletions_come_along(make_server):
    server = make_server({"RATE_PER_S": "1000", "RATE_BURST": "1000"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)["id"]
    a, b = Peer(server, alice.token), Peer(server, bob.token)
    first = a.send(chat, "first")["message"]
    reply = a.send(chat, "a reply", reply_to=first["id"])["message"]
    for peer in (a, b):
        assert peer.call("react", {"chat_id": chat, "message_id": reply["id"], "emoji": "👍", "action": "added"})["ok"]
    assert a.call("delete", {"chat_id": chat, "message_id": first["id"]})["ok"]
    a.close()
    b.close()
    before = everything(server, alice.token)
    server.stop()
    secret = (server.data_file.parent / (server.data_file.name + ".secret")).read_text().strip()
    url = fresh_database()
    assert migrate(server.data_file, url).returncode == 0
    node = make_server({"DATABASE_URL": url, "SECRET_KEY": secret})
    assert everything(node, alice.token) == before
    b = Peer(node, bob.token)  # every reactor came along: a removal counts right
    left = b.call("react", {"chat_id": chat, "message_id": reply["id"], "emoji": "👍", "action": "removed"})
    assert left["message"]["reactions"] == {"👍": [alice.address]} and left["message"]["reaction_counts"] == {"👍": 1}
    b.close()


def test_rows_from_before_v1_2_load_as_not_replied_not_reacted_not_deleted():
    from optimistic_messaging.clock import SYSTEM_CLOCK
    from optimistic_messaging.broker.notify import announce
    from optimistic_messaging.store.postgres import PgStore
    from optimistic_messaging.store.postgres.schema import MIGRATIONS

    url = fresh_database()
    with psycopg.connect(url, autocommit=True) as conn:  # the schema as the last server before v1.2 left it
        conn.execute("CREATE TABLE om_schema (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        for version, migration in enumerate(MIGRATIONS[:4], 1):
            conn.execute(migration)
            conn.execute("INSERT INTO om_schema (version) VALUES (%s)", (version,))
        conn.execute("INSERT INTO chats (id, created_by, created_at, last_seq, rev, activity) "
                     "VALUES ('c', '0xA', 1, 1, 1, nextval('chat_activity'))")
        conn.execute("INSERT INTO messages (chat_id, seq, rev, client_id, sender, body, xmtp_bound, status, source, "
                     "sent_at, updated_at) VALUES ('c', 1, 1, 'k', '0xA', 'old', false, 'provisional', 'fallback', 1, 1)")
    store = PgStore(url, SYSTEM_CLOCK, announce("old-rows"))
    store.start()
    try:
        m = store.message("c/1")
        assert (m.body, m.reply_to, m.reactions, m.reaction_counts, m.deleted) == ("old", None, {}, {}, False)
    finally:
        store.close()


def test_farcaster_tokens_and_links_come_along_and_those_the_database_has_stand(tmp_path):
    key_1, key_2, alice, bob = "0x" + "1" * 64, "0x" + "2" * 64, "0x" + "a" * 40, "0x" + "b" * 40
    log = JsonlStore(tmp_path / "messages.json")
    log.start()
    log.put_farcaster_token(FarcasterToken(7, key_1, "https://a.example/n", "from the log"))
    log.put_farcaster_token(FarcasterToken(7, key_2, "https://a.example/n", "log, older"))
    log.link_farcaster(alice, 7)
    log.link_farcaster(bob, 8)
    log.close()
    url = fresh_database()
    db = PgStore(url, FakeClock(), announce("test"))
    db.start()
    db.put_farcaster_token(FarcasterToken(7, key_2, "https://a.example/n", "database, newer"))
    db.link_farcaster(bob, 9)
    assert migrate(tmp_path / "messages.json", url).returncode == 0
    assert [t.token for t in db.farcaster_tokens(7)] == ["from the log", "database, newer"]
    assert (db.farcaster_fid(alice), db.farcaster_fid(bob)) == (7, 9)
    db.close()
