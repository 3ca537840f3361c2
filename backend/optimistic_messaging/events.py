"""Socket.IO handlers: authenticated connections, rooms per chat, acks in the contract's shape."""
from __future__ import annotations

import logging
from functools import wraps
from typing import Any, Callable

import gevent
import socketio

from . import validation as v
from .errors import ApiError
from .models import Message, now_ms
from .services import Connection, Services
from .wire import broadcast, broadcast_many

log = logging.getLogger(__name__)

JOIN_PAGE = 50
Handler = Callable[[Connection, str, Any], dict[str, Any] | None]


def room(chat_id: str) -> str:
    """Rooms are prefixed so that no chat id can name a socket's own sid room."""
    return "chat:" + chat_id


def register(sio: socketio.Server, s: Services) -> None:
    """Wire every event of the contract onto the Socket.IO server."""

    def handler(event: str, limited: bool = True) -> Callable[[Handler], Handler]:
        """Answer `{"ok": true, ...}` or the error shape; never let a bad payload escape as a traceback."""
        def decorate(fn: Handler) -> Handler:
            @wraps(fn)
            def run(sid: str, data: Any = None, *extra: Any) -> dict[str, Any] | None:
                conn = s.sockets.get(sid)
                try:
                    if conn is None:
                        raise ApiError("unauthorized", "this connection is not signed in")
                    if conn.expires_at <= now_ms():
                        raise ApiError("unauthorized", "the session has expired: sign in again and reconnect")
                    if limited:
                        s.events_limiter.take(conn.address)
                    if extra:
                        raise ApiError("invalid", f"'{event}' takes one payload object")
                    return fn(conn, sid, data)
                except ApiError as exc:
                    return {"ok": False, **exc.body()}
                except Exception:
                    log.exception("%s handler failed", event)
                    return {"ok": False, "error": {"code": "internal", "message": "internal error; it has been logged"}}
            sio.on(event, run)
            return run
        return decorate

    def tell_others(event: str, chat_id: str, address: str, data: dict[str, Any]) -> None:
        broadcast(sio, room(chat_id), event, data, skip=s.presence.sids(chat_id, address))

    def set_typing(chat_id: str, address: str, typing: bool) -> None:
        if s.presence.typing(chat_id, address, typing):
            tell_others("typing", chat_id, address, {"chat_id": chat_id, "address": address, "typing": typing})

    def part(conn: Connection, sid: str, chat_id: str) -> None:
        """A socket stops following a chat; the address goes offline with its last socket."""
        conn.chats.discard(chat_id)
        sio.leave_room(sid, room(chat_id))
        if s.presence.leave(chat_id, conn.address, sid):
            set_typing(chat_id, conn.address, False)
            tell_others("presence", chat_id, conn.address, {"chat_id": chat_id, "address": conn.address, "online": False})

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            identity = s.auth.identify(token)
        except ApiError:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        if s.per_address.get(identity.address, 0) >= s.config.max_sockets_per_address:
            raise socketio.exceptions.ConnectionRefusedError("rate_limited")
        s.per_address[identity.address] = s.per_address.get(identity.address, 0) + 1
        s.sockets[sid] = Connection(identity.address, identity.expires_at)
        environ.clear()  # a copy python-socketio would keep for the connection's life; nothing here reads it again

    @sio.on("disconnect")
    def disconnect(sid: str, reason: Any = None) -> None:
        conn = s.sockets.pop(sid, None)
        if conn is not None:
            left = s.per_address[conn.address] - 1
            if left:
                s.per_address[conn.address] = left
            else:
                del s.per_address[conn.address]
            for chat_id in list(conn.chats):
                part(conn, sid, chat_id)

    @handler("join")
    def join(conn: Connection, sid: str, data: Any) -> dict[str, Any]:
        payload = v.obj(data)
        chat_id = v.chat_id(payload)
        since_rev = v.optional_int(payload, "since_rev")
        s.chats.require_member(conn.address, chat_id)
        # Subscribe and read in one step (no yield between): every later change reaches this socket as an event.
        sio.enter_room(sid, room(chat_id))
        conn.chats.add(chat_id)
        if since_rev is None:
            changes, has_more = s.store.page(chat_id, None, None, JOIN_PAGE)
        else:
            changes, has_more = s.chats.changes(conn.address, chat_id, since_rev)
        if s.presence.join(chat_id, conn.address, sid):
            tell_others("presence", chat_id, conn.address, {"chat_id": chat_id, "address": conn.address, "online": True})
        return {"ok": True, "chat": s.store.chat(chat_id), "changes": changes, "has_more": has_more,
                "online": s.presence.online(chat_id)}

    @handler("leave")
    def leave(conn: Connection, sid: str, data: Any) -> dict[str, Any]:
        chat_id = v.chat_id(v.obj(data))
        if chat_id in conn.chats:
            part(conn, sid, chat_id)
        return {"ok": True}

    @handler("send", limited=False)  # sends have their own budget (RATE_PER_S), counted in messaging
    def send(conn: Connection, sid: str, data: Any) -> dict[str, Any]:
        message = s.messaging.send(conn.address, data)
        set_typing(message.chat_id, conn.address, False)
        return {"ok": True, "message": message}

    @handler("attest")
    def attest(conn: Connection, sid: str, data: Any) -> dict[str, Any]:
        return {"ok": True, "message": s.messaging.attest(conn.address, data)}

    @handler("typing")
    def typing(conn: Connection, sid: str, data: Any) -> dict[str, Any]:
        payload = v.obj(data)
        chat_id = v.chat_id(payload)
        flag = payload.get("typing")
        if not isinstance(flag, bool):
            raise ApiError("invalid", "'typing' must be true or false")
        s.chats.require_member(conn.address, chat_id)
        set_typing(chat_id, conn.address, flag)
        return {"ok": True}

    @sio.on("*")
    def unknown(event: Any, sid: str, *data: Any) -> dict[str, Any]:
        return {"ok": False, "error": {"code": "invalid", "message": f"unknown event {str(event)[:64]!r}"}}

    def publish(records: list[tuple[str, Any]]) -> None:
        """Store listener: each durable batch goes out in commit order, so every socket sees seq order."""
        broadcast_many(sio, ((room(m.chat_id), "message" if kind == "message" else "message:update", m)
                             for kind, m in records if isinstance(m, Message)))

    def expire_typing() -> None:
        while True:
            gevent.sleep(0.5)
            for chat_id, address in s.presence.expired_typing():
                tell_others("typing", chat_id, address, {"chat_id": chat_id, "address": address, "typing": False})

    s.store.subscribe(publish)
    sio.start_background_task(expire_typing)
