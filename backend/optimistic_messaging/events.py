"""Socket.IO handlers: authenticated connections, rooms per chat, acks in the contract's shape, sessions that end."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from functools import wraps
from typing import Any

import gevent
import socketio

from . import validation as v
from .connections import Connection
from .errors import ApiError
from .expiry import ExpirySweeper
from .fanout import Fanout
from .logs import CONTEXT
from .models import Chat, Message
from .services import Services
from .stats import METER
from .store import Stored
from .wire import Later, broadcast, broadcast_many

log = logging.getLogger(__name__)

JOIN_PAGE = 50
Handler = Callable[[Connection, Any], "dict[str, Any] | Later | None"]


def room(chat_id: str) -> str:
    """Rooms are prefixed so that no chat id can name a socket's own sid room."""
    return "chat:" + chat_id


def register(sio: socketio.Server, s: Services) -> list[Callable[[], None]]:
    """Wire every event of the contract onto the Socket.IO server; returns the loops the boot runs in the
    background (nothing starts here)."""
    clock = s.clock

    def guarded(sid: str, event: str, fn: Handler, data: Any, extra: tuple[Any, ...], limited: bool) -> Any:
        """Answer `{"ok": true, ...}` or the error shape; never let a bad payload escape as a traceback."""
        conn = s.connections.get(sid)
        CONTEXT.set({"sid": sid, "address": conn and conn.address, "event": event})
        try:
            if conn is None:
                raise ApiError("unauthorized", "this connection is not signed in")
            if conn.expires_at <= clock.now_ms():
                raise ApiError("unauthorized", "the session has expired: sign in again and reconnect")
            if conn.session in s.auth.revocations:  # its socket is being disconnected
                raise ApiError("unauthorized", "this session was signed out: sign in again")
            if limited:
                s.limits.events.take(conn.address)
            if extra:
                raise ApiError("invalid", f"'{event}' takes one payload object")
            return fn(conn, data)
        except ApiError as exc:
            log.debug("%s refused: %s", event, exc.code)
            return {"ok": False, **exc.body()}
        except Exception:
            log.exception("%s handler failed", event)
            return {"ok": False, "error": {"code": "internal", "message": "internal error; it has been logged"}}

    def handler(event: str, limited: bool = True) -> Callable[[Handler], Callable[..., Any]]:
        def decorate(fn: Handler) -> Callable[..., Any]:
            @wraps(fn)
            def run(sid: str, data: Any = None, *extra: Any) -> dict[str, Any] | Later | None:
                result: dict[str, Any] | Later | None = guarded(sid, event, fn, data, extra, limited)
                return result

            sio.on(event, run)
            return run

        return decorate

    def tell_others(event: str, chat_id: str, address: str, data: dict[str, Any]) -> None:
        """Typing and presence reach the chat's sockets on every node, but the address's own."""
        s.signals.send(chat_id, event, data, address)

    def signal(chat_id: str, event: str, data: dict[str, Any], skip: str) -> None:
        broadcast(sio, room(chat_id), event, data, skip=s.presence.sids(chat_id, skip))

    def set_typing(chat_id: str, address: str, typing: bool) -> None:
        if s.presence.typing(chat_id, address, typing):
            tell_others("typing", chat_id, address, {"chat_id": chat_id, "address": address, "typing": typing})

    def part(conn: Connection, chat_id: str) -> None:
        """A socket stops following a chat; the address goes offline with its last socket."""
        conn.chats.discard(chat_id)
        sio.leave_room(conn.sid, room(chat_id))
        if next(sio.manager.get_participants("/", room(chat_id)), None) is None:
            fanout.unserve(chat_id)  # no socket here follows it any more
        if s.presence.leave(chat_id, conn.address, conn.sid):
            set_typing(chat_id, conn.address, False)
            tell_others(
                "presence", chat_id, conn.address, {"chat_id": chat_id, "address": conn.address, "online": False}
            )

    @sio.on("connect")
    def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            identity = s.auth.identify(token)
            s.connections.open(sid, identity.address, identity.expires_at, identity.session)
            if identity.session in s.auth.revocations:  # signed out while the socket quota was being counted
                s.connections.close(sid)
                raise ApiError("unauthorized", "this session was signed out: sign in again")
            sweeper.opened(identity.expires_at)
        except ApiError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.code) from None
        environ.clear()  # a copy python-socketio would keep for the connection's life; nothing here reads it again

    @sio.on("disconnect")
    def disconnect(sid: str, reason: Any = None) -> None:
        conn = s.connections.close(sid)
        if conn is not None:
            for chat_id in list(conn.chats):
                part(conn, chat_id)

    @handler("join")
    def join(conn: Connection, data: Any) -> dict[str, Any]:
        payload = v.obj(data)
        chat_id = v.chat_id(payload)
        since_rev = v.optional_int(payload, "since_rev")
        first = s.chats.require_member(conn.address, chat_id)
        # Subscribe, then read: every change after the read reaches this socket as an event (one between the two can
        # come both ways: clients de-duplicate by id).
        sio.enter_room(conn.sid, room(chat_id))
        conn.chats.add(chat_id)
        fanout.serve(chat_id)
        if first > 1:
            fanout.late_member(chat_id, conn.address, first)
        if since_rev is None:
            changes, has_more = s.store.page(chat_id, None, None, JOIN_PAGE, first)
        else:
            changes, has_more = s.chats.changes_from(chat_id, since_rev, first)
        if s.presence.join(chat_id, conn.address, conn.sid):
            tell_others(
                "presence", chat_id, conn.address, {"chat_id": chat_id, "address": conn.address, "online": True}
            )
        return {
            "ok": True,
            "chat": s.store.view(chat_id, conn.address),
            "changes": changes,
            "has_more": has_more,
            "online": s.presence.online(chat_id),
            "receipts": s.receipts.of_join(chat_id, conn.address),
        }

    @handler("leave")
    def leave(conn: Connection, data: Any) -> dict[str, Any]:
        chat_id = v.chat_id(v.obj(data))
        if chat_id in conn.chats:
            part(conn, chat_id)
        return {"ok": True}

    @handler("send", limited=False)  # sends have their own budget (RATE_PER_S), counted in messaging
    def send(conn: Connection, data: Any) -> Later:
        """Answered once durable; meanwhile the socket's next sends are read and join the same group commit."""
        started = clock.monotonic()
        try:
            pending = s.messaging.send(conn.address, data)
        except ApiError as exc:
            METER.acks.add(exc.code)
            raise

        def answer() -> dict[str, Any]:
            try:
                message, _ = pending.get()
            except ApiError as exc:
                METER.acks.add(exc.code)
                return {"ok": False, **exc.body()}
            METER.acks.add("ok")
            METER.ack_seconds.observe(clock.monotonic() - started)
            if s.presence.typing(message.chat_id, conn.address, False):  # a message ends its sender's typing
                gevent.spawn(
                    tell_others,
                    "typing",
                    message.chat_id,
                    conn.address,
                    {"chat_id": message.chat_id, "address": conn.address, "typing": False},
                )
            return {"ok": True, "message": message}

        return Later(pending, answer)

    @handler("attest")
    def attest(conn: Connection, data: Any) -> dict[str, Any]:
        return {"ok": True, "message": s.messaging.attest(conn.address, data)}

    @handler("mark")
    def mark(conn: Connection, data: Any) -> dict[str, Any]:
        return s.receipts.mark(conn.address, data)

    @handler("react")
    def react(conn: Connection, data: Any) -> dict[str, Any]:
        return {"ok": True, "message": s.messaging.react(conn.address, data)}

    @handler("delete")
    def delete(conn: Connection, data: Any) -> dict[str, Any]:
        return {"ok": True, "message": s.messaging.delete(conn.address, data)}

    @handler("typing")
    def typing(conn: Connection, data: Any) -> dict[str, Any]:
        payload = v.obj(data)
        chat_id = v.chat_id(payload)
        flag = payload.get("typing")
        if not isinstance(flag, bool):
            raise ApiError("invalid", "'typing' must be true or false")
        s.chats.require_member(conn.address, chat_id)
        set_typing(chat_id, conn.address, flag)
        return {"ok": True}

    def refuse_unknown(conn: Connection, event: Any) -> dict[str, Any]:
        raise ApiError("invalid", f"unknown event {str(event)[:64]!r}")

    @sio.on("*")
    def unknown(event: Any, sid: str, *data: Any) -> dict[str, Any]:
        """Unknown events spend from the same budget as the others: refusing them is work too."""
        result: dict[str, Any] = guarded(sid, str(event)[:64], refuse_unknown, event, (), True)
        return result

    def chat_changed(chat: Chat) -> None:
        """Every socket following the chat hears of it (a removed one last); then those no longer members stop."""
        broadcast(sio, room(chat.id), "chat:update", chat)
        members = set(chat.members)
        for sid, _ in list(sio.manager.get_participants("/", room(chat.id))):
            conn = s.connections.get(sid)
            if conn is not None and conn.address not in members:
                part(conn, chat.id)

    def hidden(message: Message) -> Collection[str]:
        """The sockets of members added after this message (it is not theirs): looked for only in a chat that has
        such members, and only for a message older than one of them."""
        late = fanout.late(message.chat_id)
        if not late or message.seq >= max(late.values()):
            return ()
        return {
            sid
            for sid, _ in sio.manager.get_participants("/", room(message.chat_id))
            if (conn := s.connections.get(sid)) is not None and late.get(conn.address, 1) > message.seq
        }

    def deliver(stored: list[Stored]) -> None:
        """Each batch goes out in order: every socket sees its chats' messages in seq order."""
        broadcast_many(
            sio,
            (
                (
                    room(item.message.chat_id),
                    "message" if item.new else "message:update",
                    item.message,
                    hidden(item.message),
                )
                for item in stored
            ),
        )

    fanout = Fanout(s.store, deliver, chat_changed)

    def end_session(conn: Connection, reason: str = "expired") -> None:
        """The token has expired or its session was signed out: say so, disconnect the Socket.IO session and close its
        connection."""
        eio_sid = sio.manager.eio_sid_from_sid(conn.sid, "/")
        sio.emit("session:expired", {"expires_at": conn.expires_at, "reason": reason}, to=conn.sid)
        sio.disconnect(conn.sid)
        eio_socket = sio.eio.sockets.get(eio_sid) if eio_sid else None
        if eio_socket is not None:
            eio_socket.close(wait=False)

    sweeper = ExpirySweeper(s.connections, clock, end_session)

    def signed_out(session: str) -> None:
        """A sign-out on any node: this node's sockets of that session end now."""
        for conn in s.connections.of_session(session):
            try:
                end_session(conn, "logout")
            except Exception:
                log.exception("ending the signed-out session of %s failed", conn.sid)

    def expire_typing() -> None:
        while True:
            gevent.sleep(0.5)
            for chat_id, address in s.presence.expired_typing():
                tell_others("typing", chat_id, address, {"chat_id": chat_id, "address": address, "typing": False})

    s.signals.listen(signal)
    s.broker.subscribe(fanout.publish)
    s.broker.on_resync(fanout.resync)
    s.auth.revocations.on_revoked(lambda session: gevent.spawn(signed_out, session))
    return [sweeper.run, expire_typing]
