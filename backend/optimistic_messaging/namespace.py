"""The contract's socket events, as one Socket.IO namespace ('/'): each handler validates, calls the domain (services,
the node's subscriptions) and answers; `trigger_event` is the one guard around them all."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
import socketio

from . import validation as v
from .connections import Connection
from .errors import ApiError, internal, refused
from .logs import CONTEXT
from .node import Node
from .services import Services
from .stats import METER
from .wire import Later

log = logging.getLogger(__name__)

JOIN_PAGE = 50
Answer = dict[str, Any] | Later
Handler = Callable[[Connection, Any], Answer]


class Handlers(socketio.Namespace):
    """Every event but connect and disconnect runs through the guard: signed in, not expired, not signed out, within
    the address's event budget (a send has its own), one payload; answered `{"ok": true, ...}` or the error shape."""

    pipelined = frozenset({"send"})  # answered `Later`, once durable: the socket's next sends are read meanwhile
    own_budget = frozenset({"send"})  # sends spend RATE_PER_S, counted in messaging, not the event budget

    def __init__(self, services: Services, node: Node) -> None:
        super().__init__("/")
        self.s = services
        self.node = node
        self.handlers: dict[str, Handler] = {
            "join": self.on_join,
            "leave": self.on_leave,
            "send": self.on_send,
            "attest": self.on_attest,
            "mark": self.on_mark,
            "react": self.on_react,
            "delete": self.on_delete,
            "typing": self.on_typing,
        }

    def trigger_event(self, event: str, *args: Any) -> Any:
        """python-socketio's dispatch (args: sid, then the payloads), with the guard: answers `{"ok": true, ...}` or
        the error shape, never a traceback. An unknown event is refused, and spends from the budget like any other
        (refusing it is work too)."""
        if event == "connect":
            return self.on_connect(*args)
        if event == "disconnect":
            return self.on_disconnect(*args)
        sid, payloads = args[0], args[1:]
        if not isinstance(event, str):  # wire refuses such packets; this guard must not raise on them either
            return refused(ApiError("invalid", "an event is named by a string"))
        handler = self.handlers.get(event)
        if handler is None:
            handler, payloads, event = self.on_unknown, (event,), event[:64]
        s = self.s
        conn = s.connections.get(sid)
        CONTEXT.set({"sid": sid, "address": conn and conn.address, "event": event})
        try:
            if conn is None:
                raise ApiError("unauthorized", "this connection is not signed in")
            if conn.expires_at <= s.clock.now_ms():
                raise ApiError("unauthorized", "the session has expired: sign in again and reconnect")
            if conn.session in s.auth.revocations:  # its socket is being disconnected
                raise ApiError("unauthorized", "this session was signed out: sign in again")
            if event not in self.own_budget:
                s.limits.events.take(conn.address)
            if len(payloads) > 1:
                raise ApiError("invalid", f"'{event}' takes one payload object")
            return handler(conn, payloads[0] if payloads else None)
        except ApiError as exc:
            log.debug("%s refused: %s", event, exc.code)
            return refused(exc)
        except Exception:
            log.exception("%s handler failed", event)
            return refused(internal())

    def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        s = self.s
        auth = auth if isinstance(auth, dict) else {}
        try:
            identity = s.auth.identify(auth.get("token"))
            features = v.features(auth)
            conn = s.connections.open(sid, identity.address, identity.expires_at, identity.session, features)
            if identity.session in s.auth.revocations:  # signed out while the socket quota was being counted
                s.connections.close(sid)
                raise ApiError("unauthorized", "this session was signed out: sign in again")
            self.node.sweeper.opened(identity.expires_at)
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.code) from None
        try:
            self.node.subscriptions.open(conn)  # reads the address's chats at its first socket here
        except ApiError as exc:
            self.on_disconnect(sid)
            raise socketio.exceptions.ConnectionRefusedError(exc.code) from None
        environ.clear()  # a copy python-socketio would keep for the connection's life; nothing here reads it again

    def on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self.s.connections.close(sid)
        if conn is not None:
            self.node.subscriptions.close(conn)

    def on_join(self, conn: Connection, data: Any) -> dict[str, Any]:
        s = self.s
        payload = v.obj(data)
        chat_id = v.chat_id(payload)
        since_rev = v.optional_int(payload, "since_rev")
        first = s.chats.require_member(conn.address, chat_id)
        # Subscribe, then read: every change after the read reaches this socket as an event (one between the two can
        # come both ways: clients de-duplicate by id). Online only once the read succeeded; a failed join follows
        # nothing.
        subscriptions = self.node.subscriptions
        if not subscriptions.join(conn, chat_id, first):
            raise ApiError("unauthorized", "this connection was closed")
        try:
            if since_rev is None:
                changes, has_more = s.chats.page_from(chat_id, None, None, JOIN_PAGE, first)
            else:
                changes, has_more = s.chats.changes_from(chat_id, since_rev, first)
            chat = s.store.view(chat_id, conn.address)
            receipts = s.receipts.of_join(chat_id, conn.address, first)
            if not subscriptions.arrive(conn, chat_id):
                raise ApiError("unauthorized", "this connection was closed")
        except BaseException:
            subscriptions.leave(conn, chat_id)
            raise
        return {
            "ok": True,
            "chat": chat,
            "changes": changes,
            "has_more": has_more,
            "online": s.presence.online(chat_id),
            "receipts": receipts,
        }

    def on_leave(self, conn: Connection, data: Any) -> dict[str, Any]:
        self.node.subscriptions.leave(conn, v.chat_id(v.obj(data)))
        return {"ok": True}

    def on_send(self, conn: Connection, data: Any) -> Later:
        """Answered once durable; meanwhile the socket's next sends are read and join the same group commit."""
        clock = self.s.clock
        started = clock.monotonic()
        try:
            pending = self.s.messaging.send(conn.address, data)
        except ApiError as exc:
            METER.acks.add(exc.code)
            raise

        def answer() -> dict[str, Any]:
            try:
                message, _, encoded = pending.get()
            except ApiError as exc:
                METER.acks.add(exc.code)
                return refused(exc)
            METER.acks.add("ok")
            METER.ack_seconds.observe(clock.monotonic() - started)
            self.node.subscriptions.sent(message.chat_id, conn.address)
            return {"ok": True, "message": message if encoded is None else orjson.Fragment(encoded)}

        return Later(pending, answer)

    def on_attest(self, conn: Connection, data: Any) -> dict[str, Any]:
        return {"ok": True, "message": self.s.messaging.attest(conn.address, data)}

    def on_mark(self, conn: Connection, data: Any) -> dict[str, Any]:
        return self.s.receipts.mark(conn.address, data)

    def on_react(self, conn: Connection, data: Any) -> dict[str, Any]:
        return {"ok": True, "message": self.s.messaging.react(conn.address, data)}

    def on_delete(self, conn: Connection, data: Any) -> dict[str, Any]:
        return {"ok": True, "message": self.s.messaging.delete(conn.address, data)}

    def on_typing(self, conn: Connection, data: Any) -> dict[str, Any]:
        payload = v.obj(data)
        chat_id = v.chat_id(payload)
        flag = payload.get("typing")
        if not isinstance(flag, bool):
            raise ApiError("invalid", "'typing' must be true or false")
        self.s.chats.require_member(conn.address, chat_id)
        self.node.subscriptions.typing(chat_id, conn.address, flag)
        return {"ok": True}

    def on_unknown(self, conn: Connection, event: Any) -> dict[str, Any]:
        raise ApiError("invalid", f"unknown event {str(event)[:64]!r}")
