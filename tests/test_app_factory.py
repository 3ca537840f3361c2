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
from pathlib import Path

import gevent
import pytest
import redis
from geventwebsocket.websocket import WebSocket

from optimistic_messaging.app import BACKGROUND, create_app
from optimistic_messaging.background import Background
from optimistic_messaging.config import Config
from optimistic_messaging.redisconn import key_prefix

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
    background: Background = app.extensions[BACKGROUND]
    background.start()
    assert (tmp_path / "messages.json").exists()  # the log opened by start(), not by building
    started = running() - before
    assert len(started) >= 5  # the store's writer, the reconciler, the pinger, session and typing expiry
    background.close()
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
