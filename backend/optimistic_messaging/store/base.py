"""The Store interface: reads are immediate, writes return only once durable."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from ..models import Message

Listener = Callable[[list[tuple[str, Any]]], None]
"""Called once per durable batch with its records in commit order: ("message" | "update", Message), ("chat", Room), …"""

Change = Callable[[Message], dict[str, Any] | None]
"""Given a message's current state, the fields to change (None: leave it as it is)."""


@dataclass(frozen=True, slots=True)
class NewMessage:
    chat_id: str
    sender: str
    client_id: str
    body: str
    tx: dict[str, Any] | None = None
    xmtp_id: str | None = None
    xmtp_bound: bool = False


class Store(Protocol):
    """What the server needs of storage; the JSON-lines log implements it, PostgreSQL will too."""

    def start(self) -> None:
        """Load what is stored and begin accepting writes."""

    def close(self) -> None: ...

    def subscribe(self, listener: Listener) -> None: ...

    def healthy(self) -> bool:
        """False once a write could not be made durable and the store stopped taking writes."""

    # Reads: committed (durable) data only.
    def chat(self, chat_id: str) -> dict[str, Any] | None: ...

    def is_member(self, chat_id: str, address: str) -> bool: ...

    def chats_of(self, address: str) -> list[dict[str, Any]]:
        """The address's chats, latest message first."""

    def message(self, message_id: str) -> Message | None: ...

    def find(self, sender: str, client_id: str) -> Message | None: ...

    def page(self, chat_id: str, before: int | None, after: int | None, limit: int) -> tuple[list[Message], bool]:
        """Messages ascending by seq and whether more lie beyond the page in the direction of travel."""

    def changes(self, chat_id: str, since_rev: int, limit: int) -> tuple[list[Message], bool]:
        """Messages created or changed after `since_rev`, in rev order."""

    def provisional(self) -> list[Message]:
        """Every message not settled yet (the reconciler's work after a restart)."""

    def provisional_count(self) -> int: ...

    # Writes: block the calling greenlet until durable; raise ApiError("unavailable") when not.
    def create_chat(self, chat_id: str, members: list[str], title: str | None, created_by: str) -> tuple[dict[str, Any], bool]:
        """Create the chat, or return the existing one (False) if the id is taken."""

    def add_members(self, chat_id: str, members: list[str], limit: int) -> dict[str, Any]:
        """Add the new ones; `invalid` if the chat would then have more than `limit` members."""

    def append(self, new: NewMessage) -> tuple[Message, bool]:
        """Store a new provisional message, or return the sender's earlier one with that client_id (False)."""

    def change(self, message_id: str, change: Change) -> Message:
        """Apply `change` to the message's current state, bumping its chat's rev if anything changed."""
