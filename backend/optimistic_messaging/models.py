"""The wire shapes of the contract: Chat and Message, exactly as clients receive them (orjson encodes them directly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Chat:
    """The contract's Chat object."""

    id: str
    members: list[str]
    title: str | None
    created_by: str
    created_at: int
    last_seq: int
    rev: int


@dataclass(slots=True)
class Message:
    """The contract's Message object."""

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
