"""Commits of every node, through PostgreSQL: LISTEN to the notifications each commit makes in its own transaction
(PostgreSQL delivers them in commit order); this node's own commits are handed on directly, without the round trip.

A lost LISTEN connection, or one that has silently stopped delivering (found by a heartbeat this node notifies
itself), is replaced, and readers are told to resync: whatever was committed meanwhile is read back from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import gevent
import psycopg

from ..clock import Clock
from ..errors import ApiError
from ..models import Message
from ..pgdown import DOWN
from ..store import ChatChanged, Commit, Listener, Store, Stored
from . import Resync
from .notify import CHANNEL, decode_notification, encode_heartbeat, head

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0  # how often this node notifies itself; twice that without one back and LISTEN is reconnected
RESYNC_S = 30.0  # how often readers check what they hold against the store, whatever the notifications said
RETRY_S = (0.2, 0.5, 1.0, 2.0)  # between attempts to LISTEN again


class NotifiedStore(Store, Protocol):
    """What the broker needs of the store beyond its interface: PostgreSQL's, whose commits notify."""

    def query(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """One statement: the heartbeat's notification, sent on the store's pool because the broker's own connection
        is held by LISTEN (and a notification the database cannot take must fail here, not stall the listener)."""

    def at_rev(self, chat_id: str, rev: int) -> Message | None:
        """The message whose last change was `rev` (a notification's pointer to one too large to carry)."""

    def answering(self) -> bool:
        """Whether the database answers, asking it now if it was found away."""


class PgBroker:
    def __init__(self, url: str, store: NotifiedStore, node: str, clock: Clock) -> None:
        self.url = url
        self.store = store
        self.clock = clock
        self.node = node
        self._own = head(self.node).decode()
        self._listeners: list[Listener] = []
        self._resyncs: list[Resync] = []
        self._listening = False
        self._heard_at = clock.monotonic()
        self._conn: psycopg.Connection | None = None
        self._loops: list[gevent.Greenlet] = []  # the listener and the heartbeat
        store.subscribe(self._publish)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def on_resync(self, callback: Resync) -> None:
        self._resyncs.append(callback)

    def start(self) -> None:
        self._loops = [gevent.spawn(self._listen), gevent.spawn(self._heartbeat)]

    def close(self) -> None:
        """Stop listening and beating; the LISTEN connection closes as the listener ends."""
        gevent.killall(self._loops)
        self._loops = []
        if self._conn is not None:
            self._conn.close()

    def healthy(self) -> bool:
        return self._listening

    def _publish(self, commit: Commit) -> None:
        for listener in self._listeners:
            try:
                listener(commit)
            except Exception:
                log.exception("commit listener failed")

    def _listen(self) -> None:
        failures = 0
        while True:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
                self._conn.execute(f"LISTEN {CHANNEL}")
                self._listening, self._heard_at, failures = True, self.clock.monotonic(), 0
                self.store.answering()  # back after an outage: reads are refused until the probe says so
                self._resync()  # whatever was committed while nobody here listened
                for notify in self._conn.notifies():
                    self._heard_at = self.clock.monotonic()
                    self._received(notify.payload)
            except DOWN as exc:
                if self._listening:
                    log.warning("lost the database's notifications (%s); listening again", exc)
            finally:
                self._listening = False
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
            gevent.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
            failures += 1

    def _received(self, payload: str) -> None:
        if payload.startswith(self._own):
            return  # handed on when it committed: not even decoded
        try:
            notice = decode_notification(payload)
        except (ValueError, TypeError, KeyError):
            log.warning("a notification that is not ours on %s: %.200s", CHANNEL, payload)
            return
        stored = list(notice.stored)
        chats = []
        try:
            for (
                chat_id,
                rev,
                new,
            ) in notice.pointers:  # too large to carry: read back (changed since: a later one follows)
                message = self.store.at_rev(chat_id, rev)
                if message is not None:
                    stored.append(Stored(message, new))
            for chat_id, removed, erased, starts in notice.chats:
                chat = erased or self.store.chat(chat_id)
                if chat is not None:
                    added, visible_from = starts or ((), None)
                    chats.append(ChatChanged(chat, added, removed, visible_from))
        except ApiError as exc:  # the database went away meanwhile: readers find the gap and fill it later
            log.warning("could not read back what a notification points to: %s", exc)
        if stored or chats or notice.revoked or notice.positions or notice.confirmed:
            stored.sort(key=lambda s: (s.message.chat_id, s.message.rev))
            revoked, positions, confirmed = tuple(notice.revoked), tuple(notice.positions), tuple(notice.confirmed)
            self._publish(Commit(tuple(stored), tuple(chats), revoked, positions, confirmed))

    def _heartbeat(self) -> None:
        """Notify ourselves now and then: a LISTEN connection that hears nothing back for two beats is replaced; and
        every RESYNC_S, the readers' safety check."""
        beats = 0
        while True:
            gevent.sleep(HEARTBEAT_S)
            if not self._listening:
                continue
            beats += 1
            if beats % int(RESYNC_S / HEARTBEAT_S) == 0:
                self._resync()
            try:
                self.store.query("SELECT pg_notify(%s, %s)", (CHANNEL, encode_heartbeat(self.node)))
            except Exception as exc:
                log.debug("heartbeat not sent: %s", exc)
                continue
            if self.clock.monotonic() - self._heard_at > 2 * HEARTBEAT_S and self._conn is not None:
                log.warning(
                    "no notification for %.0f s, not even our own heartbeat: listening again",
                    self.clock.monotonic() - self._heard_at,
                )
                self._conn.close()

    def _resync(self) -> None:
        for callback in self._resyncs:
            try:
                callback()
            except ApiError as exc:  # the store away again: the next resync reads what this one could not
                log.warning("resync failed: %s", exc.message)
            except Exception:
                log.exception("resync failed")

    def __repr__(self) -> str:
        return f"PgBroker(node={self.node!r})"
