"""The emit side of the real-time server: what goes out to a chat's sockets, to an address's, or to one socket, and
the rooms that say which sockets those are. Delivery only goes down from here, to `wire`."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

import socketio

from . import wire


def chat_room(chat_id: str) -> str:
    """Rooms are prefixed so that no chat id can name a socket's own sid room, nor an address's."""
    return "chat:" + chat_id


def itemized_room(chat_id: str) -> str:
    """The chat's sockets that did not opt into `chat:confirmed`: they take the clock's confirmations message by
    message, as `message:update` (the contract's form)."""
    return "item:" + chat_id


def address_room(address: str) -> str:
    """Every signed-in socket of an address is in its room: its feed of all its chats (issue 16)."""
    return "addr:" + address


class Hub:
    """One Socket.IO server's rooms and emits, named by chat and by address."""

    def __init__(self, sio: socketio.Server) -> None:
        self.sio = sio

    def enter(self, sid: str, room: str) -> None:
        self.sio.enter_room(sid, room)

    def leave(self, sid: str, room: str) -> None:
        self.sio.leave_room(sid, room)

    def in_chat(self, chat_id: str) -> list[str]:
        """The sids of this node's sockets following the chat."""
        return wire.in_room(self.sio, chat_room(chat_id))

    def chat_empty(self, chat_id: str) -> bool:
        """Whether no socket of this node follows the chat (O(1), unlike `in_chat`)."""
        return wire.room_empty(self.sio, chat_room(chat_id))

    def itemized(self, chat_id: str) -> list[str]:
        """The sids of this node's sockets following the chat that take its confirmations message by message."""
        return wire.in_room(self.sio, itemized_room(chat_id))

    def any_itemized(self, chat_id: str) -> bool:
        """Whether a socket here following the chat takes its confirmations message by message (O(1))."""
        return not wire.room_empty(self.sio, itemized_room(chat_id))

    def to_chat(self, chat_id: str, event: str, data: Any, skip: Collection[str] = ()) -> None:
        wire.broadcast(self.sio, chat_room(chat_id), event, data, skip)

    def to_chats(self, events: Iterable[tuple[str, str, Any, Collection[str]]]) -> None:
        """(chat id, event, data, sids to skip), in order: each frame encoded once, each socket written once."""
        wire.broadcast_many(
            self.sio, ((chat_room(chat_id), event, data, skip) for chat_id, event, data, skip in events)
        )

    def to_address(self, address: str, event: str, data: Any) -> None:
        """To every socket of the address on this node, whatever chats it follows."""
        wire.broadcast(self.sio, address_room(address), event, data)

    def to_sids(self, sids: Iterable[str], event: str, data: Any) -> None:
        """To these sockets: one frame, encoded once whatever their number (the feed's events)."""
        wire.to_sids(self.sio, sids, event, data)

    def end(self, sid: str, event: str, data: Any) -> None:
        """Tell one socket why, then disconnect it (its disconnect handler runs) and close its connection."""
        self.sio.emit(event, data, to=sid)
        wire.close_socket(self.sio, sid)
