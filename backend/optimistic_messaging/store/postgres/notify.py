"""What a commit tells the other nodes: pg_notify payloads (at most 8,000 bytes each, PostgreSQL's limit), in order.

A payload carries the committed messages themselves, or — for one too large to fit — a pointer a node reads it back
by; for a chat whose members changed, its id and who was removed (the chat itself is read back, but for one erased as
its last member left: that one comes along, as nothing is left to read); or a sign-out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...models import Chat, Message
from ..base import ChatChanged, Revoked, Stored

CHANNEL = "om_commits"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses a payload of 8,000 or more


@dataclass
class Notice:
    """One payload, decoded."""

    node: str
    stored: list[Stored] = field(default_factory=list)
    pointers: list[tuple[str, int, bool]] = field(default_factory=list)  # (chat, rev, new): a message too large
    # (chat id, removed addresses, the chat if it was erased)
    chats: list[tuple[str, tuple[str, ...], Chat | None]] = field(default_factory=list)
    revoked: list[Revoked] = field(default_factory=list)


def head(node: str) -> bytes:
    """How every payload of a node's begins: a node knows its own without decoding them."""
    return b'{"n":' + orjson.dumps(node)


def encode_notifications(node: str, stored: list[Stored], changed: list[ChatChanged]) -> Iterator[str]:
    """The payloads for one commit: chat changes first (a node unsubscribes the removed before it delivers more)."""
    start = head(node)
    items: list[tuple[bytes, bytes]] = [
        (b"c", orjson.dumps([c.chat.id, c.removed, *([] if c.chat.members else [c.chat])])) for c in changed
    ]
    for s in stored:
        encoded = orjson.dumps([int(s.new), s.message])
        if len(start) + len(encoded) + 16 > MAX_PAYLOAD:
            encoded = orjson.dumps([s.message.chat_id, s.message.rev, int(s.new)])
            items.append((b"p", encoded))
        else:
            items.append((b"m", encoded))
    while items:
        size = len(start) + 1
        parts: dict[bytes, list[bytes]] = {b"c": [], b"m": [], b"p": []}
        while items and size + len(items[0][1]) + 8 <= MAX_PAYLOAD:
            kind, encoded = items.pop(0)
            parts[kind].append(encoded)
            size += len(encoded) + 1
        body = b"".join(b',"' + kind + b'":[' + b",".join(values) + b"]" for kind, values in parts.items() if values)
        yield (start + body + b"}").decode()


def encode_revocation(node: str, revoked: Revoked) -> str:
    """The payload of one sign-out (a session id is short: it always fits)."""
    return (head(node) + b',"r":[' + orjson.dumps([revoked.session, revoked.until]) + b"]}").decode()


def decode_notification(payload: str) -> Notice:
    data: dict[str, Any] = orjson.loads(payload)
    return Notice(
        node=data["n"],
        stored=[Stored(Message(**m), bool(new)) for new, m in data.get("m", ())],
        pointers=[(chat_id, rev, bool(new)) for chat_id, rev, new in data.get("p", ())],
        chats=[(c[0], tuple(c[1]), Chat(**c[2]) if len(c) > 2 else None) for c in data.get("c", ())],
        revoked=[Revoked(session, until) for session, until in data.get("r", ())],
    )
