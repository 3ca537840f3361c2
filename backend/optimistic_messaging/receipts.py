"""Read and delivered positions (v1.2): `mark`, the positions `join` shows, and where a `receipt` goes."""

from __future__ import annotations

from typing import Any

from . import validation as v
from .chats import Chats
from .errors import ApiError
from .models import Position, PositionMoved
from .store import Store

RECEIPTS_TO_CHAT_MAX = 32  # members: in larger chats, others read positions from the `join` ack


class Receipts:
    def __init__(self, store: Store, chats: Chats) -> None:
        self.store = store
        self.chats = chats

    def mark(self, caller: str, payload: Any) -> dict[str, Any]:
        """Move the caller's positions forward (membership, not a join, authorises it); the ack with both."""
        payload = v.obj(payload)
        chat_id = v.chat_id(payload)
        read_seq = v.optional_int(payload, "read_seq")
        delivered_seq = v.optional_int(payload, "delivered_seq")
        if read_seq is None and delivered_seq is None:
            raise ApiError("invalid", "'mark' takes 'read_seq', 'delivered_seq' or both")
        self.chats.require_member(caller, chat_id)
        position, _ = self.store.mark(chat_id, caller, read_seq, delivered_seq)
        return {"ok": True, "read_seq": position.read_seq, "delivered_seq": position.delivered_seq}

    def of_join(self, chat_id: str, caller: str, first: int = 1) -> list[dict[str, Any]]:
        """The positions the caller may see: of members who share them and have marked or sent, and its own; for a
        member who sees the chat from seq `first`, none below where it began (earlier messages are not theirs)."""
        return [entry(address, seen_from(p, first)) for address, p in self.store.receipts(chat_id, caller).items()]


def seen_from(position: Position | PositionMoved, first: int) -> Position:
    """A position as a member who sees the chat from seq `first` sees it: none below where it began."""
    start = first - 1
    return Position(max(position.read_seq, start), max(position.delivered_seq, start))


def entry(address: str, position: Position | PositionMoved) -> dict[str, Any]:
    """One member's positions, as `join` lists them."""
    return {"address": address, "read_seq": position.read_seq, "delivered_seq": position.delivered_seq}


def receipt(moved: PositionMoved, first: int = 1) -> dict[str, Any]:
    """The `receipt` event of a moved position (encode it once, for every socket it goes to), as a member who sees the
    chat from seq `first` sees it: no position below where it began."""
    return {"chat_id": moved.chat_id, **entry(moved.address, seen_from(moved, first))}


def to_chat(moved: PositionMoved) -> bool:
    """Whether a moved position's `receipt` goes to the chat's joined sockets too (the marker's own always get it):
    when the marker shares receipts and the chat is small enough for everyone's to be sent."""
    return moved.shares and moved.members <= RECEIPTS_TO_CHAT_MAX
