"""The wire shapes of the contract (Chat, Message) and the in-memory room that holds a chat."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


def now_ms() -> int:
    """Server clock, Unix epoch milliseconds (the contract's only time unit)."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Message:
    """One message exactly as the contract's Message object (orjson encodes it directly)."""

    id: str
    chat_id: str
    seq: int
    rev: int
    client_id: str
    sender: str
    body: str
    tx: dict[str, Any] | None
    xmtp_id: str | None
    xmtp_bound: bool
    status: str
    source: str
    reason: str | None
    original: dict[str, Any] | None
    sent_at: int
    updated_at: int


def message_id(chat_id: str, seq: int) -> str:
    """Unique without a global counter: '/' never occurs in a chat id, and (chat, seq) is immutable."""
    return f"{chat_id}/{seq}"


@dataclass(slots=True)
class Room:
    """A chat and its history; only the store's writer mutates it, after the write is durable."""

    id: str
    members: list[str]
    title: str | None
    created_by: str
    created_at: int
    last_seq: int = 0
    rev: int = 0
    activity: int = 0  # the store-wide order of its creation or latest message: 'latest first' without clock ties
    messages: list[Message] = field(default_factory=list)  # index seq - 1
    by_rev: dict[int, Message] = field(default_factory=dict)  # the current message at each live rev

    def to_chat(self) -> dict[str, Any]:
        """The contract's Chat object."""
        return {
            "id": self.id,
            "members": list(self.members),
            "title": self.title,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "last_seq": self.last_seq,
            "rev": self.rev,
        }
