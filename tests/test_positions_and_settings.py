"""Read and delivered positions, settings and the Chat as its caller sees it (contract v1.2), over REST and sockets."""
from __future__ import annotations

from dataclasses import replace

import pytest

from optimistic_messaging.models import PositionMoved
from optimistic_messaging.receipts import receipt, to_chat
from support import Wallet, new_chat

SETTINGS = {"read_receipts": True, "push_previews": True}
VIEW_FIELDS = {"last_message", "read_seq", "delivered_seq", "unread"}


def mark(peer, chat_id, **positions):
    return peer.call("mark", {"chat_id": chat_id, **positions})


def chat_of(server, wallet, chat_id):
    return server.get(f"/api/chats/{chat_id}", wallet.token).json()["chat"]


def test_a_mark_moves_the_callers_positions_forward_only_clamped_and_acks_both(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    sender = peers(server, bob)
    for body in ("one", "two", "three"):
        assert sender.send(chat["id"], body)["ok"]
    reader = peers(server, alice)  # membership, not a join, authorises a mark
    assert mark(reader, chat["id"], delivered_seq=2) == {"ok": True, "read_seq": 0, "delivered_seq": 2}
    assert mark(reader, chat["id"], read_seq=1) == {"ok": True, "read_seq": 1, "delivered_seq": 2}
    assert mark(reader, chat["id"], read_seq=0, delivered_seq=1) == {"ok": True, "read_seq": 1, "delivered_seq": 2}
    assert mark(reader, chat["id"], read_seq=10**6) == {"ok": True, "read_seq": 3, "delivered_seq": 3}
    seen = chat_of(server, alice, chat["id"])
    assert (seen["read_seq"], seen["delivered_seq"], seen["unread"]) == (3, 3, 0)


@pytest.mark.parametrize("payload", [
    {},
    {"read_seq": -1},
    {"delivered_seq": 1.5},
    {"read_seq": True},
    {"read_seq": "1"},
    {"chat_id": "bad id!", "read_seq": 1},
])
def test_a_malformed_mark_is_invalid(server, wallets, peers, payload):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ack = peers(server, alice).call("mark", {"chat_id": chat["id"], **payload})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid", ack
    assert chat_of(server, alice, chat["id"])["delivered_seq"] == 0


def test_a_mark_by_a_non_member_is_forbidden_and_of_no_chat_not_found(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = new_chat(server, alice, bob)
    outsider = peers(server, carol)
    assert mark(outsider, chat["id"], read_seq=1)["error"]["code"] == "forbidden"
    assert mark(outsider, "no-such-chat", read_seq=1)["error"]["code"] == "not_found"


def test_the_chat_carries_the_callers_last_message_positions_and_unread_in_every_answer(server, wallets, peers):
    alice, bob, carol, dave = wallets(4)
    created = server.post("/api/chats", {"members": [bob.address]}, alice.token).json()["chat"]
    assert {k: created[k] for k in VIEW_FIELDS} == {"last_message": None, "read_seq": 0, "delivered_seq": 0,
                                                     "unread": 0}
    bobs = peers(server, bob)
    sent = [bobs.send(created["id"], f"m{i}")["message"] for i in range(3)]
    group = new_chat(server, alice, bob, carol)
    listed = {c["id"]: c for c in server.get("/api/chats", alice.token).json()["chats"]}
    assert listed[created["id"]]["last_message"] == sent[-1] and listed[created["id"]]["unread"] == 3
    assert group["unread"] == 0 and listed[group["id"]]["last_message"] is None
    assert chat_of(server, bob, created["id"])["unread"] == 0, "a send moves its sender's positions: never unread"
    alices = peers(server, alice)
    mark(alices, created["id"], read_seq=1)
    joined = alices.join(created["id"])["chat"]
    assert (joined["read_seq"], joined["unread"], joined["last_message"]["id"]) == (1, 2, sent[-1]["id"])
    added = server.post(f"/api/chats/{group['id']}/members", {"members": [dave.address]}, alice.token).json()
    assert set(VIEW_FIELDS) <= set(added["chat"])
    removed = server.request("DELETE", f"/api/chats/{group['id']}/members/{dave.address}", alice.token).json()
    assert set(VIEW_FIELDS) <= set(removed["chat"])


def test_a_member_added_later_starts_at_last_seq_and_sees_no_earlier_last_message(server, wallets, peers):
    alice, bob, carol, dave = wallets(4)
    group = new_chat(server, alice, bob, dave)
    alices = peers(server, alice)
    alices.send(group["id"], "before carol")
    alices.send(group["id"], "before carol too")
    added = server.post(f"/api/chats/{group['id']}/members", {"members": [carol.address]}, alice.token)
    seen = chat_of(server, carol, group["id"])
    assert (seen["last_message"], seen["read_seq"], seen["delivered_seq"], seen["unread"]) == (None, 2, 2, 0)
    assert seen["last_seq"] == 2 and added.json()["chat"]["last_message"]["body"] == "before carol too"
    carols = peers(server, carol)
    assert mark(carols, group["id"], read_seq=1) == {"ok": True, "read_seq": 2, "delivered_seq": 2}
    alices.send(group["id"], "after")
    seen = chat_of(server, carol, group["id"])
    assert seen["last_message"]["body"] == "after" and seen["unread"] == 1
    mark(peers(server, bob), group["id"], read_seq=1)
    receipts = {r["address"]: (r["read_seq"], r["delivered_seq"]) for r in carols.join(group["id"])["receipts"]}
    assert receipts[bob.address] == (2, 2), "positions below where carol began read as where she began"
    assert receipts[alice.address] == (3, 3)


def test_join_acks_the_positions_of_members_who_share_and_marked_and_the_callers(server, wallets, peers):
    alice, bob, carol = wallets(3)
    group = new_chat(server, alice, bob, carol)
    alices, bobs, carols = peers(server, alice), peers(server, bob), peers(server, carol)
    alices.send(group["id"], "hi")
    mark(bobs, group["id"], read_seq=1)
    assert server.request("PUT", "/api/me/settings", carol.token, json={"read_receipts": False}).status_code == 200
    mark(carols, group["id"], delivered_seq=1)
    receipts = {r["address"]: (r["read_seq"], r["delivered_seq"]) for r in alices.join(group["id"])["receipts"]}
    assert receipts == {alice.address: (1, 1), bob.address: (1, 1)}, "carol shares none; her own she sees"
    assert {r["address"]: r["read_seq"] for r in carols.join(group["id"])["receipts"]} == {
        alice.address: 1, bob.address: 1, carol.address: 0}
    assert chat_of(server, carol, group["id"])["delivered_seq"] == 1, "her own positions still work"


def test_settings_default_change_what_a_put_names_and_refuse_what_is_not_one(server, wallets):
    alice, bob = wallets(2)
    assert server.get("/api/me/settings", alice.token).json() == {"settings": SETTINGS}
    put = server.request("PUT", "/api/me/settings", alice.token, json={"push_previews": False})
    assert put.status_code == 200 and put.json() == {"settings": {**SETTINGS, "push_previews": False}}
    for bad in ({"read_receipts": "no"}, {"colour": "blue"}, {"read_receipts": None}, [True]):
        r = server.request("PUT", "/api/me/settings", alice.token, json=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid", bad
    assert server.get("/api/me/settings", alice.token).json()["settings"]["push_previews"] is False
    assert server.get("/api/me/settings", bob.token).json() == {"settings": SETTINGS}
    assert server.get("/api/me/settings").status_code == 401


def test_positions_and_settings_survive_a_restart(make_server, peers):
    server = make_server()
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    bobs = peers(server, bob)
    bobs.send(chat["id"], "one")
    bobs.send(chat["id"], "two")
    mark(peers(server, alice), chat["id"], read_seq=1, delivered_seq=2)
    server.request("PUT", "/api/me/settings", alice.token, json={"read_receipts": False})
    server.kill()
    server.start()
    seen = chat_of(server, alice, chat["id"])
    assert (seen["read_seq"], seen["delivered_seq"], seen["unread"]) == (1, 2, 1)
    assert server.get("/api/me/settings", alice.token).json()["settings"]["read_receipts"] is False


def test_a_mark_spends_the_per_address_event_budget(make_server, peers):
    server = make_server({"EVENT_RATE_PER_S": "0.01", "EVENT_RATE_BURST": "2"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    marker = peers(server, alice)
    acks = [mark(marker, chat["id"], delivered_seq=0) for _ in range(3)]
    assert [a["ok"] for a in acks[:2]] == [True, True] and acks[2]["error"]["code"] == "rate_limited"


def test_a_settings_put_spends_the_event_budget(make_server):
    server = make_server({"EVENT_RATE_PER_S": "0.01", "EVENT_RATE_BURST": "2"})
    alice = Wallet().sign_in(server)
    puts = [server.request("PUT", "/api/me/settings", alice.token, json={"read_receipts": flag})
            for flag in (False, True, True)]
    assert [p.status_code for p in puts[:2]] == [200, 200]
    assert puts[2].status_code == 429 and puts[2].json()["error"]["code"] == "rate_limited"


@pytest.mark.jsonl
def test_a_settings_put_that_changes_nothing_writes_nothing(server, wallets):
    alice, = wallets(1)
    size = server.data_file.stat().st_size
    for body in ({"read_receipts": True}, {}, {"push_previews": True}):
        assert server.request("PUT", "/api/me/settings", alice.token, json=body).status_code == 200
    assert server.data_file.stat().st_size == size
    assert server.request("PUT", "/api/me/settings", alice.token, json={"push_previews": False}).status_code == 200
    assert server.data_file.stat().st_size > size


def test_a_receipt_goes_to_the_chat_only_from_a_member_who_shares_in_a_chat_of_at_most_32():
    moved = PositionMoved("c", "0x" + "a" * 40, 3, 4, shares=True, members=32)
    assert to_chat(moved) and receipt(moved) == {"chat_id": "c", "address": moved.address, "read_seq": 3,
                                                 "delivered_seq": 4}
    assert not to_chat(replace(moved, members=33)) and not to_chat(replace(moved, shares=False))


def test_a_deleted_message_is_not_unread(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    bobs = peers(server, bob)
    sent = [bobs.send(chat["id"], f"m{i}")["message"] for i in range(3)]
    assert bobs.call("delete", {"chat_id": chat["id"], "message_id": sent[1]["id"]})["ok"]
    assert chat_of(server, alice, chat["id"])["unread"] == 2
    assert bobs.call("delete", {"chat_id": chat["id"], "message_id": sent[2]["id"]})["ok"]
    seen = chat_of(server, alice, chat["id"])
    assert (seen["unread"], seen["last_message"]["deleted"]) == (1, True)
