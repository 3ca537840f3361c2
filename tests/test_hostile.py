"""Hostile input: rate limits, oversized frames, foreign origins, malformed packets — the server serves on."""
from __future__ import annotations

import json
import threading

import pytest
import requests
import websocket

from support import TIMEOUT, Wallet, new_chat, refusal, wait_until


@pytest.fixture
def strict(make_server):
    """A server with a tight rate limit: bursts of 3, then one send per 20 s (no refill within a test, however slow)."""
    return make_server({"RATE_PER_S": "0.05", "RATE_BURST": "3"})


def raw_socket(server, token: str) -> websocket.WebSocket:
    """A bare engine.io websocket, connected to namespace '/' by hand, to send what no client library would."""
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=TIMEOUT, suppress_origin=True)
    assert ws.recv().startswith("0{")
    ws.send("40" + json.dumps({"token": token}))
    assert ws.recv().startswith("40{")
    return ws


def closes_without_reply(ws: websocket.WebSocket) -> bool:
    """True when the server closes the socket having sent nothing but (at most) engine.io pings."""
    try:
        while True:
            frame = ws.recv()
            if frame in ("", None):
                return True
            assert frame == "2", f"unexpected reply {frame[:80]!r}"
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        return True


def test_sends_over_the_rate_are_rate_limited_with_retry_after(strict, peers):
    alice, bob = Wallet().sign_in(strict), Wallet().sign_in(strict)
    chat = new_chat(strict, alice, bob)
    a = peers(strict, alice)
    assert all(a.send(chat["id"])["ok"] for _ in range(3))
    ack = a.send(chat["id"])
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited"
    assert isinstance(ack["error"]["retry_after_ms"], int) and 0 < ack["error"]["retry_after_ms"] <= 20_000


def test_rate_limit_counts_all_sockets_of_an_address_and_repeats(strict, peers):
    alice, bob = Wallet().sign_in(strict), Wallet().sign_in(strict)
    chat = new_chat(strict, alice, bob)
    a1, a2 = peers(strict, alice), peers(strict, alice)
    assert a1.send(chat["id"], client_id="same")["ok"]
    assert a2.send(chat["id"], client_id="same")["ok"]
    assert a1.send(chat["id"], client_id="same")["ok"]
    assert a2.send(chat["id"], client_id="same")["error"]["code"] == "rate_limited"
    assert peers(strict, bob).send(chat["id"])["ok"], "another address has its own budget"


def test_frame_over_the_packet_limit_closes_only_that_connection_and_stores_nothing(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    b = peers(server, bob)
    b.join(chat["id"])
    ws = raw_socket(server, alice.token)
    ws.send("42" + json.dumps(["send", {"chat_id": chat["id"], "client_id": "big", "body": "x" * 70_000}]))
    assert closes_without_reply(ws)
    assert b.send(chat["id"], "still served")["ok"]
    assert server.get(f"/api/chats/{chat['id']}", bob.token).json()["chat"]["last_seq"] == 1


@pytest.mark.parametrize("frame", [
    "42[", "42{}", "4", "42[1,2]", "43", "49", "42[\"send\"", "40{\"token\": 5}", "42[\"send\",\"x\"]",
    "42[\"send\",{\"chat_id\":[],\"client_id\":{},\"body\":null}]", "\x00\xff", "2probe", "6", "zzz",
])
def test_malformed_packets_never_crash_the_server_or_store_anything(server, wallets, peers, frame):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ws = raw_socket(server, alice.token)
    ws.send(frame)
    ws.send("421" + json.dumps(["send", {"chat_id": chat["id"], "client_id": "after", "body": "ok"}]))
    try:
        while True:
            reply = ws.recv()
            assert "Traceback" not in reply
            if reply.startswith("431"):
                assert json.loads(reply[3:])[0]["ok"] is True
                break
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        pass  # dropping a connection that spoke garbage is fine; serving the others is what matters
    ws.close()
    assert peers(server, bob).send(chat["id"], "others unaffected")["ok"]
    stored = server.get(f"/api/chats/{chat['id']}/messages", bob.token).json()["messages"]
    assert {m["body"] for m in stored} <= {"ok", "others unaffected"}


@pytest.mark.parametrize("frame", ["zzz", "", "b!!", "٣"])
def test_a_frame_that_is_no_engine_io_packet_ends_that_session_at_once_and_quietly(make_server, peers, frame):
    server = make_server()
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    b = peers(server, bob)
    b.join(chat["id"])
    ws = raw_socket(server, alice.token)
    ws.send("42" + json.dumps(["join", {"chat_id": chat["id"]}]))
    b.wait("presence", lambda p: p["address"] == alice.address and p["online"])
    ws.send(frame)
    assert closes_without_reply(ws)
    b.wait("presence", lambda p: p["address"] == alice.address and not p["online"])  # not at the ping timeout
    assert "Traceback" not in server.log()


def test_binary_and_invalid_utf8_frames_are_dropped_safely(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ws = raw_socket(server, alice.token)
    ws.send_binary(b"\xff\xfe\x00garbage")
    ws.send(b"42\xff\xfe".decode("latin-1"))
    ws.close()
    assert peers(server, bob).send(chat["id"])["ok"]


def test_socket_io_client_from_a_foreign_origin_is_refused_even_with_a_valid_token(server, wallets):
    (alice,) = wallets(1)
    assert refusal(server, alice.token, origin="https://evil.example")


def test_socket_from_an_allowed_origin_is_accepted(server, wallets, peers):
    (alice,) = wallets(1)
    assert peers(server, alice, origin="http://localhost:3000").sio.connected


def test_foreign_origin_is_refused_403_at_the_handshake(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                    timeout=TIMEOUT, origin="https://evil.example")
    assert refused.value.status_code == 403
    assert json.loads(refused.value.resp_body)["error"]["code"] == "forbidden"


def test_long_polling_transport_is_not_served(server):
    r = requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=TIMEOUT)
    assert r.status_code == 400 and not r.text.startswith("0{")


def test_a_client_that_stops_reading_is_cut_off_instead_of_buffered(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    a.join(chat["id"])
    done = threading.Semaphore(0)
    for i in range(50):
        a.sio.emit("send", {"chat_id": chat["id"], "client_id": f"big{i}", "body": "漢" * 4000},
                   callback=lambda _: done.release())
    for _ in range(50):
        assert done.acquire(timeout=TIMEOUT)
    ws = raw_socket(server, bob.token)  # never reads again
    join = json.dumps(["join", {"chat_id": chat["id"]}])  # each answer is ~600 KB
    try:
        for ack_id in range(100):
            ws.send(f"42{ack_id}{join}")
    except OSError:
        pass  # already cut off: what the test waits for below
    assert a.wait("presence", lambda p: p["address"] == bob.address and not p["online"])
    assert a.send(chat["id"], "others unaffected")["ok"]
    ws.close()


def test_binary_packet_attachments_drop_the_connection(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    ws = raw_socket(server, alice.token)
    ws.send('451-["send",{"chat_id":"%s","client_id":"bin","body":{"_placeholder":true,"num":0}}]' % chat["id"])
    assert closes_without_reply(ws)
    assert server.get(f"/api/chats/{chat['id']}", bob.token).json()["chat"]["last_seq"] == 0


@pytest.mark.parametrize("event", ["connect", "disconnect", "connect_error"])
def test_reserved_event_names_are_refused_and_leave_the_session_intact(server, wallets, peers, event):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a, b = peers(server, alice), peers(server, bob)
    a.join(chat["id"])
    b.join(chat["id"])
    ack = a.call(event, {"token": bob.token})
    assert ack["ok"] is False and ack["error"]["code"] == "invalid" and event in ack["error"]["message"]
    assert a.send(chat["id"], "still me")["message"]["sender"] == alice.address
    a.close()
    assert b.wait("presence", lambda p: not p["online"])["address"] == alice.address


@pytest.mark.parametrize("payload", ['{"chat_id":"c","client_id":"x","body":"\\ud83d"}', '{"chat_id":"c","since_rev":1e400}'])
def test_undecodable_event_payload_is_answered_invalid(server, wallets, payload):
    (alice,) = wallets(1)
    ws = raw_socket(server, alice.token)
    ws.send('427["send",' + payload + "]")
    reply = ws.recv()
    while reply == "2":
        ws.send("3")
        reply = ws.recv()
    assert reply.startswith("437[")
    assert json.loads(reply[3:])[0]["error"]["code"] == "invalid"


def test_typing_floods_are_rate_limited(make_server, peers):
    server = make_server({"EVENT_RATE_PER_S": "0.05", "EVENT_RATE_BURST": "5"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    acks = [a.call("typing", {"chat_id": chat["id"], "typing": True}) for _ in range(6)]
    assert [ack["ok"] for ack in acks] == [True] * 5 + [False]
    assert acks[-1]["error"]["code"] == "rate_limited" and acks[-1]["error"]["retry_after_ms"] > 0
    assert a.send(chat["id"])["ok"], "sends have their own budget"


def test_unknown_events_spend_the_same_budget_as_typing(make_server, peers):
    server = make_server({"EVENT_RATE_PER_S": "0.05", "EVENT_RATE_BURST": "5"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    acks = [a.call("no-such-event", {}) for _ in range(5)]
    assert [ack["error"]["code"] for ack in acks] == ["invalid"] * 5
    after = a.call("typing", {"chat_id": chat["id"], "typing": True})
    assert after["error"]["code"] == "rate_limited"


def test_an_engine_io_session_that_never_signs_in_is_dropped_at_its_first_ping(make_server):
    server = make_server({"PING_INTERVAL_S": "0.5"})
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=TIMEOUT, suppress_origin=True)
    assert ws.recv().startswith("0{")
    assert closes_without_reply(ws)


def test_one_address_may_hold_only_so_many_sockets(make_server, peers):
    server = make_server({"MAX_SOCKETS_PER_ADDRESS": "2"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    first, second = peers(server, alice), peers(server, alice)
    assert refusal(server, alice.token) == {"message": "rate_limited"}
    assert peers(server, bob).sio.connected, "another address has its own allowance"
    first.close()
    wait_until(lambda: server.get("/api/health").json()["connections"] == 2, TIMEOUT, "the first socket to be gone")
    assert peers(server, alice).sio.connected and second.sio.connected
