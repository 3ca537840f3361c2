"""Socket.IO messaging as PROTOCOL.md specifies it: join, send, order, idempotency, sync, isolation."""
from __future__ import annotations

import threading
import uuid

import pytest

from support import TIMEOUT, new_chat, refusal

MESSAGE_FIELDS = {"id", "chat_id", "seq", "rev", "client_id", "sender", "body", "tx", "xmtp_id", "xmtp_bound",
                  "status", "source", "reason", "original", "sent_at", "updated_at",
                  "reply_to", "reactions", "reaction_counts", "deleted"}  # v1.2


def test_connect_without_token_is_refused(server):
    assert refusal(server, None) == {"message": "unauthorized"}


def test_connect_with_forged_token_is_refused(server):
    assert refusal(server, "not-a-token") == {"message": "unauthorized"}


def test_send_is_acked_with_a_provisional_message_from_the_signed_in_address(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ack = peers(server, alice).send(chat["id"], "gm", client_id="c-1")
    assert ack["ok"] is True
    message = ack["message"]
    assert set(message) == MESSAGE_FIELDS
    assert message["sender"] == alice.address
    assert (message["chat_id"], message["seq"], message["body"], message["client_id"]) == (chat["id"], 1, "gm", "c-1")
    assert (message["status"], message["source"], message["xmtp_bound"]) == ("provisional", "fallback", False)
    assert message["tx"] is None and message["reason"] is None and message["original"] is None
    assert (message["reply_to"], message["reactions"], message["reaction_counts"], message["deleted"]) == (
        None, {}, {}, False)


def test_sender_in_the_payload_is_ignored(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ack = peers(server, alice).send(chat["id"], "hi", sender=bob.address)
    assert ack["message"]["sender"] == alice.address


def test_message_reaches_every_joined_socket_including_the_senders(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    a.join(chat["id"])
    b.join(chat["id"])
    sent = a.send(chat["id"], "to everyone")["message"]
    assert b.wait("message", lambda m: m["id"] == sent["id"]) == sent
    assert a.wait("message", lambda m: m["id"] == sent["id"]) == sent


def test_idempotent_send_returns_the_first_message_and_broadcasts_once(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    first = a.send(chat["id"], "once", client_id="same")["message"]
    again = a.send(chat["id"], "different text", client_id="same")["message"]
    marker = a.send(chat["id"], "after")["message"]
    b.wait("message", lambda m: m["id"] == marker["id"])
    assert again == first
    assert [m["body"] for m in b.received("message")] == ["once", "after"]


def test_same_client_id_from_two_senders_makes_two_messages(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    m1 = peers(server, alice).send(chat["id"], client_id="shared")["message"]
    m2 = peers(server, bob).send(chat["id"], client_id="shared")["message"]
    assert m1["id"] != m2["id"] and (m1["seq"], m2["seq"]) == (1, 2)


def test_pipelined_sends_get_gapless_seq_in_ack_order_and_arrive_in_seq_order(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    acks: list[dict] = []
    done = threading.Event()
    n = 200

    def on_ack(ack: dict) -> None:
        acks.append(ack)
        if len(acks) == n:
            done.set()

    for i in range(n):
        a.sio.emit("send", {"chat_id": chat["id"], "client_id": f"p{i}", "body": str(i)}, callback=on_ack)
    assert done.wait(TIMEOUT)
    assert all(ack["ok"] for ack in acks)
    assert [ack["message"]["seq"] for ack in acks] == list(range(1, n + 1))
    b.wait("message", lambda m: m["seq"] == n)
    assert [m["seq"] for m in b.received("message")] == list(range(1, n + 1))
    assert [m["body"] for m in b.received("message")] == [str(i) for i in range(n)]


def test_concurrent_senders_share_one_gapless_sequence(server, wallets, peers):
    users = wallets(4)
    chat = new_chat(server, users[0], *users[1:])
    sockets = [peers(server, w) for w in users]
    watcher = sockets[0]
    watcher.join(chat["id"])
    acked = threading.Semaphore(0)
    for i in range(25):
        for s in sockets:
            s.sio.emit("send", {"chat_id": chat["id"], "client_id": f"c{i}", "body": "x"}, callback=lambda _: acked.release())
    for _ in range(100):
        assert acked.acquire(timeout=TIMEOUT)
    watcher.wait("message", lambda m: m["seq"] == 100)
    assert sorted(m["seq"] for m in watcher.received("message")) == list(range(1, 101))
    assert [m["seq"] for m in watcher.received("message")] == list(range(1, 101))


def test_join_without_since_rev_returns_the_latest_fifty_ascending(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    for i in range(55):
        a.send(chat["id"], str(i))
    ack = peers(server, bob).join(chat["id"])
    assert [m["seq"] for m in ack["changes"]] == list(range(6, 56))
    assert ack["has_more"] is True
    assert ack["chat"]["last_seq"] == 55 and ack["chat"]["rev"] == 55


def test_join_with_since_rev_returns_every_change_after_it_in_rev_order(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    sent = [a.send(chat["id"], str(i))["message"] for i in range(5)]
    a.call("attest", {"chat_id": chat["id"], "message_id": sent[1]["id"], "xmtp_id": "x-1"})
    ack = peers(server, bob).join(chat["id"], since_rev=3)
    # The attested message may have been settled since (rev 7): its latest change is what counts, at its latest rev.
    assert [(m["seq"], m["rev"]) for m in ack["changes"][:2]] == [(4, 4), (5, 5)]
    last = ack["changes"][2:]
    assert [(m["seq"], m["xmtp_id"]) for m in last] == [(2, "x-1")] and last[0]["rev"] in (6, 7)
    assert last[0]["rev"] == ack["chat"]["rev"] and ack["has_more"] is False


def test_a_client_rejoining_with_its_highest_rev_misses_nothing(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    b = peers(server, bob)
    seen = b.join(chat["id"])["chat"]["rev"]
    a.send(chat["id"], "while online")
    seen = max(seen, b.wait("message")["rev"])
    b.close()
    missed = [a.send(chat["id"], f"while away {i}")["message"] for i in range(3)]
    ack = peers(server, bob).join(chat["id"], since_rev=seen)
    assert ack["changes"] == missed


def test_join_caps_changes_at_500_with_has_more(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    done = threading.Semaphore(0)
    for i in range(520):
        a.sio.emit("send", {"chat_id": chat["id"], "client_id": f"m{i}", "body": "x"}, callback=lambda _: done.release())
    for _ in range(520):
        assert done.acquire(timeout=TIMEOUT)
    ack = peers(server, bob).join(chat["id"], since_rev=0)
    assert len(ack["changes"]) == 500 and ack["has_more"] is True
    assert ack["changes"][-1]["rev"] == 500
    rest = server.get(f"/api/chats/{chat['id']}/changes?since_rev=500", bob.token).json()
    assert [m["rev"] for m in rest["changes"]] == list(range(501, 521)) and rest["has_more"] is False


def test_events_reach_only_sockets_that_joined_that_chat(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat1 = new_chat(server, alice, bob)
    chat2 = new_chat(server, alice, carol)
    a, b, c = peers(server, alice), peers(server, bob), peers(server, carol)
    b.join(chat1["id"])
    c.join(chat2["id"])
    a.send(chat1["id"], "for bob")
    last = a.send(chat2["id"], "for carol")["message"]
    c.wait("message", lambda m: m["id"] == last["id"])
    assert [m["body"] for m in c.received("message")] == ["for carol"]
    b.wait("message")
    assert [m["body"] for m in b.received("message")] == ["for bob"]


def test_outsider_can_neither_join_nor_send_nor_type(server, wallets, peers):
    alice, bob, mallory = wallets(3)
    chat = new_chat(server, alice, bob)
    m = peers(server, mallory)
    for event, payload in [("join", {"chat_id": chat["id"]}),
                           ("send", {"chat_id": chat["id"], "client_id": "x", "body": "spam"}),
                           ("typing", {"chat_id": chat["id"], "typing": True})]:
        ack = m.call(event, payload)
        assert ack == {"ok": False, "error": {"code": "forbidden", "message": ack["error"]["message"]}}
    assert server.get(f"/api/chats/{chat['id']}/messages", alice.token).json()["messages"] == []


def test_send_to_unknown_chat_is_not_found(server, wallets, peers):
    (alice,) = wallets(1)
    ack = peers(server, alice).send("no-such-chat")
    assert ack["error"]["code"] == "not_found"


@pytest.mark.parametrize("payload, field", [
    ("not an object", "payload"),
    ({"client_id": "c", "body": "x"}, "chat_id"),
    ({"chat_id": "bad id!", "client_id": "c", "body": "x"}, "chat_id"),
    ({"chat_id": "CHAT", "body": "x"}, "client_id"),
    ({"chat_id": "CHAT", "client_id": "a b", "body": "x"}, "client_id"),
    ({"chat_id": "CHAT", "client_id": "c", "body": ""}, "body"),
    ({"chat_id": "CHAT", "client_id": "c", "body": 5}, "body"),
    ({"chat_id": "CHAT", "client_id": "c", "body": "x", "tx": "0xabc"}, "tx"),
    ({"chat_id": "CHAT", "client_id": "c", "body": "x", "xmtp_id": 7}, "xmtp_id"),
])
def test_malformed_send_is_invalid_naming_the_field_and_stores_nothing(server, wallets, peers, payload, field):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    if isinstance(payload, dict):
        payload = {k: chat["id"] if v == "CHAT" else v for k, v in payload.items()}
    ack = peers(server, alice).call("send", payload)
    assert ack["ok"] is False and ack["error"]["code"] == "invalid"
    assert field in ack["error"]["message"]
    assert server.get(f"/api/chats/{chat['id']}", alice.token).json()["chat"]["last_seq"] == 0


def test_body_over_the_limit_is_too_large(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    assert a.send(chat["id"], "x" * 4000)["ok"] is True
    ack = a.send(chat["id"], "x" * 4001)
    assert ack["error"]["code"] == "too_large" and "4000" in ack["error"]["message"]


def test_tx_on_another_chain_is_invalid(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    tx = {"chain_id": 1, "hash": "0x" + "ab" * 32, "to": bob.address, "value": "1", "token": None}
    ack = peers(server, alice).send(chat["id"], "paid", tx=tx)
    assert ack["error"]["code"] == "invalid" and "chain" in ack["error"]["message"]


def test_tx_claim_is_stored_normalised(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    tx = {"chain_id": 42220, "hash": "0x" + "AB" * 32, "to": bob.address.lower(), "value": "5000000", "token": None}
    message = peers(server, alice).send(chat["id"], "sent you 5", tx=tx)["message"]
    assert message["tx"] == {**tx, "hash": "0x" + "ab" * 32, "to": bob.address}


def test_unknown_event_is_answered_invalid(server, wallets, peers):
    (alice,) = wallets(1)
    ack = peers(server, alice).call("frobnicate", {"x": 1})
    assert ack["error"]["code"] == "invalid" and "frobnicate" in ack["error"]["message"]


def test_attest_records_the_xmtp_id_and_broadcasts_an_update(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    sent = a.send(chat["id"], "hello")["message"]
    ack = a.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": "xmtp-123"})
    assert ack["ok"] and ack["message"]["xmtp_id"] == "xmtp-123" and ack["message"]["rev"] == sent["rev"] + 1
    assert b.wait("message:update") == ack["message"]


def test_attest_by_someone_other_than_the_sender_is_forbidden(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    sent = peers(server, alice).send(chat["id"], "mine")["message"]
    ack = peers(server, bob).call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": "x"})
    assert ack["error"]["code"] == "forbidden"


def test_attest_of_unknown_message_is_not_found(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ack = peers(server, alice).call("attest", {"chat_id": chat["id"], "message_id": chat["id"] + "/9", "xmtp_id": "x"})
    assert ack["error"]["code"] == "not_found"


def test_leave_stops_events_for_that_socket(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    assert b.call("leave", {"chat_id": chat["id"]}) == {"ok": True}
    a.send(chat["id"], "unheard")
    b2 = peers(server, bob)
    b2.join(chat["id"])
    last = a.send(chat["id"], "heard")["message"]
    b2.wait("message", lambda m: m["id"] == last["id"])
    assert b.received("message") == []


def test_a_member_may_send_without_joining(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    assert peers(server, alice).send(chat["id"], str(uuid.uuid4()))["ok"] is True


def test_a_body_holding_nul_is_invalid_and_stores_nothing(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ack = peers(server, alice).send(chat["id"], "a\u0000b")
    assert ack["ok"] is False and ack["error"]["code"] == "invalid" and "NUL" in ack["error"]["message"]
    assert server.get(f"/api/chats/{chat['id']}", bob.token).json()["chat"]["last_seq"] == 0
