"""The app factory is pure (flaskr style): building the app, in this process, starts no thread or greenlet, patches
no library, configures no logging, leaves the collector alone and writes no file; reading the configuration writes
no secret either. The process boot (optimistic_messaging/boot.py) does all of those, and every other test runs the
server through it."""
from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import gevent
import pytest
from geventwebsocket.websocket import WebSocket

from optimistic_messaging.app import BACKGROUND, create_app
from optimistic_messaging.background import Background
from optimistic_messaging.config import Config


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
