"""Sessions end with their tokens: an expired socket is told so and closed; the client signs in again and resumes."""
from __future__ import annotations

import json

import pytest
import websocket

from support import TIMEOUT, Wallet, new_chat, wait_until

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
    assert expired == {"expires_at": alice.expires_at}
    wait_until(lambda: not a.sio.connected, what="the server to disconnect the socket")
    assert peers(brief, bob.sign_in(brief)).send(chat["id"], "after alice's session ended")["ok"]
    assert a.received("message") == []


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
