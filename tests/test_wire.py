"""The fast path into library internals: pinned versions, exact frames, order kept under partial writes."""
from __future__ import annotations

import threading

import gevent
import gevent.queue
import pytest
import websocket

from optimistic_messaging import wire
from optimistic_messaging.wire import frames

from support import TIMEOUT, new_chat

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store


def test_install_refuses_library_versions_it_was_not_written_for(monkeypatch):
    monkeypatch.setattr(wire, "version", lambda name: "0.0.1")
    with pytest.raises(RuntimeError, match="re-check its internals"):
        wire.install(65536, ["http://localhost:3000"], 10, lambda environ: None)


def test_installed_versions_are_the_pinned_ones():
    assert {name: wire.version(name) for name in wire.PINNED} == wire.PINNED


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_text_frames_carry_rfc_6455_length_encodings(size):
    payload = bytes(size)
    built = wire.text_frame(payload)
    assert built[0] == 0x81  # FIN + text, unmasked
    if size < 126:
        assert built[1] == size and built[2:] == payload
    elif size < 65536:
        assert built[1] == 126 and int.from_bytes(built[2:4], "big") == size and built[4:] == payload
    else:
        assert built[1] == 127 and int.from_bytes(built[2:10], "big") == size and built[10:] == payload


def test_lean_queue_hands_items_over_in_order_and_times_out_empty():
    q = wire.LeanQueue()
    for item in "abc":
        q.put(item)
    assert [q.get(), q.get(block=False), q.get(timeout=0.1)] == ["a", "b", "c"]
    with pytest.raises(gevent.queue.Empty):
        q.get(block=False)
    with pytest.raises(gevent.queue.Empty):
        q.get(timeout=0.01)


def test_lean_queue_wakes_a_waiting_getter_and_join_waits_for_task_done():
    q = wire.LeanQueue()
    getter = gevent.spawn(q.get)
    gevent.sleep(0)
    q.put("x")
    assert getter.get(timeout=1) == "x"
    joiner = gevent.spawn(q.join)
    gevent.sleep(0)
    assert not joiner.ready()
    q.task_done()
    assert joiner.get(timeout=1) is True


def test_huge_ack_and_the_broadcasts_behind_it_arrive_whole_and_in_order(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    body = "漢" * 4000  # 12 KB of UTF-8 per message: a full catch-up page is ~3 MB, far beyond a socket buffer
    done = threading.Semaphore(0)
    for i in range(500):
        a.sio.emit("send", {"chat_id": chat["id"], "client_id": f"big{i}", "body": body}, callback=lambda _: done.release())
    for _ in range(500):
        assert done.acquire(timeout=TIMEOUT)
    b = peers(server, bob)
    b.join(chat["id"])  # subscribe first, so the next join's huge ack competes with live broadcasts
    acks: list[dict] = []
    answered = threading.Event()
    b.sio.emit("join", {"chat_id": chat["id"], "since_rev": 0}, callback=lambda ack: (acks.append(ack), answered.set()))
    for i in range(20):
        a.sio.emit("send", {"chat_id": chat["id"], "client_id": f"after{i}", "body": "live"})
    last = b.wait("message", lambda m: m["seq"] == 520)
    assert last["body"] == "live"
    assert [m["seq"] for m in b.received("message")] == list(range(501, 521))
    assert answered.wait(TIMEOUT)
    page = acks[0]
    assert len(page["changes"]) == 250 and page["has_more"] is True, "a page stops at about 1,000,000 characters"
    assert page["changes"][0]["body"] == body and [m["seq"] for m in page["changes"]] == list(range(1, 251))


def test_frame_announcing_more_than_the_limit_is_refused_before_it_is_read(server, wallets, peers):
    (alice,) = wallets(1)
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=TIMEOUT, suppress_origin=True)
    ws.recv()
    # A header claiming 1 GiB, then nothing: the server must close rather than wait to buffer it.
    ws.sock.sendall(bytes([0x81, 0xFF]) + (1 << 30).to_bytes(8, "big") + b"\x00\x00\x00\x00")
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        while True:
            if ws.recv() in ("", None):
                raise ConnectionError("closed")
    assert peers(server, alice).sio.connected


def test_fragmented_message_over_the_limit_closes_the_connection(server, wallets, peers):
    (alice,) = wallets(1)
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=TIMEOUT, suppress_origin=True)
    ws.recv()
    ws.send_frame(websocket.ABNF.create_frame("4" + "x" * 60_000, websocket.ABNF.OPCODE_TEXT, fin=0))
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, BrokenPipeError)):
        for _ in range(10):
            ws.send_frame(websocket.ABNF.create_frame("x" * 60_000, websocket.ABNF.OPCODE_CONT, fin=0))
            if ws.recv() in ("", None):
                raise ConnectionError("closed")
    assert peers(server, alice).sio.connected


def test_websocket_ping_is_answered_with_its_payload(server, wallets):
    (alice,) = wallets(1)
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     timeout=TIMEOUT, suppress_origin=True)
    ws.recv()
    ws.ping("are-you-there")
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PONG and frame.data == b"are-you-there"


def test_lean_queue_stays_fifo_across_many_items():
    q = wire.LeanQueue()
    for i in range(1000):
        q.put(i)
    taken = [q.get() for _ in range(600)]
    for i in range(1000, 1100):
        q.put(i)
    taken += [q.get(block=False) for _ in range(500)]
    assert taken == list(range(1100)) and q.qsize() == 0
