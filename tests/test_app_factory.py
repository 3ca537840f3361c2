"""The app factory is pure (flaskr style): building the app, in this process, starts no thread or greenlet, patches
no library, configures no logging, leaves the collector alone and writes no file; reading the configuration writes
no secret either. The process boot (optimistic_messaging/boot.py) does all of those, and every other test runs the
server through it."""
from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
import redis
from eth_account import Account
from flask import Flask
from geventwebsocket.websocket import WebSocket

from optimistic_messaging import wire
from optimistic_messaging.app import NODE, create_app
from optimistic_messaging.auth.tx import TxLookup
from optimistic_messaging.config import Config
from optimistic_messaging.connections import Connection
from optimistic_messaging.hub import address_room, chat_room
from optimistic_messaging.node import Node
from optimistic_messaging.redisconn import key_prefix
from optimistic_messaging.verifiers.rpc import JsonRpc

from cluster import REDIS_URL
from support import ROOT, fresh_database


def running() -> set[object]:
    """Every thread and every greenlet spawned and not yet finished, in this process."""
    greenlets = {obj for obj in gc.get_objects() if isinstance(obj, gevent.Greenlet) and not obj.dead}
    return {*threading.enumerate(), *greenlets}


def test_building_the_app_starts_nothing_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    collector, before = (gc.get_threshold(), gc.get_freeze_count()), running()
    patched, handlers = WebSocket.read_message, list(logging.getLogger().handlers)
    app = create_app(Config(data_file=data / "messages.json", secret_key="k" * 32))
    assert "socketio" in app.extensions
    assert (gc.get_threshold(), gc.get_freeze_count()) == collector  # (a frozen greenlet is hidden from the next)
    assert running() - before == set()
    assert (WebSocket.read_message, logging.getLogger().handlers) == (patched, handlers)
    assert list(data.iterdir()) == []


def test_reading_the_configuration_writes_no_secret_and_refuses_to_run_without_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Config.from_env({"DATA_FILE": str(tmp_path / "m.json")})
    assert list(tmp_path.iterdir()) == []


def test_the_boots_one_start_runs_every_loop_and_its_one_close_stops_them(tmp_path: Path) -> None:
    before = running()
    app = create_app(Config(data_file=tmp_path / "messages.json", secret_key="k" * 32))
    node: Node = app.extensions[NODE]
    node.start()
    assert (tmp_path / "messages.json").exists()  # the log opened by start(), not by building
    started = running() - before
    assert len(started) >= 5  # the store's writer, the reconciler, the pinger, session and typing expiry
    node.close()
    assert running() - before == set()


class Sockets:
    """Sockets of an app built and started in this process, opened and driven through its Socket.IO server's own
    entry points (what engine.io calls), with no network: the node's bookkeeping can be read as it is."""

    def __init__(self, app: Flask) -> None:
        self.services = app.extensions["optimistic_messaging"]
        self.node: Node = app.extensions[NODE]
        self.sio = app.extensions["socketio"].server
        self.handlers = self.sio.namespace_handlers["/"]

    def connect(self, address: str) -> Connection:
        eio_sid = uuid.uuid4().hex
        self.sio._handle_eio_connect(eio_sid, {})
        self.sio._handle_connect(eio_sid, "/", {"token": self.services.auth.tokens.issue(address).token})
        conn = self.services.connections.get(self.sio.manager.sid_from_eio_sid(eio_sid, "/"))
        assert conn is not None
        return conn

    def event(self, conn: Connection, event: str, data: object) -> dict[str, object]:
        answer: dict[str, object] = self.handlers.trigger_event(event, conn.sid, data)
        return answer

    def chat_of_two(self) -> tuple[str, str, str]:
        """Two new addresses and the id of their chat."""
        alice, bob = Account.create().address, Account.create().address
        return alice, bob, self.services.chats.create(alice, [bob], None, None)[0].id

    def disconnect(self, conn: Connection) -> None:
        self.sio._handle_eio_disconnect(self.sio.manager.eio_sid_from_sid(conn.sid, "/"), "client disconnect")

    def following(self, conn: Connection, chat_id: str) -> tuple[bool, bool, bool]:
        """Whether the socket is in the chat's room, in its connection's chats, in the chat's presence."""
        return (
            conn.sid in wire.in_room(self.sio, chat_room(chat_id)),
            chat_id in conn.chats,
            conn.sid in self.services.presence.sids(chat_id, conn.address),
        )

    def served(self, chat_id: str) -> bool:
        """The fan-out serves the chat exactly while some socket here is in its room."""
        served = chat_id in self.node.fanout.served
        assert served == bool(wire.in_room(self.sio, chat_room(chat_id)))
        return served


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(Config(data_file=tmp_path / "messages.json", secret_key="k" * 32))
    app.extensions[NODE].start()
    yield app
    app.extensions[NODE].close()


def test_join_leave_disconnect_and_removal_change_a_sockets_room_chats_presence_and_fanout_together(
    started: Flask,
) -> None:
    sockets = Sockets(started)
    alice, bob, carol = (Account.create().address for _ in range(3))
    chat, _ = sockets.services.chats.create(alice, [bob, carol], None, "group")
    a, b = sockets.connect(alice), sockets.connect(bob)
    assert sockets.following(a, chat.id) == (False, False, False) and not sockets.served(chat.id)

    assert sockets.event(a, "join", {"chat_id": chat.id})["ok"] is True
    assert sockets.following(a, chat.id) == (True, True, True) and sockets.served(chat.id)
    assert sockets.event(b, "join", {"chat_id": chat.id})["online"] == sorted([alice, bob])

    assert sockets.event(a, "leave", {"chat_id": chat.id}) == {"ok": True}
    assert sockets.following(a, chat.id) == (False, False, False)
    assert sockets.services.presence.online(chat.id) == [bob] and sockets.served(chat.id)

    sockets.event(a, "join", {"chat_id": chat.id})
    sockets.services.chats.remove_member(alice, chat.id, bob)  # bob's socket is told, then stops following
    assert sockets.following(b, chat.id) == (False, False, False)
    assert sockets.following(a, chat.id) == (True, True, True)

    sockets.disconnect(a)
    assert sockets.following(a, chat.id) == (False, False, False) and not sockets.served(chat.id)
    assert sockets.services.connections.get(a.sid) is None


@pytest.mark.parametrize("part, step", [("store", "late_members"), ("presence", "join")])
def test_a_socket_closed_while_a_step_of_its_join_yields_is_not_left_online(
    started: Flask, monkeypatch: pytest.MonkeyPatch, part: str, step: str
) -> None:
    """PostgreSQL and Redis calls yield: the sweeper, a sign-out or the pinger can end the socket meanwhile."""
    sockets = Sockets(started)
    alice, _, chat_id = sockets.chat_of_two()
    a = sockets.connect(alice)
    target = getattr(sockets.services, part)
    original = getattr(target, step)

    def disconnected_meanwhile(*args: object) -> object:
        monkeypatch.setattr(target, step, original)
        answer = original(*args)
        sockets.disconnect(a)
        return answer

    monkeypatch.setattr(target, step, disconnected_meanwhile)
    assert sockets.event(a, "join", {"chat_id": chat_id})["ok"] is False
    assert sockets.following(a, chat_id) == (False, False, False) and not sockets.served(chat_id)
    assert sockets.services.presence.online(chat_id) == []


def test_a_failed_join_tells_nobody_it_is_online_and_follows_nothing(
    started: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    sockets = Sockets(started)
    alice, bob, chat_id = sockets.chat_of_two()
    a, b = sockets.connect(alice), sockets.connect(bob)
    assert sockets.event(b, "join", {"chat_id": chat_id})["ok"] is True
    told: list[tuple[object, ...]] = []
    monkeypatch.setattr(sockets.services.signals, "send", lambda *signal: told.append(signal))

    def fails(*args: object) -> object:
        raise RuntimeError("the store's read failed")

    monkeypatch.setattr(sockets.services.store, "page", fails)
    assert sockets.event(a, "join", {"chat_id": chat_id}) == {
        "ok": False, "error": {"code": "internal", "message": "internal error; it has been logged"}}
    assert told == []  # bob's socket heard no "online" from alice
    assert sockets.following(a, chat_id) == (False, False, False)
    assert sockets.services.presence.online(chat_id) == [bob]


def test_the_guard_refuses_an_event_not_named_by_a_string_in_the_error_shape(started: Flask) -> None:
    sockets = Sockets(started)
    conn = sockets.connect(Account.create().address)
    answer = sockets.handlers.trigger_event(["join"], conn.sid, {})
    assert answer["ok"] is False and answer["error"]["code"] == "invalid"


def test_every_signed_in_socket_follows_its_addresss_feed_until_it_disconnects(started: Flask) -> None:
    sockets = Sockets(started)
    alice = Account.create().address
    first, second = sockets.connect(alice), sockets.connect(alice)
    assert set(wire.in_room(sockets.sio, address_room(alice))) == {first.sid, second.sid}
    sockets.disconnect(first)
    assert wire.in_room(sockets.sio, address_room(alice)) == [second.sid]


def test_closing_the_node_stops_every_greenlet_it_started_a_sign_out_being_carried_out_too(tmp_path: Path) -> None:
    before = running()
    app = create_app(Config(data_file=tmp_path / "messages.json", secret_key="k" * 32))
    node: Node = app.extensions[NODE]
    assert running() - before == set() and len(node.greenlets) == 0  # built, not started: nothing runs
    node.start()
    sockets = Sockets(app)
    alice = Account.create().address
    conn = sockets.connect(alice)
    sockets.services.auth.revocations.revoke(conn.session, sockets.services.clock.now_ms() + 60_000)
    assert len(node.greenlets) > len(node.loops)  # the sign-out is being carried out in a greenlet of the node's
    reconciler = sockets.services.reconciler
    reconciler.pool.spawn(gevent.sleep, 60)  # an XMTP look-up in flight
    reconciler.writes.spawn(gevent.sleep, 60)  # a settlement write in flight
    reconciler._counted_at -= 60  # health's next status() counts the provisional messages in a greenlet
    reconciler.status()
    auth = sockets.services.auth
    auth.tx = TxLookup(JsonRpc("http://127.0.0.1:9"), sockets.services.clock)
    auth.tx._poller = gevent.spawn(gevent.sleep, 60)  # sign-ins by transaction waiting for the chain's node
    node.close()
    assert running() - before == set()
    reconciler._counted_at -= 60
    reconciler.status()  # health asked after the close: no count starts
    assert running() - before == set()


SHARED_NODE = """
from gevent import monkey; monkey.patch_all()  # as the boot does: psycopg and redis then wait by yielding
import gc, json, sys
from pathlib import Path
import gevent
from optimistic_messaging.backends import open_backends
from optimistic_messaging.clock import SystemClock
from optimistic_messaging.config import Config

def running():
    return {repr(g) for g in gc.get_objects() if isinstance(g, gevent.Greenlet) and not g.dead}

before = running()
config = Config(data_file=Path(sys.argv[1]), secret_key="k" * 32, database_url=sys.argv[2], redis_url=sys.argv[3])
backends = open_backends(config, SystemClock())
backends.open()
backends.start()
with gevent.Timeout(20):  # each part at work: listening, leading, hearing the other nodes
    while not (backends.broker.healthy() and backends.leadership.is_leader() and backends.signals.listening):
        gevent.sleep(0.05)
started = running() - before
backends.close()
print(json.dumps({"started": sorted(started), "left": sorted(running() - before)}))
"""


def test_the_shared_backends_close_stops_every_greenlet_they_started(tmp_path: Path) -> None:
    """PostgreSQL and Redis, at work in a patched process as the boot runs them: the store's writer and probe, the
    broker's LISTEN and heartbeat, the election, Redis's heartbeat and sweep and the signals' receiver all end with
    `close()`."""
    database = fresh_database()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "backend")}
    done = subprocess.run([sys.executable, "-c", SHARED_NODE, str(tmp_path / "messages.json"), database, REDIS_URL],
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=key_prefix(database) + "*"):  # the node's heartbeat and nonce ledger
        client.delete(key)
    started = " ".join(report["started"])
    for part in ("PgStore._write_loop", "PgStore._probe_loop", "PgBroker._listen", "PgBroker._heartbeat",
                 "AdvisoryLock._run", "Redis._beat", "Redis._sweep", "RedisSignals._receive"):
        assert part in started
    assert report["left"] == []
