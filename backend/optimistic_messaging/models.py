"""The wire shapes of the contract: Chat and Message, exactly as clients receive them (orjson encodes them directly)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal


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


UNREAD_CAP = 1000  # "1000 or more": an unread count never costs more than a subtraction


@dataclass(slots=True)
class ChatView(Chat):
    """The Chat as one member sees it (v1.2): its latest message visible to them, their positions, their unread."""

    last_message: Message | None = None
    read_seq: int = 0
    delivered_seq: int = 0
    unread: int = 0

    @classmethod
    def of(
        cls,
        chat: Chat,
        last: Message | None = None,
        position: Position | None = None,
        deleted: int = 0,
        first: int = 1,
    ) -> ChatView:
        """From the chat's counters and the member's position: messages after `read_seq` are others' (a send moves
        its sender's position to it), so the unread are counted by subtraction, never by reading history, less the
        `deleted` ones after `read_seq` (a count the store keeps). Without a position (not a member): nothing. The
        latest message as a member who sees the chat from seq `first` on gets it."""
        read_seq, delivered_seq = (position.read_seq, position.delivered_seq) if position else (0, 0)
        unread = min(UNREAD_CAP, max(0, chat.last_seq - read_seq - deleted)) if position else 0
        return cls(
            chat.id,
            chat.members,
            chat.title,
            chat.created_by,
            chat.created_at,
            chat.last_seq,
            chat.rev,
            None if last is None else seen_from(last, first),
            read_seq,
            delivered_seq,
            unread,
        )


@dataclass(slots=True)
class Position:
    """How far a member has read and has had delivered in a chat; `shown` once they marked or sent (what `join`
    lists to others)."""

    read_seq: int
    delivered_seq: int
    shown: bool = False

    def moved(self, read_seq: int | None, delivered_seq: int | None, last_seq: int) -> Position | None:
        """Where a mark takes it: forward only, no further than `last_seq`, delivered at least read; None: nowhere."""
        read = self.read_seq if read_seq is None else max(self.read_seq, min(read_seq, last_seq))
        delivered = max(self.delivered_seq, read, min(delivered_seq if delivered_seq is not None else 0, last_seq))
        if (read, delivered) == (self.read_seq, self.delivered_seq):
            return None
        return Position(read, delivered, True)


@dataclass(frozen=True, slots=True)
class PositionMoved:
    """A mark that moved a member's positions, as its commit announces it to every node: with what decides where the
    `receipt` goes (whether the member shares receipts, how many members the chat has)."""

    chat_id: str
    address: str
    read_seq: int
    delivered_seq: int
    shares: bool
    members: int


@dataclass(slots=True)
class Settings:
    """An address's settings (v1.2), every field with its default."""

    read_receipts: bool = True
    push_previews: bool = True


SETTINGS_FIELDS = tuple(f.name for f in fields(Settings))


@dataclass(frozen=True, slots=True)
class FarcasterToken:
    """A Farcaster client's notification token for an fid (v1.2): one per (fid, app key), the client's latest."""

    fid: int
    app_key: str
    url: str
    token: str


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message as its sender asks for it to be stored."""

    chat_id: str
    sender: str
    client_id: str
    body: str
    tx: dict[str, Any] | None = None
    xmtp_id: str | None = None
    xmtp_bound: bool = False
    reply_to: str | None = None


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
    # v1.2 (defaults: what a message stored before them is)
    reply_to: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji -> its latest reactors, by lower-case address
    reaction_counts: dict[str, int] = field(default_factory=dict)  # emoji -> all its reactors
    deleted: bool = False

    @classmethod
    def provisional(cls, new: NewMessage, seq: int, rev: int, at: int) -> Message:
        """A message as first stored, by either store: provisional, `fallback` until a verifier settles it."""
        return cls(
            message_id(new.chat_id, seq),
            new.chat_id,
            seq,
            rev,
            new.client_id,
            new.sender,
            new.body,
            new.tx,
            new.xmtp_id,
            new.xmtp_bound,
            "provisional",
            "fallback",
            None,
            None,
            at,
            at,
            new.reply_to,
        )


def message_id(chat_id: str, seq: int) -> str:
    """Unique without a global counter: '/' never occurs in a chat id, and (chat, seq) is immutable."""
    return f"{chat_id}/{seq}"


def message_seq(message_id_: str) -> int:
    """The seq of a message id the server made (`message_id`'s inverse)."""
    return int(message_id_.rpartition("/")[2])


def seen_from(message: Message, first: int) -> Message:
    """The message as a member who sees the chat from seq `first` on gets it: a reply to an earlier message names
    none (`reply_to` null), since earlier message ids are not theirs."""
    if message.reply_to is None or message_seq(message.reply_to) >= first:
        return message
    return replace(message, reply_to=None)


Settler = Literal["payment", "xmtp", "plain"]
SETTLERS: tuple[Settler, ...] = ("payment", "xmtp", "plain")
# The first rule whose field is set decides; a deleted message is not compared with its XMTP copy (its text is gone).
SETTLED_BY: tuple[tuple[Settler, str, bool], ...] = (("payment", "tx", True), ("xmtp", "xmtp_id", False))
SETTLEMENT_FIELDS = frozenset({"status", "source", "reason", "tx"})  # all that settling changes of a deleted message


def settled_by(m: Message) -> Settler:
    """Which verifier settles a message: "payment" (the chain), "xmtp" (its XMTP copy), else "plain" (the clock)."""
    for settler, name, when_deleted in SETTLED_BY:  # a loop, not next(genexpr): this runs for every message stored
        if getattr(m, name) is not None and (when_deleted or not m.deleted):
            return settler
    return "plain"


def waits_for_clock(m: Message) -> bool:
    """Provisional with nothing but the fallback's clock to settle it: what a per-chat confirmation confirms."""
    return m.status == "provisional" and settled_by(m) == "plain"


def confirmed_by_clock(m: Message, rev: int, at: int) -> Message:
    """The message as the fallback's clock confirms it, at `rev`: the one state `chat:confirmed` stands for."""
    return replace(m, status="confirmed", source="fallback", rev=rev, updated_at=at)


def settled_by_sql() -> str:
    """`settled_by` as an SQL expression over the messages table's columns, built from the same rules."""
    whens = " ".join(
        f"WHEN {name} IS NOT NULL{'' if when_deleted else ' AND NOT deleted'} THEN '{settler}'"
        for settler, name, when_deleted in SETTLED_BY
    )
    return f"CASE {whens} ELSE 'plain' END"
