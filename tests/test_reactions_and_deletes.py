"""v1.2 replies, reactions and delete for everyone, over real sockets: every rule of the contract's chat section that
the server keeps for a message (read positions and the live chat list are tested with them)."""
from __future__ import annotations

import uuid

import psycopg

from support import STORE, Wallet, new_chat, wait_until


def ok(ack: dict) -> dict:
    assert ack["ok"] is True, ack
    return ack["message"]


def code(ack: dict) -> str:
    assert ack["ok"] is False, ack
    return ack["error"]["code"]


def react(peer, message: dict, emoji: str = "👍", action: str = "added") -> dict:
    return peer.call("react", {"chat_id": message["chat_id"], "message_id": message["id"], "emoji": emoji,
                               "action": action})


def delete(peer, message: dict) -> dict:
    return peer.call("delete", {"chat_id": message["chat_id"], "message_id": message["id"]})


# -- replies ---------------------------------------------------------------------------------------------------------

def test_a_reply_carries_the_id_of_a_message_of_the_same_chat_the_sender_sees(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat, other = new_chat(server, alice, bob), new_chat(server, alice, carol)
    a = peers(server, alice)
    first = ok(a.send(chat["id"], "question"))
    answer = ok(peers(server, bob).send(chat["id"], "answer", reply_to=first["id"]))
    assert answer["reply_to"] == first["id"] and ok(a.send(chat["id"], "plain"))["reply_to"] is None
    elsewhere = ok(a.send(other["id"], "elsewhere"))
    for bad in (elsewhere["id"], f"{chat['id']}/99", "not an id", 7):
        assert code(a.send(chat["id"], "re", reply_to=bad)) == "invalid"
    r = server.get(f"/api/chats/{chat['id']}/messages", alice.token)
    assert [m["reply_to"] for m in r.json()["messages"]] == [None, first["id"], None]


def test_a_member_added_later_cannot_reply_to_what_is_not_theirs_to_see(server, wallets, peers):
    alice, bob, dave = wallets(3)
    chat = new_chat(server, alice, bob, Wallet())  # a group: members can be added
    before = ok(peers(server, alice).send(chat["id"], "before dave"))
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [dave.address]}, alice.token).status_code == 200
    d = peers(server, dave)
    assert code(d.send(chat["id"], "re", reply_to=before["id"])) == "invalid"
    after = ok(peers(server, alice).send(chat["id"], "after dave"))
    assert ok(d.send(chat["id"], "re", reply_to=after["id"]))["reply_to"] == after["id"]


def add(server, adder, chat: dict, member, **extra) -> None:
    r = server.post(f"/api/chats/{chat['id']}/members", {"members": [member.address], **extra}, adder.token)
    assert r.status_code == 200, r.text


def seen_replies(server, chat: dict, wallet, message: dict) -> dict[str, object]:
    """Where `wallet` reads `message` outside the live events: its `reply_to` in each (the Chat's as its latest)."""
    url = f"/api/chats/{chat['id']}"
    found = {
        "history": server.get(f"{url}/messages", wallet.token).json()["messages"],
        "changes": server.get(f"{url}/changes?since_rev=0", wallet.token).json()["changes"],
    }
    latest = {
        "chat": server.get(url, wallet.token).json()["chat"]["last_message"],
        "list": next(c for c in server.get("/api/chats", wallet.token).json()["chats"] if c["id"] == chat["id"])[
            "last_message"],
    }
    return {where: next(m["reply_to"] for m in found[where] if m["id"] == message["id"]) for where in found} | {
        where: m["reply_to"] for where, m in latest.items() if m["id"] == message["id"]}


def test_a_reply_to_a_message_from_before_a_member_was_added_names_none_to_them_wherever_they_read_it(
        server, wallets, peers):
    alice, bob, carol, eve = wallets(4)
    chat = new_chat(server, alice, bob, Wallet())  # a group: members can be added
    a, b = peers(server, alice), peers(server, bob)
    before = ok(a.send(chat["id"], "before carol"))
    add(server, alice, chat, carol)  # carol sees the chat from seq 2 on
    c = peers(server, carol)
    for peer in (a, c):
        peer.join(chat["id"])
    reply = ok(b.send(chat["id"], "re before", reply_to=before["id"]))
    assert reply["reply_to"] == before["id"]
    assert c.wait("message", lambda m: m["id"] == reply["id"])["reply_to"] is None
    assert a.wait("message", lambda m: m["id"] == reply["id"])["reply_to"] == before["id"], "alice sees it all"
    add(server, alice, chat, eve)  # eve, from seq 3 on, gets nothing of the reply
    e = peers(server, eve)
    e.join(chat["id"])
    liked = ok(react(c, reply))  # carol's own ack, and the update to every socket as its member sees it
    assert liked["reply_to"] is None and liked["reaction_counts"] == {"👍": 1}
    assert a.wait("message:update", lambda m: m["id"] == reply["id"])["reply_to"] == before["id"]
    assert c.wait("message:update", lambda m: m["id"] == reply["id"])["reply_to"] is None
    later = ok(a.send(chat["id"], "re reply", reply_to=reply["id"]))
    assert e.wait("message", lambda m: m["id"] == later["id"])["reply_to"] is None
    assert e.received("message:update") == [], "the reply itself is not eve's"
    assert c.wait("message", lambda m: m["id"] == later["id"])["reply_to"] == reply["id"], "carol sees the reply"
    assert seen_replies(server, chat, carol, reply) == {"history": None, "changes": None}
    assert seen_replies(server, chat, carol, later) == dict.fromkeys(["history", "changes", "chat", "list"], reply["id"])
    assert seen_replies(server, chat, bob, reply) == {"history": before["id"], "changes": before["id"]}
    ok(b.send(chat["id"], "re before, again", reply_to=before["id"]))
    again = c.wait("message", lambda m: m["body"] == "re before, again")
    assert seen_replies(server, chat, carol, again) == dict.fromkeys(["history", "changes", "chat", "list"], None)
    assert seen_replies(server, chat, bob, again) == dict.fromkeys(["history", "changes", "chat", "list"], before["id"])
    for joined in (c.join(chat["id"]), c.join(chat["id"], since_rev=0)):
        replies = {m["id"]: m["reply_to"] for m in joined["changes"]}
        assert replies == {reply["id"]: None, later["id"]: reply["id"], again["id"]: None}
        assert joined["chat"]["last_message"]["reply_to"] is None


def test_a_member_added_with_the_history_shared_sees_where_replies_point(server, wallets, peers):
    alice, bob, dave = wallets(3)
    chat = new_chat(server, alice, bob, Wallet())
    before = ok(peers(server, alice).send(chat["id"], "before dave"))
    add(server, alice, chat, dave, share_history=True)
    d = peers(server, dave)
    d.join(chat["id"])
    reply = ok(peers(server, bob).send(chat["id"], "re before", reply_to=before["id"]))
    assert d.wait("message", lambda m: m["id"] == reply["id"])["reply_to"] == before["id"]
    assert seen_replies(server, chat, dave, reply) == dict.fromkeys(["history", "changes", "chat", "list"], before["id"])
    assert d.join(chat["id"])["changes"][-1]["reply_to"] == before["id"]


def test_a_repeated_send_answers_the_first_message_whatever_reply_to_says(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    first = ok(a.send(chat["id"], "one"))
    reply = ok(a.send(chat["id"], "re", client_id="same", reply_to=first["id"]))
    assert ok(a.send(chat["id"], "re", client_id="same", reply_to=f"{chat['id']}/99")) == reply


# -- reactions -------------------------------------------------------------------------------------------------------

def test_a_reaction_by_a_member_who_never_joined_goes_out_as_a_message_update_and_a_repeat_changes_nothing(
        server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    a.join(chat["id"])
    sent = ok(a.send(chat["id"], "react to me"))
    liked = ok(react(b, sent))
    assert liked["reactions"] == {"👍": [bob.address]} and liked["reaction_counts"] == {"👍": 1}
    assert liked["rev"] == sent["rev"] + 1 and liked["body"] == "react to me"
    assert a.wait("message:update", lambda m: m["id"] == sent["id"]) == liked
    assert ok(react(b, sent)) == liked  # a repeat: unchanged, nothing bumped
    both = ok(react(a, sent))
    assert both["reactions"]["👍"] == sorted([alice.address, bob.address], key=str.lower)
    assert both["reaction_counts"] == {"👍": 2} and both["rev"] == liked["rev"] + 1
    removed = ok(react(b, sent, action="removed"))
    assert removed["reactions"] == {"👍": [alice.address]} and ok(react(b, sent, action="removed")) == removed
    gone = ok(react(a, sent, action="removed"))
    assert gone["reactions"] == {} and gone["reaction_counts"] == {}
    caught_up = a.join(chat["id"], since_rev=sent["rev"])["changes"]  # catch-up by rev carries it
    assert caught_up == [gone]
    assert server.get(f"/api/chats/{chat['id']}/messages", bob.token).json()["messages"] == [gone]


def test_reactions_are_refused_to_non_members_for_unseen_messages_and_for_bad_emoji_or_actions(server, wallets, peers):
    alice, bob, eve, dave = wallets(4)
    chat = new_chat(server, alice, bob, Wallet())  # a group: members can be added
    a = peers(server, alice)
    sent = ok(a.send(chat["id"], "hi"))
    assert code(react(peers(server, eve), sent)) == "forbidden"
    assert code(react(a, {**sent, "id": f"{chat['id']}/99"})) == "not_found"
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [dave.address]}, alice.token).status_code == 200
    assert code(react(peers(server, dave), sent)) == "not_found"  # from before dave was added: not theirs
    for emoji in ("", "x" * 33, "👍\n", "\x00", 5, None):
        assert code(react(a, sent, emoji=emoji)) == "invalid"
    assert ok(react(a, sent, emoji="x" * 32))["reaction_counts"] == {"x" * 32: 1}
    for action in ("add", None, True):
        assert code(react(a, sent, action=action)) == "invalid"
    assert code(a.call("react", "not an object")) == "invalid"


def test_a_message_takes_20_distinct_emoji_and_no_more(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    sent = ok(a.send(chat["id"], "hi"))
    for i in range(20):
        shown = ok(react(a, sent, emoji=chr(0x1F600 + i)))
    assert len(shown["reaction_counts"]) == 20
    assert code(react(a, sent, emoji="🚀")) == "invalid"
    assert ok(react(peers(server, bob), sent, emoji=chr(0x1F600)))["reaction_counts"][chr(0x1F600)] == 2


def test_reacting_and_deleting_spend_the_per_address_event_budget(make_server, peers):
    server = make_server({"EVENT_RATE_PER_S": "0.05", "EVENT_RATE_BURST": "4"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    sent = ok(a.send(chat["id"], "hi"))  # sends have their own budget
    answers = [react(a, sent), react(a, sent, action="removed"), delete(a, sent), delete(a, sent), react(a, sent)]
    assert [x["ok"] for x in answers[:4]] == [True] * 4 and code(answers[4]) == "rate_limited"


# -- deletion --------------------------------------------------------------------------------------------------------

def test_the_sender_deletes_for_everyone_text_and_reactions_go_the_rest_stays(server, wallets, peers):
    alice, bob, eve = wallets(3)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    b.join(chat["id"])
    first = ok(a.send(chat["id"], "first"))
    sent = ok(a.send(chat["id"], "regret", reply_to=first["id"]))
    ok(react(b, sent))
    assert code(delete(b, sent)) == "forbidden"  # a member, not its sender
    assert code(delete(peers(server, eve), sent)) == "forbidden"  # not a member
    assert code(delete(a, {**sent, "id": f"{chat['id']}/99"})) == "not_found"
    deleted = ok(delete(a, sent))
    assert (deleted["deleted"], deleted["body"], deleted["original"], deleted["reactions"],
            deleted["reaction_counts"]) == (True, "", None, {}, {})
    kept = ("id", "seq", "sender", "sent_at", "reply_to", "tx", "client_id")
    assert {k: deleted[k] for k in kept} == {k: sent[k] for k in kept} and deleted["rev"] > sent["rev"]
    assert b.wait("message:update", lambda m: m["id"] == sent["id"] and m["deleted"]) == deleted
    assert ok(delete(a, sent)) == deleted  # a repeat: unchanged
    assert code(react(b, sent)) == "invalid"
    assert ok(a.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": "x-1"})) == deleted
    assert server.get(f"/api/chats/{chat['id']}/messages", bob.token).json()["messages"][1] == deleted
    assert b.join(chat["id"], since_rev=sent["rev"])["changes"][-1] == deleted


def test_a_deleted_message_is_erased_from_the_store_not_only_hidden(make_server, peers):
    server = make_server({"ERASE_WITHIN_S": "0.5"})  # the log: rewritten 0.25 s after the first deletion
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    marker = f"marker-{uuid.uuid4().hex}"
    sent = ok(a.send(chat["id"], marker))
    ok(react(a, sent))  # one more record of it holding the text
    assert wait_until(lambda: stored_text(server, marker))
    ok(delete(a, sent))
    assert wait_until(lambda: not stored_text(server, marker), what="the deleted text gone from the store")
    assert ok(a.send(chat["id"], "after"))["seq"] == 2  # the store goes on


def stored_text(server, marker: str) -> bool:
    """Whether the store still holds the text: the log's bytes, or the messages table's rows."""
    if STORE != "postgres":
        return marker.encode() in server.data_file.read_bytes()
    with psycopg.connect(server.env["DATABASE_URL"]) as conn:
        return conn.execute("SELECT count(*) FROM messages WHERE body = %s OR original::text LIKE %s",
                            (marker, f"%{marker}%")).fetchone()[0] > 0
