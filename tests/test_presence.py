"""Presence counts sockets per address; typing goes to the other members and expires unless renewed."""
from __future__ import annotations

from support import new_chat


def test_first_socket_of_an_address_announces_it_online_to_the_others(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    a.join(chat["id"])
    ack = peers(server, bob).join(chat["id"])
    assert sorted(ack["online"]) == sorted([alice.address, bob.address])
    assert a.wait("presence") == {"chat_id": chat["id"], "address": bob.address, "online": True}


def test_offline_only_when_the_last_socket_of_the_address_goes(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    a.join(chat["id"])
    b1, b2 = peers(server, bob), peers(server, bob)
    b1.join(chat["id"])
    b2.join(chat["id"])
    b1.close()
    # b1's departure is not news; a marker message proves a has seen everything sent before it.
    marker = a.send(chat["id"], "marker")["message"]
    a.wait("message", lambda m: m["id"] == marker["id"])
    assert a.received("presence") == [{"chat_id": chat["id"], "address": bob.address, "online": True}]
    b2.close()
    assert a.wait("presence", lambda p: not p["online"]) == {"chat_id": chat["id"], "address": bob.address, "online": False}


def test_leave_counts_like_a_drop(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    a.join(chat["id"])
    b.join(chat["id"])
    b.call("leave", {"chat_id": chat["id"]})
    assert a.wait("presence", lambda p: not p["online"])["address"] == bob.address


def test_presence_never_reaches_other_chats(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = new_chat(server, alice, bob)
    other = new_chat(server, alice, carol)
    c = peers(server, carol)
    c.join(other["id"])
    peers(server, bob).join(chat["id"])
    marker = peers(server, alice).send(other["id"], "marker")["message"]
    c.wait("message", lambda m: m["id"] == marker["id"])
    assert c.received("presence") == []


def test_typing_reaches_the_other_members_but_not_the_typists_own_sockets(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a1, a2, b = peers(server, alice), peers(server, alice), peers(server, bob)
    for p in (a1, a2, b):
        p.join(chat["id"])
    a1.call("typing", {"chat_id": chat["id"], "typing": True})
    assert b.wait("typing") == {"chat_id": chat["id"], "address": alice.address, "typing": True}
    marker = b.send(chat["id"], "marker")["message"]
    a2.wait("message", lambda m: m["id"] == marker["id"])
    assert a2.received("typing") == []


def test_typing_stops_when_told(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    a.call("typing", {"chat_id": chat["id"], "typing": True})
    a.call("typing", {"chat_id": chat["id"], "typing": False})
    marker = a.send(chat["id"], "marker")["message"]
    b.wait("message", lambda m: m["id"] == marker["id"])  # long before the 5 s expiry could explain it
    assert [t["typing"] for t in b.received("typing")] == [True, False]


def test_typing_that_is_not_renewed_expires(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    a.call("typing", {"chat_id": chat["id"], "typing": True})
    assert b.wait("typing", lambda t: not t["typing"], timeout=8) == {
        "chat_id": chat["id"], "address": alice.address, "typing": False}


def test_sending_a_message_ends_the_senders_typing(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    a.call("typing", {"chat_id": chat["id"], "typing": True})
    a.send(chat["id"], "done typing")
    marker = a.send(chat["id"], "marker")["message"]
    b.wait("message", lambda m: m["id"] == marker["id"])  # long before the 5 s expiry could explain it
    assert [t["typing"] for t in b.received("typing")] == [True, False]


def test_typing_with_a_non_boolean_flag_is_invalid(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ack = peers(server, alice).call("typing", {"chat_id": chat["id"], "typing": "yes"})
    assert ack["error"]["code"] == "invalid"


def test_joining_again_from_the_same_socket_is_not_news(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    for _ in range(3):
        a.join(chat["id"])
    marker = a.send(chat["id"], "marker")["message"]
    b.wait("message", lambda m: m["id"] == marker["id"])
    assert b.received("presence") == [{"chat_id": chat["id"], "address": alice.address, "online": True}]
    a.close()
    assert b.wait("presence", lambda p: not p["online"])["address"] == alice.address
