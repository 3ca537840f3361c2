"""Messages settled by XMTP (attestation or gateway), content binding of XMTP ids, and the fallback clock."""
from __future__ import annotations

import secrets
import uuid
from typing import Iterator

import pytest

from optimistic_messaging.verifiers.xmtp import encoded_text, xmtp_message_id

from support import Server, Wallet, new_chat, refusal, wait_until
from xmtp_gateway import Gateway


def group_id() -> str:
    """A fresh XMTP conversation id: 16 random bytes in hex."""
    return secrets.token_hex(16)


def settled(peer, message_id: str) -> dict:
    """The message once settled, as its events say (a plain one by its chat's `chat:confirmed`)."""
    return peer.settled(message_id)


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    yield gw
    gw.close()


@pytest.fixture(scope="module")
def attesting(tmp_path_factory) -> Iterator[Server]:
    """No gateway: the sender's attestation settles; the fallback confirms after 1 s."""
    srv = Server(tmp_path_factory.mktemp("attesting"), {"RECONCILE_INTERVAL_S": "0.1", "XMTP_GRACE_S": "1"}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def patient(tmp_path_factory) -> Iterator[Server]:
    """No gateway, and a fallback a minute away: whatever settles here was settled by an attestation."""
    srv = Server(tmp_path_factory.mktemp("patient"), {"RECONCILE_INTERVAL_S": "0.1", "XMTP_GRACE_S": "60"}).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def gated(tmp_path_factory, gateway) -> Iterator[Server]:
    """XMTP settled through the gateway stand-in; not found for 1 s means the attestation is dropped."""
    srv = Server(tmp_path_factory.mktemp("gated"), {"RECONCILE_INTERVAL_S": "0.1", "XMTP_GRACE_S": "1",
                                                     "XMTP_GATEWAY_URL": gateway.url}).start()
    yield srv
    srv.stop()


@pytest.fixture
def dm(peers):
    """Two signed-in wallets in a chat registered under a fresh XMTP conversation id, the second listening (a client
    of the contract alone unless given `features`)."""
    def make(server: Server, features: tuple[str, ...] = ()):
        a, b = Wallet().sign_in(server), Wallet().sign_in(server)
        chat = new_chat(server, a, b, chat_id=group_id())
        listener = peers(server, b, features=features)
        listener.join(chat["id"])
        return a, chat, peers(server, a), listener
    return make


def test_xmtp_id_matches_the_libxmtp_test_vector():
    assert xmtp_message_id("aed8a9cc52ca1c02c03a6d90171b1fd9", "k-1", "hello") == (
        "b65e598cf38f0693cbde7154edba99afb384ea1fe34bd3562c2c2fdf28783a45")


def test_encoded_content_of_an_empty_text_has_no_content_field():
    header = b"\x0a\x12\x0a\x08xmtp.org\x12\x04text\x18\x01" + b"\x12\x11\x0a\x08encoding\x12\x05UTF-8"
    assert encoded_text("") == header
    assert encoded_text("hi") == header + b"\x22\x02hi"
    assert encoded_text("é" * 100) == header + b"\x22\xc8\x01" + "é".encode() * 100  # 200 bytes: a 2-byte varint


def test_message_without_tx_or_attestation_is_confirmed_by_the_fallback_after_the_grace(attesting, dm):
    _, chat, sender, listener = dm(attesting)
    sent = sender.send(chat["id"], "plain")["message"]
    update = settled(listener, sent["id"])
    assert (update["status"], update["source"], update["xmtp_id"]) == ("confirmed", "fallback", None)


def test_a_chats_plain_messages_are_confirmed_by_chat_events_and_catch_up_gives_each_its_state(attesting, dm, peers):
    a, chat, sender, listener = dm(attesting, features=("chat:confirmed",))
    since = listener.join(chat["id"])["chat"]["rev"]
    sent = [sender.send(chat["id"], f"m{i}")["message"] for i in range(20)]
    folded = [listener.settled(m["id"]) for m in sent]
    events = [e for e in listener.received("chat:confirmed") if e["chat_id"] == chat["id"]]
    assert not [u for u in listener.received("message:update") if u["chat_id"] == chat["id"]], "none per message"
    assert 1 <= len(events) < len(sent) and sum(e["rev"] - e["first_rev"] + 1 for e in events) == len(sent)
    assert all(earlier["rev"] < later["first_rev"] for earlier, later in zip(events, events[1:]))
    rest = sender.call("join", {"chat_id": chat["id"], "since_rev": since})["changes"]  # a client that was away
    history = attesting.get(f"/api/chats/{chat['id']}/messages", a.token).json()["messages"]
    changes = attesting.get(f"/api/chats/{chat['id']}/changes?since_rev={since}", a.token).json()["changes"]
    assert rest == changes and sorted(changes, key=lambda m: m["seq"]) == history
    assert [m["rev"] for m in changes] == sorted({m["rev"] for m in changes}), "one rev each, in rev order"
    for client, stored in zip(folded, history, strict=True):
        event = next(e for e in events if e["first_rev"] <= stored["rev"] <= e["rev"])
        assert (stored["status"], stored["source"], stored["updated_at"]) == ("confirmed", "fallback", event["updated_at"])
        assert {**client, "rev": stored["rev"]} == stored, "the client's rule gives the stored state"


def revs_in_order(peer) -> list[int]:
    """The revs of a socket's message events, as they came: each chat's events come in rev order."""
    revs = [data["rev"] for name, data in peer.events if name in ("message", "message:update")]
    assert revs == sorted(revs), revs
    return revs


def test_a_client_of_the_contract_alone_gets_a_message_update_for_each_plain_message_confirmed(attesting, dm):
    _, chat, sender, listener = dm(attesting)
    sent = [sender.send(chat["id"], f"m{i}")["message"] for i in range(8)]
    updates = [listener.wait("message:update", lambda u, m=m: u["id"] == m["id"]) for m in sent]
    assert [(u["status"], u["source"], u["body"]) for u in updates] == [("confirmed", "fallback", m["body"]) for m in sent]
    marker = sender.send(chat["id"], "after")["message"]  # comes after every confirmation before it
    listener.wait("message", lambda m: m["id"] == marker["id"])
    assert listener.received("chat:confirmed") == [], "an extension it did not ask for"
    assert len(listener.received("message:update")) == len(sent), "one each"
    revs_in_order(listener)


def test_in_one_chat_each_socket_gets_the_confirmation_in_the_form_it_asked_for(attesting, dm, peers):
    a, chat, sender, contract = dm(attesting)
    opted = peers(attesting, a, features=("chat:confirmed", "some:future-extension"))  # an unknown one is ignored
    opted.join(chat["id"])
    sent = [sender.send(chat["id"], f"m{i}")["message"] for i in range(8)]
    assert [opted.settled(m["id"])["source"] for m in sent] == ["fallback"] * len(sent)
    assert [contract.settled(m["id"])["source"] for m in sent] == ["fallback"] * len(sent)
    assert not [u for u in opted.received("message:update") if u["chat_id"] == chat["id"]], "none per message"
    assert contract.received("chat:confirmed") == []
    events = opted.received("chat:confirmed")
    covered = {rev for e in events for rev in range(e["first_rev"], e["rev"] + 1)}
    assert sorted(u["rev"] for u in contract.received("message:update")) == sorted(covered), "the same revs"
    revs_in_order(contract)


def test_a_member_added_later_gets_the_confirmation_of_no_message_before_it(make_server, dm, peers):
    server = make_server({"RECONCILE_INTERVAL_S": "0.1", "XMTP_GRACE_S": "3"})  # carol joins within the grace
    a, chat, sender, listener = dm(server)
    before = sender.send(chat["id"], "before carol")["message"]
    carol = Wallet().sign_in(server)
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [carol.address]}, a.token).ok
    c = peers(server, carol)
    c.join(chat["id"])
    after = sender.send(chat["id"], "after carol")["message"]
    listener.settled(before["id"])
    assert c.settled(after["id"])["source"] == "fallback"
    assert [u["id"] for u in c.received("message:update")] == [after["id"]], "nothing from before it was added"


def test_features_that_are_not_a_list_of_names_are_refused(attesting):
    a = Wallet().sign_in(attesting)
    assert refusal(attesting, a.token, features="chat:confirmed") == {"message": "invalid"}


def test_a_message_still_provisional_at_a_restart_is_settled_after_it(make_server, peers):
    server = make_server({"RECONCILE_INTERVAL_S": "0.1", "XMTP_GRACE_S": "2"})
    a, b = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, a, b)
    sent = peers(server, a).send(chat["id"], "across a crash")["message"]
    server.kill()
    server.start()
    stored = lambda: server.get(f"/api/chats/{chat['id']}/messages", b.token).json()["messages"][0]  # noqa: E731
    wait_until(lambda: stored()["status"] != "provisional", what="the message to settle after the restart")
    assert (stored()["id"], stored()["status"], stored()["source"]) == (sent["id"], "confirmed", "fallback")


def rounds(server: Server) -> int:
    return server.get("/api/health").json()["reconciler"]["rounds"]


def test_attested_message_is_confirmed_by_xmtp_without_a_gateway(patient, dm):
    _, chat, sender, listener = dm(patient)
    sent = sender.send(chat["id"], "via xmtp too")["message"]
    seen = rounds(patient) + 1  # a round that began after the send has put the message off until its grace ends
    wait_until(lambda: rounds(patient) > seen, what="a reconciler round that saw the plain message")
    sender.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": "xmtp-msg-1"})
    update = settled(listener, sent["id"])
    assert (update["status"], update["source"], update["xmtp_id"]) == ("confirmed", "xmtp", "xmtp-msg-1")


def test_keyed_attestation_that_matches_the_content_is_bound(attesting, dm):
    _, chat, sender, _ = dm(attesting)
    client_id = uuid.uuid4().hex
    sent = sender.send(chat["id"], "bound text", client_id=client_id)["message"]
    xmtp_id = xmtp_message_id(chat["id"], client_id, "bound text")
    ack = sender.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": xmtp_id, "keyed": True})
    assert ack["ok"] and ack["message"]["xmtp_bound"] is True and ack["message"]["xmtp_id"] == xmtp_id


def test_keyed_attestation_that_does_not_match_is_invalid_and_changes_nothing(attesting, dm):
    _, chat, sender, listener = dm(attesting)
    sent = sender.send(chat["id"], "the real text")["message"]
    wrong = xmtp_message_id(chat["id"], sent["client_id"], "another text")
    ack = sender.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": wrong, "keyed": True})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid" and "xmtp_id" in ack["error"]["message"]
    update = settled(listener, sent["id"])
    assert (update["source"], update["xmtp_id"], update["xmtp_bound"]) == ("fallback", None, False)


def test_keyed_send_is_bound_or_refused(attesting, dm):
    _, chat, sender, _ = dm(attesting)
    good = xmtp_message_id(chat["id"], "c-good", "hello")
    ack = sender.call("send", {"chat_id": chat["id"], "client_id": "c-good", "body": "hello", "xmtp_id": good,
                               "keyed": True})
    assert ack["ok"] and ack["message"]["xmtp_bound"] is True
    bad = sender.call("send", {"chat_id": chat["id"], "client_id": "c-bad", "body": "hello", "xmtp_id": good,
                               "keyed": True})
    assert bad["ok"] is False and bad["error"]["code"] == "invalid"


def test_unkeyed_or_non_xmtp_chat_attestations_are_taken_unbound(attesting, dm, peers):
    a, chat, sender, _ = dm(attesting)
    sent = sender.send(chat["id"], "old sdk")["message"]
    ack = sender.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": "anything"})
    assert ack["ok"] and ack["message"]["xmtp_bound"] is False
    b = Wallet().sign_in(attesting)
    plain = new_chat(attesting, a, b)  # a DM id, not an XMTP conversation id: nothing to bind to
    other = sender.send(plain["id"], "x")["message"]
    ack = sender.call("attest", {"chat_id": plain["id"], "message_id": other["id"], "xmtp_id": "y", "keyed": True})
    assert ack["ok"] and ack["message"]["xmtp_bound"] is False


def test_attest_on_a_settled_message_records_the_id_but_not_the_status(attesting, dm):
    _, chat, sender, listener = dm(attesting)
    sent = sender.send(chat["id"], "settles first")["message"]
    assert settled(listener, sent["id"])["source"] == "fallback"
    ack = sender.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "xmtp_id": "late-copy"})
    assert (ack["message"]["status"], ack["message"]["source"], ack["message"]["xmtp_id"]) == (
        "confirmed", "fallback", "late-copy")
    assert listener.wait("message:update", lambda m: m["xmtp_id"] == "late-copy")["status"] == "confirmed"


def test_gateway_holding_the_same_content_confirms(gated, gateway, dm):
    a, chat, sender, listener = dm(gated)
    gateway.holds(chat["id"], "gw-1", a.address.lower(), "hello from both")
    sent = sender.send(chat["id"], "hello from both", xmtp_id="gw-1")["message"]
    update = settled(listener, sent["id"])
    assert (update["status"], update["source"]) == ("confirmed", "xmtp")
    assert (chat["id"], "gw-1") in gateway.asked


def test_gateway_holding_other_content_corrects_the_message(gated, gateway, dm):
    a, chat, sender, listener = dm(gated)
    gateway.holds(chat["id"], "gw-2", a.address, "what XMTP delivered")
    sent = sender.send(chat["id"], "what I typed", xmtp_id="gw-2")["message"]
    update = settled(listener, sent["id"])
    assert (update["status"], update["source"], update["reason"]) == ("corrected", "xmtp", "xmtp_mismatch")
    assert update["body"] == "what XMTP delivered" and update["original"] == {"body": "what I typed", "tx": None}


def test_gateway_not_finding_it_within_the_grace_drops_the_attestation(gated, dm):
    _, chat, sender, listener = dm(gated)
    sent = sender.send(chat["id"], "never on xmtp", xmtp_id="gw-missing")["message"]
    update = settled(listener, sent["id"])
    assert (update["status"], update["source"], update["xmtp_id"]) == ("confirmed", "fallback", None)


def test_gateway_showing_another_sender_drops_a_false_attestation(gated, gateway, dm):
    _, chat, sender, listener = dm(gated)
    gateway.holds(chat["id"], "gw-3", Wallet().address, "claimed copy")
    sent = sender.send(chat["id"], "claimed copy", xmtp_id="gw-3")["message"]
    dropped = listener.wait("message:update", lambda m: m["id"] == sent["id"])
    assert (dropped["status"], dropped["xmtp_id"], dropped["xmtp_bound"]) == ("provisional", None, False)
    assert (settled(listener, sent["id"])["source"]) == "fallback"


def test_gateway_outage_settles_nothing_until_it_answers(gated, gateway, dm):
    a, chat, sender, listener = dm(gated)
    errors = gated.get("/api/health").json()["reconciler"]["errors"]
    gateway.down = True
    try:
        gateway.holds(chat["id"], "gw-4", a.address, "while xmtp is down")
        sent = sender.send(chat["id"], "while xmtp is down", xmtp_id="gw-4")["message"]
        wait_until(lambda: gated.get("/api/health").json()["reconciler"]["errors"] > errors, 10, "the outage noticed")
        assert gated.get("/api/health").status_code == 200
    finally:
        gateway.down = False
    update = settled(listener, sent["id"])
    assert (update["status"], update["source"]) == ("confirmed", "xmtp")
