"""What a commit tells the other nodes: pg_notify payloads (at most 8,000 bytes each, PostgreSQL's limit), in order.

A payload carries the committed messages themselves, or — for one too large to fit — a pointer a node reads it back
by; for a chat whose members changed, its id and who was removed (the chat itself is read back, but for one erased as
its last member left: that one comes along, as nothing is left to read), and beside it under "s" who was added and the
first seq they see (null where that would not fit: the node reads it; nodes before "s" ignore it); under "q" the
positions marks moved; under "k" the chats whose plain messages the clock confirmed (nodes before "k" ignore it); or
a sign-out.

The broker owns this format; the store's writer sends the payloads inside its commit's own transaction (which is what
orders them) through the `Announce` that backends wires from `announce(node)`: broker/ depends on store/, never the
other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..models import Chat, Message, PositionMoved
from ..store.base import ChatChanged, Confirmed, Revoked, Stored
from ..store.postgres import Announce

CHANNEL = "om_commits"
MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses a payload of 8,000 or more


@dataclass
class Notice:
    """One payload, decoded."""

    node: str
    stored: list[Stored] = field(default_factory=list)
    pointers: list[tuple[str, int, bool]] = field(default_factory=list)  # (chat, rev, new): a message too large
    # (chat id, removed addresses, the chat if it was erased, (added addresses, first seq they see) if it says)
    chats: list[tuple[str, tuple[str, ...], Chat | None, tuple[tuple[str, ...], int] | None]] = field(
        default_factory=list
    )
    revoked: list[Revoked] = field(default_factory=list)
    positions: list[PositionMoved] = field(default_factory=list)
    confirmed: list[Confirmed] = field(default_factory=list)


def head(node: str) -> bytes:
    """How every payload of a node's begins: a node knows its own without decoding them."""
    return b'{"n":' + orjson.dumps(node)


def encode_notifications(
    node: str,
    stored: list[Stored],
    changed: list[ChatChanged],
    positions: Iterable[PositionMoved] = (),
    confirmed: Iterable[Confirmed] = (),
) -> Iterator[str]:
    """The payloads for one commit: chat changes first (a node unsubscribes the removed before it delivers more)."""
    start = head(node)
    units: list[list[tuple[bytes, bytes]]] = []  # each goes whole into one payload: a change and its starts together
    for c in changed:
        change = orjson.dumps([c.chat.id, c.removed, *([] if c.chat.members else [c.chat])])
        starts = orjson.dumps([c.added, c.visible_from] if c.visible_from is not None else None)
        if len(start) + len(change) + len(starts) + 32 > MAX_PAYLOAD:
            starts = b"null"  # too many added to carry: read back
        units.append([(b"c", change), (b"s", starts)])
    for s in stored:
        encoded = orjson.dumps([int(s.new), s.message])
        if len(start) + len(encoded) + 16 > MAX_PAYLOAD:
            encoded = orjson.dumps([s.message.chat_id, s.message.rev, int(s.new)])
            units.append([(b"p", encoded)])
        else:
            units.append([(b"m", encoded)])
    for p in positions:  # a chat id and an address: always small enough
        units.append([(b"q", orjson.dumps([p.chat_id, p.address, p.read_seq, p.delivered_seq, p.shares, p.members]))])
    for k in confirmed:  # a chat id and four numbers: always small enough
        units.append([(b"k", orjson.dumps([k.chat_id, k.through_seq, k.first_rev, k.rev, k.at]))])
    while units:
        size = len(start) + 1
        parts: dict[bytes, list[bytes]] = {b"c": [], b"s": [], b"m": [], b"p": [], b"q": [], b"k": []}
        while units and size + sum(len(encoded) + 8 for _, encoded in units[0]) <= MAX_PAYLOAD:
            for kind, encoded in units.pop(0):
                parts[kind].append(encoded)
                size += len(encoded) + 8
        body = b"".join(b',"' + kind + b'":[' + b",".join(values) + b"]" for kind, values in parts.items() if values)
        yield (start + body + b"}").decode()


def encode_revocation(node: str, revoked: Revoked) -> str:
    """The payload of one sign-out (a session id is short: it always fits)."""
    return (head(node) + b',"r":[' + orjson.dumps([revoked.session, revoked.until]) + b"]}").decode()


def encode_heartbeat(node: str) -> str:
    """The payload a node notifies itself now and then, to find a LISTEN connection that stopped delivering."""
    return (head(node) + b',"hb":1}').decode()


def announce(node: str) -> Announce:
    """What the store of this node sends with each commit: these payloads, on CHANNEL."""
    return Announce(
        CHANNEL,
        lambda stored, changed, marked, confirmed: encode_notifications(node, stored, changed, marked, confirmed),
        lambda revoked: encode_revocation(node, revoked),
    )


def decode_notification(payload: str) -> Notice:
    data: dict[str, Any] = orjson.loads(payload)
    changes = data.get("c", ())
    starts = data.get("s") or [None] * len(changes)  # a payload of a node before "s": not said
    return Notice(
        node=data["n"],
        stored=[Stored(Message(**m), bool(new)) for new, m in data.get("m", ())],
        pointers=[(chat_id, rev, bool(new)) for chat_id, rev, new in data.get("p", ())],
        chats=[
            (c[0], tuple(c[1]), Chat(**c[2]) if len(c) > 2 else None, None if s is None else (tuple(s[0]), s[1]))
            for c, s in zip(changes, starts, strict=True)
        ],
        revoked=[Revoked(session, until) for session, until in data.get("r", ())],
        positions=[PositionMoved(*p) for p in data.get("q", ())],
        confirmed=[Confirmed(*k) for k in data.get("k", ())],
    )
