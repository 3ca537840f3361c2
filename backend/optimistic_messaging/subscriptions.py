"""The one place a socket is put in or out of a chat: its room, its connection's chat set, presence (and the presence
and typing signals that causes) and the fan-out's served chats change together here, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .connections import Connection, Connections
from .fanout import Fanout
from .hub import Hub, address_room, chat_room
from .models import Chat
from .presence import Presence, Signals

Spawn = Callable[..., object]
"""Runs a function in a greenlet of the node's (one the node stops when it closes)."""


@dataclass(eq=False)
class Subscriptions:
    """Which of this node's sockets follow which chats, kept the same in the four places that hold it."""

    hub: Hub
    connections: Connections
    presence: Presence
    signals: Signals
    fanout: Fanout
    spawn: Spawn

    def open(self, conn: Connection) -> None:
        """A socket signed in: it hears what is said to its address (its feed, issue 16)."""
        self.hub.enter(conn.sid, address_room(conn.address))

    def close(self, conn: Connection) -> None:
        """A socket disconnected: it follows nothing any more."""
        for chat_id in list(conn.chats):
            self._part(conn, chat_id)
        self.hub.leave(conn.sid, address_room(conn.address))

    def join(self, conn: Connection, chat_id: str, first: int) -> bool:
        """The socket follows the chat from now on, seeing its messages from seq `first` on (a member added later);
        False, following nothing, if it was closed meanwhile (the store's reads yield)."""
        if conn.closed:
            return False
        self.hub.enter(conn.sid, chat_room(chat_id))
        conn.chats.add(chat_id)
        self.fanout.serve(chat_id)
        if first > 1:
            self.fanout.late_member(chat_id, conn.address, first)
        return self._still_open(conn, chat_id)

    def arrive(self, conn: Connection, chat_id: str) -> bool:
        """A joined socket's address is online in the chat, told to the others (once the join's read succeeded);
        False, following nothing, if the socket was closed meanwhile."""
        if not self._still_open(conn, chat_id):
            return False
        if self.presence.join(chat_id, conn.address, conn.sid):
            self._tell_others("presence", chat_id, conn.address, {"online": True})
        return self._still_open(conn, chat_id)

    def _still_open(self, conn: Connection, chat_id: str) -> bool:
        """A socket closed while a step of its join yielded: what the join added is undone (close ran before it)."""
        if conn.closed:
            self._part(conn, chat_id)
        return not conn.closed

    def leave(self, conn: Connection, chat_id: str) -> None:
        if chat_id in conn.chats:
            self._part(conn, chat_id)

    def members_changed(self, chat: Chat) -> None:
        """Sockets here whose addresses are no longer members stop following the chat."""
        members = set(chat.members)
        for sid in self.hub.in_chat(chat.id):
            conn = self.connections.get(sid)
            if conn is not None and conn.address not in members:
                self._part(conn, chat.id)

    def typing(self, chat_id: str, address: str, typing: bool) -> None:
        if self.presence.typing(chat_id, address, typing):
            self._tell_others("typing", chat_id, address, {"typing": typing})

    def sent(self, chat_id: str, address: str) -> None:
        """A message ends its sender's typing (told from a greenlet: this runs as the send is answered)."""
        if self.presence.typing(chat_id, address, False):
            self.spawn(self._tell_others, "typing", chat_id, address, {"typing": False})

    def expire_typing(self) -> None:
        """Typing flags not renewed in time end."""
        for chat_id, address in self.presence.expired_typing():
            self._tell_others("typing", chat_id, address, {"typing": False})

    def _part(self, conn: Connection, chat_id: str) -> None:
        """A socket stops following a chat; the address goes offline with its last socket."""
        conn.chats.discard(chat_id)
        self.hub.leave(conn.sid, chat_room(chat_id))
        if self.hub.chat_empty(chat_id):
            self.fanout.unserve(chat_id)  # no socket here follows it any more
        if self.presence.leave(chat_id, conn.address, conn.sid):
            self.typing(chat_id, conn.address, False)
            self._tell_others("presence", chat_id, conn.address, {"online": False})

    def _tell_others(self, event: str, chat_id: str, address: str, data: dict[str, Any]) -> None:
        """Typing and presence reach the chat's sockets on every node, but the address's own."""
        self.signals.send(chat_id, event, {"chat_id": chat_id, "address": address, **data}, address)
