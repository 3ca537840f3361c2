"""Who is notified of a committed message: the decision, apart from how it is sent."""

from __future__ import annotations

from collections.abc import Collection

from ..models import Message

PREVIEW_CHARS = 120


def recipients(message: Message, members: Collection[str], online: Collection[str]) -> list[str]:
    """Every member but the sender none of whose sockets has joined the chat on any node; nobody for a deleted one."""
    if message.deleted:
        return []
    joined = set(online)
    return sorted(a for a in members if a != message.sender and a not in joined)


def preview(message: Message, previews: bool) -> str | None:
    """The first 120 characters of the body, or None when the receiver turned previews off."""
    return message.body[:PREVIEW_CHARS] if previews else None
