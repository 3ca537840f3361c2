"""Who is notified of a committed message: the decision, apart from how it is sent."""

from __future__ import annotations

from collections.abc import Collection

from ..models import Message
from .subscriptions import Reachable

PREVIEW_CHARS = 120


def recipients(message: Message, reachable: Collection[Reachable], joined: Collection[str]) -> list[Reachable]:
    """Every reachable member but the sender none of whose sockets has joined the chat on any node (`joined`, a set:
    asked once per member); nobody for a deleted message."""
    if message.deleted:
        return []
    return [r for r in reachable if r.address != message.sender and r.address not in joined]


def preview(message: Message, previews: bool) -> str | None:
    """The first 120 characters of the body, or None when the receiver turned previews off."""
    return message.body[:PREVIEW_CHARS] if previews else None
