"""Sessions end with their tokens: an expired socket is told so and closed; the client signs in again and resumes.
A sign-out ends one session (the sign-in and its renewals) at once, for good, and nothing else of the address."""
from __future__ import annotations

import json
import time

import pytest
import websocket

from support import TIMEOUT, Wallet, new_chat, refusal, wait_until

TTL_S = 3


@pytest.fixture
def brief(make_server):
    """Tokens that live 3 s."""
    return make_server({"TOKEN_TTL_S": str(TTL_S), "RATE_PER_S": "1000", "RATE_BURST": "1000"})


def test_a_socket_is_told_its_session_expired_and_is_disconnected(brief, peers):
    alice, bob = Wallet(), Wallet().sign_in(brief)
    chat = new_chat(brief, bob, alice)
    a = peers(brief, alice.sign_in(brief))
    a.join(chat["id"])
    expired = a.wait("session:expired", timeout=TTL_S + TIMEOUT)
    assert expired == {"expires_at": alice.expires_at, "reason": "expired"}
    wait_until(lambda: not a.sio.connected, what="the server to disconnect the socket")
    assert peers(brief, bob.sign_in(brief)).send(chat["id"], "after alice's session ended")["ok"]
    assert a.received("message") == []


def test_nothing_reaches_a_socket_past_its_tokens_expiry(brief, peers):
    alice, bob = Wallet().sign_in(brief), Wallet()
    chat = new_chat(brief, alice, bob)
    a = peers(brief, alice)
    a.join(chat["id"])
    # bob signs in half a session later, so his socket outlives alice's and can talk across her expiry
    wait_until(lambda: time.time() * 1000 >= alice.expires_at - TTL_S * 500, TTL_S, "half of alice's session to pass")
    b = peers(brief, bob.sign_in(brief))
    sent = 0
    while a.sio.connected:  # bob keeps talking, one message acked at a time, until alice's socket is ended
        assert b.send(chat["id"], f"message {sent}")["ok"]
        sent += 1
    late = [m for m in a.received("message") if m["sent_at"] >= alice.expires_at]
    assert sent > 0 and late == [], f"{len(late)} message(s) stored after {alice.expires_at} reached the socket"


def test_an_expired_session_ends_its_engine_io_connection_too(brief):
    alice = Wallet().sign_in(brief)
    ws = websocket.create_connection(brief.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=TTL_S + TIMEOUT, suppress_origin=True)
    assert ws.recv().startswith("0{")
    ws.send("40" + json.dumps({"token": alice.token}))
    assert ws.recv().startswith("40{")
    frames = []
    while True:
        frame = ws.recv()
        if frame == "2":
            ws.send("3")
            continue
        if frame in ("", None):
            break
        frames.append(frame)
    assert frames[0].startswith('42["session:expired",') and frames[1:] == ["41", "1"]


def test_after_signing_in_again_the_client_resumes_by_rev_and_misses_nothing(brief, peers):
    alice, bob = Wallet(), Wallet().sign_in(brief)
    chat = new_chat(brief, bob, alice)
    a = peers(brief, alice.sign_in(brief))
    seen = a.join(chat["id"])["chat"]["rev"]
    a.wait("session:expired", timeout=TTL_S + TIMEOUT)
    missed = peers(brief, bob.sign_in(brief)).send(chat["id"], "while alice was away")["message"]
    again = peers(brief, alice.sign_in(brief)).join(chat["id"], since_rev=seen)
    assert [m["id"] for m in again["changes"]] == [missed["id"]]


def logout(server, token: str | None):
    return server.post("/api/auth/logout", token=token)


def renewed(server, token: str) -> str:
    r = server.post("/api/auth/renew", token=token)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def refused_everywhere(server, token: str) -> None:
    """The token is `unauthorized` on REST, for renewal and at socket connect."""
    for r in (server.get("/api/chats", token), server.post("/api/auth/renew", token=token)):
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    assert refusal(server, token) == {"message": "unauthorized"}


def test_a_sign_out_ends_the_token_and_every_renewal_of_it_and_nothing_else(server, wallets):
    (alice,) = wallets(1)
    tokens = [alice.token]
    for _ in range(5):
        tokens.append(renewed(server, tokens[-1]))
    other = Wallet(alice.account).sign_in(server)  # the same address signed in again: another session
    r = logout(server, tokens[2])
    assert r.status_code == 200 and r.json() == {}
    for token in tokens:
        refused_everywhere(server, token)
    assert logout(server, tokens[0]).status_code == 401, "signing out twice: its tokens are unauthorized by then"
    assert server.get("/api/chats", other.token).status_code == 200
    assert server.post("/api/auth/renew", token=other.token).status_code == 200


def test_a_sign_out_without_a_good_token_is_unauthorized_in_the_error_shape(server):
    for token in (None, "garbage"):
        r = logout(server, token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized" and r.json()["error"]["message"]


def test_a_signed_out_sessions_sockets_are_told_so_and_disconnected_and_the_others_go_on(server, peers):
    alice, bob = Wallet(), Wallet().sign_in(server)
    chat = new_chat(server, bob, alice)
    leaving = peers(server, alice.sign_in(server))
    renewal = peers(server, Wallet(alice.account, renewed(server, alice.token)))  # the same session, renewed
    staying = peers(server, Wallet(alice.account).sign_in(server))
    for peer in (leaving, renewal, staying):
        peer.join(chat["id"])
    assert logout(server, alice.token).status_code == 200
    for peer in (leaving, renewal):
        assert peer.wait("session:expired")["reason"] == "logout"
        wait_until(lambda peer=peer: not peer.sio.connected, what="the server to disconnect the signed-out socket")
    assert leaving.received("session:expired") == [{"expires_at": alice.expires_at, "reason": "logout"}]
    sent = staying.send(chat["id"], "still here")
    assert sent["ok"] and staying.wait("message", lambda m: m["id"] == sent["message"]["id"])
    assert staying.received("session:expired") == []


def test_a_sign_out_survives_a_restart(make_server):
    server = make_server()
    alice = Wallet().sign_in(server)
    renewal = renewed(server, alice.token)
    assert logout(server, renewal).status_code == 200
    server.stop()
    server.start()
    for token in (alice.token, renewal):
        refused_everywhere(server, token)
    assert server.get("/api/chats", Wallet(alice.account).sign_in(server).token).status_code == 200
