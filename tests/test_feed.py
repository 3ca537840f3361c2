"""The live chat list (v1.2): every signed-in socket hears of its address's chats without joining them."""
from __future__ import annotations

from support import Peer, Wallet, new_chat


def group(server, creator, *others) -> dict:
    return new_chat(server, creator, *others, Wallet())  # a third member makes it a group, not a DM


def marked(peer: Peer, server, owner: Wallet) -> None:
    """Wait until everything committed so far has reached `peer`: a marker chat of its own, created now, arrives after
    (one node hears commits in order)."""
    marker = new_chat(server, owner, Wallet())
    peer.wait("chat:update", lambda c: c["id"] == marker["id"])


def activity_of(peer: Peer, chat_id: str) -> list[dict]:
    return [a for a in peer.received("chat:activity") if a["chat_id"] == chat_id]


def test_a_socket_that_joined_nothing_hears_of_every_new_message_in_its_chats_and_only_its(server, wallets, peers):
    alice, bob, mallory = wallets(3)
    chat = new_chat(server, alice, bob)
    b, m = peers(server, bob), peers(server, mallory)
    sent = peers(server, alice).send(chat["id"], "hello bob")["message"]
    activity = b.wait("chat:activity", lambda a: a["chat_id"] == chat["id"])
    assert activity == {"chat_id": chat["id"], "last_seq": sent["seq"], "rev": sent["rev"], "last_message": sent}
    marked(m, server, mallory)
    assert m.received("chat:activity") == [] and all(c["id"] != chat["id"] for c in m.received("chat:update"))


def test_the_senders_other_sockets_hear_of_its_message_and_a_joined_socket_is_spared(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a1, a2, b = peers(server, alice), peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    sent = a1.send(chat["id"], "from my phone")["message"]
    assert a2.wait("chat:activity", lambda a: a["chat_id"] == chat["id"])["last_message"]["id"] == sent["id"]
    b.wait("message", lambda msg: msg["id"] == sent["id"])
    marked(b, server, bob)
    assert activity_of(b, chat["id"]) == []


def test_a_new_dm_reaches_the_other_members_unjoined_sockets_and_the_creators_own(server, wallets, peers):
    alice, bob = wallets(2)
    a, b = peers(server, alice), peers(server, bob)
    chat = new_chat(server, alice, bob)
    for peer in (a, b):
        update = peer.wait("chat:update", lambda c: c["id"] == chat["id"])
        assert sorted(update["members"]) == sorted([alice.address, bob.address])
    sent = a.send(chat["id"], "first")["message"]
    assert b.wait("chat:activity", lambda x: x["chat_id"] == chat["id"])["last_message"]["id"] == sent["id"]


def test_members_changes_reach_unjoined_sockets_once_and_joined_ones_once(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    unjoined, joined = peers(server, bob), peers(server, bob)
    joined.join(chat["id"])
    added = server.post(f"/api/chats/{chat['id']}/members", {"members": [carol.address]}, alice.token)
    assert added.status_code == 200
    for peer in (unjoined, joined):
        assert carol.address in peer.wait("chat:update", lambda c: c["id"] == chat["id"])["members"]
    marked(joined, server, bob)
    assert len([c for c in joined.received("chat:update") if c["id"] == chat["id"]]) == 1


def test_a_removed_member_hears_chat_removed_and_no_more_activity(server, wallets, peers):
    alice, bob = wallets(2)
    chat = group(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    a.join(chat["id"])
    assert server.request("DELETE", f"/api/chats/{chat['id']}/members/{bob.address}", alice.token).status_code == 200
    assert b.wait("chat:removed") == {"chat_id": chat["id"]}
    after = a.send(chat["id"], "after bob left")["message"]
    a.wait("message", lambda msg: msg["id"] == after["id"])
    marked(b, server, bob)
    assert activity_of(b, chat["id"]) == []


def test_deleting_the_latest_message_is_activity_with_it_deleted(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    sent = a.send(chat["id"], "oops")["message"]
    b.wait("chat:activity", lambda x: x["last_message"]["id"] == sent["id"])
    assert a.call("delete", {"chat_id": chat["id"], "message_id": sent["id"]})["ok"]
    activity = b.wait("chat:activity", lambda x: x["last_message"]["id"] == sent["id"] and x["last_message"]["deleted"])
    assert activity["last_seq"] == sent["seq"] and activity["rev"] > sent["rev"]
    assert activity["last_message"]["body"] == ""


def test_a_late_added_member_never_hears_of_a_message_from_before_it(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    a, c = peers(server, alice), peers(server, carol)
    old = a.send(chat["id"], "before carol")["message"]
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [carol.address]}, alice.token).status_code == 200
    c.wait("chat:update", lambda x: x["id"] == chat["id"])
    assert a.call("delete", {"chat_id": chat["id"], "message_id": old["id"]})["ok"]  # still the chat's latest
    new = a.send(chat["id"], "after carol")["message"]
    assert c.wait("chat:activity", lambda x: x["chat_id"] == chat["id"])["last_message"]["id"] == new["id"]
    assert [x["last_message"]["id"] for x in activity_of(c, chat["id"])] == [new["id"]]


def test_a_reply_to_a_message_from_before_a_late_added_member_reaches_its_chat_list_naming_none(
        server, wallets, peers):
    alice, bob, carol, dave = wallets(4)
    chat = group(server, alice, bob)
    a, b, c = peers(server, alice), peers(server, bob), peers(server, carol)
    old = a.send(chat["id"], "before carol")["message"]
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [carol.address]}, alice.token).status_code == 200
    reply = a.send(chat["id"], "re before carol", reply_to=old["id"])["message"]
    shown = c.wait("chat:activity", lambda x: x["last_message"]["id"] == reply["id"])["last_message"]
    assert shown == {**reply, "reply_to": None}
    assert b.wait("chat:activity", lambda x: x["last_message"]["id"] == reply["id"])["last_message"] == reply
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [dave.address]}, alice.token).status_code == 200
    for peer, reply_to in ((c, None), (b, old["id"])):  # the view each reads of the chat, as it is now
        view = peer.wait("chat:update", lambda x: x["id"] == chat["id"] and dave.address in x["members"])
        assert view["last_message"]["id"] == reply["id"] and view["last_message"]["reply_to"] == reply_to


def test_chat_update_by_feed_is_the_chat_as_its_receiver_sees_it(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    sent = a.send(chat["id"], "before carol")["message"]
    b.wait("chat:activity", lambda x: x["last_message"]["id"] == sent["id"])
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [carol.address]}, alice.token).status_code == 200
    view = b.wait("chat:update", lambda c: c["id"] == chat["id"] and carol.address in c["members"])
    assert (view["last_message"]["id"], view["read_seq"], view["unread"]) == (sent["id"], 0, 1)
    mine = a.wait("chat:update", lambda c: c["id"] == chat["id"] and carol.address in c["members"])
    assert (mine["read_seq"], mine["unread"]) == (sent["seq"], 0)


def test_a_mark_reaches_the_markers_other_sockets_and_the_chats_joined_ones(server, wallets, peers):
    alice, bob, mallory = wallets(3)
    chat = new_chat(server, alice, bob)
    a, b1, b2, m = peers(server, alice), peers(server, bob), peers(server, bob), peers(server, mallory)
    a.join(chat["id"])
    sent = a.send(chat["id"], "read me")["message"]
    ack = b1.call("mark", {"chat_id": chat["id"], "read_seq": sent["seq"]})
    assert ack == {"ok": True, "read_seq": sent["seq"], "delivered_seq": sent["seq"]}
    receipt = {"chat_id": chat["id"], "address": bob.address, "read_seq": sent["seq"], "delivered_seq": sent["seq"]}
    for peer in (b2, b1, a):
        assert peer.wait("receipt") == receipt
    marked(m, server, mallory)
    assert m.received("receipt") == []


def test_a_receipt_shows_a_member_added_later_no_position_below_where_it_began(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    a, b, c = peers(server, alice), peers(server, bob), peers(server, carol)
    for body in ("one", "two"):
        a.send(chat["id"], body)
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [carol.address]}, alice.token).status_code == 200
    c.join(chat["id"])
    a.join(chat["id"])
    assert b.call("mark", {"chat_id": chat["id"], "read_seq": 1})["ok"]
    mine = {"chat_id": chat["id"], "address": bob.address, "read_seq": 1, "delivered_seq": 1}
    assert a.wait("receipt") == mine, "a first member sees where bob is"
    assert c.wait("receipt") == {**mine, "read_seq": 2, "delivered_seq": 2}, "carol began at 2"
