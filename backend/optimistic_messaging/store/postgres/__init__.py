"""PostgreSQL as the store of record, shared by every node.

Writes keep group commit: the ops queued while a transaction runs make the next one (one WAL flush for all), on one
connection of this node's. Each transaction locks the rows of the chats it touches (in id order, so nodes never
deadlock), assigns seq and rev under those locks — the order of commits is the order of each chat's revs — and
announces what it committed with pg_notify in the same transaction, so every node hears of it in commit order.
Nothing of history is held in memory: reads go to the database.

Whether the database answers is known ahead of any request: a probe asks it every PROBE_S, and a read or write that
finds it unreachable asks the probe at once. While it is away, reads and writes are refused at once (`unavailable`)
and health says so without waiting on it. What the database refuses of one op (a constraint, bad data) fails that op
alone; a race with another node's commit (the same new chat, the same idempotency key) is planned again and finds
what that node stored.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import gevent
import orjson
import psycopg
import psycopg_pool
from gevent.event import AsyncResult, Event

from ...clock import Clock
from ...errors import DomainError, Failed, Forbidden, Invalid, NotFound, Unavailable
from ...models import (
    SETTINGS_FIELDS,
    SETTLERS,
    Chat,
    ChatView,
    FarcasterToken,
    Message,
    Position,
    PositionMoved,
    Settings,
    confirmed_by_clock,
    message_id,
    settled_by_sql,
    waits_for_clock,
)
from ...notify.subscriptions import MAX_PER_ADDRESS, PushSubscription, Reachable
from ...pgdown import DOWN
from ...reactions import Reaction, react
from ...stats import StoreStats
from ..base import (
    Appended,
    Change,
    ChatChanged,
    Commit,
    Confirmed,
    Listener,
    NewMessage,
    Pending,
    Revoked,
    Stored,
    Unsettled,
    check_reply,
    repeat_of,
)
from . import schema

log = logging.getLogger(__name__)

COLUMNS = (
    "chat_id, seq, rev, client_id, sender, body, tx, xmtp_id, xmtp_bound, status, source, reason, original, "
    "sent_at, updated_at, reply_to, reactions, reaction_counts, deleted"
)
CHAT_COLUMNS = (
    "c.id, c.title, c.created_by, c.created_at, c.last_seq, c.rev, "
    "array(SELECT address FROM members m WHERE m.chat_id = c.id ORDER BY joined)"
)
LAST_MESSAGE = ", ".join("lm." + column.strip() for column in COLUMNS.split(","))
DELETED_AFTER = (  # the deleted messages after the member's read_seq (index messages_deleted: only deleted rows)
    "(SELECT count(*) FROM messages d WHERE d.chat_id = c.id AND d.seq > mine.read_seq AND d.deleted)"
)
VIEWS = (  # chats as a member sees them: counters, its positions, and the latest message where it is theirs to see
    f"SELECT {CHAT_COLUMNS}, c.activity, mine.read_seq, mine.delivered_seq, {DELETED_AFTER}, mine.visible_from, "
    f"{LAST_MESSAGE} FROM "
    "{} LEFT JOIN messages lm ON lm.chat_id = c.id AND lm.seq = c.last_seq AND lm.seq >= mine.visible_from "
)
INSERT_MESSAGES = (  # one statement for many, its rows one JSON text: far cheaper on both sides than a row each
    f"INSERT INTO messages ({COLUMNS}) SELECT {COLUMNS} FROM json_populate_recordset(NULL::messages, %s)"
)
REACHABLE = (  # a chat's members' push subscriptions (oldest first), then their linked fid's tokens: a row each
    "WITH reach AS (SELECT m.address, coalesce(s.push_previews, true) AS previews FROM members m "
    "LEFT JOIN settings s ON s.address = m.address WHERE m.chat_id = %(chat)s) "
    "SELECT r.address, r.previews, p.endpoint, p.p256dh, p.auth, p.session, NULL::bigint, NULL, NULL, NULL, p.at "
    "FROM reach r JOIN push_subscriptions p ON p.address = r.address "
    "UNION ALL SELECT r.address, r.previews, NULL, NULL, NULL, NULL, t.fid, t.app_key, t.url, t.token, NULL "
    "FROM reach r JOIN farcaster_links l ON l.address = r.address JOIN farcaster_tokens t ON t.fid = l.fid "
    "ORDER BY 1, 11 NULLS LAST, 8"
)
ADD_REACTOR = "INSERT INTO reactions (chat_id, seq, emoji, address) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
REMOVE_REACTOR = "DELETE FROM reactions WHERE chat_id = %s AND seq = %s AND emoji = %s AND address = %s"
MEMBER_OPS = ("create", "add", "remove")
KIND = settled_by_sql()  # which verifier settles a row: models.settled_by, in SQL
WAITS_FOR_CLOCK = "status = 'provisional' AND tx IS NULL AND (xmtp_id IS NULL OR deleted)"  # models.waits_for_clock
AWAY_STATES = ("08", "53", "57P")  # connection lost, out of resources, shutting down: not one statement's fault
REPLAN = (psycopg.errors.UniqueViolation, psycopg.errors.TransactionRollback)  # raced another commit: nothing stored
CREATE_LOCK = 0x6F6D_0003  # pg_advisory_xact_lock(key, hash of the id): "om", creating a chat
CONNECT_TIMEOUT_S = 2  # libpq's least
START_WAIT_S = 30  # how long start-up waits for the database to take connections
PROBE_S = 1.0  # how often a node asks the database whether it answers
PROBE_TIMEOUT_S = 2.0  # a probe unanswered this long finds it away (hung, not only down)
READ_WAIT_S = 1.0  # a read waits this long for a pooled connection, then is refused (the database is not away)
READ_TIMEOUT_S = 5.0  # a read unanswered this long finds it away (hung): its connection is closed
DEFAULTS = Settings()
T = TypeVar("T")


@dataclass(frozen=True)
class Announce:
    """How a commit is told to the other nodes, in the broker's format (backends wires it: the store depends on no
    broker): pg_notify on `channel` with each payload, sent inside the commit's own transaction, which orders them."""

    channel: str
    commit: Callable[[list[Stored], list[ChatChanged], list[PositionMoved], list[Confirmed]], Iterable[str]]
    revocation: Callable[[Revoked], str]  # a sign-out's payload


def _message(row: Sequence[Any]) -> Message:
    chat_id, seq = row[0], row[1]
    return Message(message_id(chat_id, seq), chat_id, seq, *row[2:])


def _chat(row: Sequence[Any]) -> Chat:
    return Chat(row[0], list(row[6]), row[1], row[2], row[3], row[4], row[5])


def _view(row: Sequence[Any]) -> ChatView:
    """A row of VIEWS: the chat, its activity, the member's positions (null: not a member), how many messages after
    its read_seq are deleted, the first seq it sees, the latest message."""
    position = None if row[8] is None else Position(row[8], row[9])
    last = None if row[12] is None else _message(row[12:])
    return ChatView.of(_chat(row), last, position, row[10], row[11] or 1)


def _unavailable(why: BaseException | str) -> Unavailable:
    name = why if isinstance(why, str) else type(why).__name__
    return Unavailable(f"the database cannot be reached ({name}); nothing was acknowledged, retry")


class NoAnswer(TimeoutError):
    """The database did not answer in time."""


def unreachable(exc: BaseException) -> bool:
    """The database, or the way to it, is gone: as opposed to a statement it refused (a constraint, a deadlock)."""
    if isinstance(exc, psycopg.InterfaceError):
        return True
    return isinstance(exc, psycopg.OperationalError) and (exc.sqlstate is None or exc.sqlstate.startswith(AWAY_STATES))


def _lock_key(chat_id: str) -> int:
    """The chat id's advisory lock key (a signed int4): the same on every node."""
    return (zlib.crc32(chat_id.encode()) ^ 0x8000_0000) - 0x8000_0000


class _Op:
    """One write waiting for the next transaction."""

    __slots__ = ("args", "kind", "result")

    def __init__(self, kind: str, *args: Any) -> None:
        self.kind = kind
        self.args = args
        self.result = AsyncResult()


class _ChatState:
    """A chat as the transaction sees it: locked row, then this transaction's own changes on top."""

    __slots__ = (
        "begins",
        "chat",
        "counters_changed",
        "cycled",
        "gone",
        "in_table",
        "members",
        "members_changed",
        "messages_added",
        "new",
        "starts",
    )

    def __init__(self, chat: Chat, new: bool = False) -> None:
        self.chat = chat
        self.members: list[str] | None = chat.members if new else None  # loaded only for member changes
        self.in_table: tuple[str, ...] = ()  # the members the table holds (as loaded; none for a new chat)
        self.cycled: set[str] = set()  # removed here, so rejoining here puts them last, as a new row does
        self.starts: dict[str, int] = {}  # members' first visible seq, where it is not 1 (loaded with the members)
        self.begins: dict[str, int] = {}  # members joining here: the chat's last_seq as they did, their positions
        self.gone = False  # its last member left here: erased at commit
        self.members_changed = False
        self.new = new
        self.messages_added = False
        self.counters_changed = False


class _Transaction:
    """What one group commit reads, decides and writes."""

    def __init__(self, conn: psycopg.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        self.chats: dict[str, _ChatState] = {}
        self.keys: dict[tuple[str, str], Message] = {}
        self.current: dict[str, Message] = {}  # message id -> its state, as read or as changed here
        self.member_of: dict[tuple[str, str], int] = {}  # (chat, address) known to be a member -> its first seq
        self.marking: dict[tuple[str, str], tuple[Position, bool, int]] = {}  # a marker's (position, shares, members)
        self.sent: dict[tuple[str, str], int] = {}  # (chat, sender) -> seq of its latest message here
        self.moves: dict[tuple[str, str], Position] = {}  # (chat, member) -> as marks here moved it
        self.marked: list[PositionMoved] = []
        self.inserts: list[Message] = []
        self.updates: dict[str, Message] = {}
        self.stored: list[Stored] = []
        self.chat_changes: list[ChatChanged] = []
        self.tombs: dict[str, tuple[int, int]] = {}  # erased chats' last_seq and rev, for the ids registered here
        self.erased: dict[str, Chat] = {}  # chats erased here, as their last member left them
        self.replied: set[tuple[str, int]] = set()  # the messages replies name that exist, as (chat, seq)
        self.reactors: dict[tuple[str, str], list[str]] = {}  # (message id, emoji) -> its reactors, oldest first
        self.reactor_writes: list[tuple[str, int, str, str, bool]] = []  # (chat, seq, emoji, address, added), in order
        self.deleted: list[tuple[str, int]] = []  # messages deleted here: their reactors go
        self.waiting: dict[str, list[int]] = {}  # chat -> seqs of its messages waiting for the clock (as read)
        self.confirms: list[tuple[str, list[int], int, int]] = []  # (chat, seqs, first rev, at) the clock confirms
        self.confirmed: list[Confirmed] = []
        self.changed: dict[str, set[str]] = {}  # chat -> ids of its messages changed here
        self.cleared: dict[str, set[int]] = {}  # chat -> seqs the clock confirmed here

    def load(self, ops: list[_Op]) -> None:
        """Begin, lock every chat the ops touch and read what their plans need: one round trip."""
        listed = sorted({op.args[0] for op in ops if op.kind in MEMBER_OPS})
        created = sorted({op.args[0] for op in ops if op.kind == "create"})
        appends = [op.args[0] for op in ops if op.kind == "append"]
        marks = sorted({op.args[:2] for op in ops if op.kind == "mark"})
        changed = [_split(op.args[0]) for op in ops if op.kind in ("change", "react")]
        reacted = sorted({(*_split(op.args[0]), op.args[1].emoji) for op in ops if op.kind == "react"})
        replies = [_split(n.reply_to) for n in appends if n.reply_to is not None]
        confirms = [{"c": op.args[0], "s": op.args[1]} for op in ops if op.kind == "confirm"]
        batch = _Batch()
        batch.add("BEGIN")
        # Creating a chat: first its id's lock, which another node creating it holds until it commits, so the read
        # below finds the chat that node made (there is no row yet to lock). Before any row lock, in one order.
        for key in sorted({_lock_key(op.args[0]) for op in ops if op.kind == "create"}):
            batch.add("SELECT pg_advisory_xact_lock(%s, %s)", CREATE_LOCK, key)
        chats = batch.add(
            "SELECT id, title, created_by, created_at, last_seq, rev FROM chats WHERE id = ANY(%s::text[]) "
            "ORDER BY id FOR UPDATE",
            sorted({_chat_of(op) for op in ops}),
        )
        if listed:  # member changes and registrations need the whole list
            members = batch.add(
                "SELECT chat_id, array_agg(address ORDER BY joined), array_agg(visible_from ORDER BY joined) "
                "FROM members WHERE chat_id = ANY(%s::text[]) GROUP BY chat_id",
                listed,
            )
        if created:  # an id whose chat was erased: a new chat continues its counters
            tombs = batch.add("SELECT id, last_seq, rev FROM erased_chats WHERE id = ANY(%s::text[])", created)
        if appends:  # a send needs only its sender's place, and whatever its idempotency key stored before
            triples = orjson.dumps([(n.chat_id, n.sender, n.client_id) for n in appends]).decode()
            senders = batch.add(
                "SELECT chat_id, address, visible_from FROM members WHERE (chat_id, address) IN "
                "(SELECT e->>0, e->>1 FROM json_array_elements(%s::json) e)",
                triples,
            )
            keys = batch.add(
                f"SELECT {COLUMNS} FROM messages WHERE (sender, client_id) IN "
                "(SELECT e->>1, e->>2 FROM json_array_elements(%s::json) e)",
                triples,
            )
        if marks:  # a mark needs its member's positions, and what decides where its receipt goes
            positions = batch.add(
                "SELECT m.chat_id, m.address, m.read_seq, m.delivered_seq, m.shown, coalesce(s.read_receipts, true), "
                "(SELECT count(*) FROM members n WHERE n.chat_id = m.chat_id) "
                "FROM members m LEFT JOIN settings s ON s.address = m.address WHERE (m.chat_id, m.address) IN "
                "(SELECT e->>0, e->>1 FROM json_array_elements(%s::json) e)",
                orjson.dumps(marks).decode(),
            )
        if replies:  # only sends that reply read more than a plain send
            replied = batch.add(
                "SELECT chat_id, seq FROM messages WHERE (chat_id, seq) IN "
                "(SELECT (e->>0), (e->>1)::bigint FROM json_array_elements(%s::json) e)",
                orjson.dumps(replies).decode(),
            )
        if reacted:
            reactors = batch.add(
                "SELECT chat_id, seq, emoji, address FROM reactions WHERE (chat_id, seq, emoji) IN "
                "(SELECT (e->>0), (e->>1)::bigint, (e->>2) FROM json_array_elements(%s::json) e) ORDER BY at",
                orjson.dumps(reacted).decode(),
            )
        if changed:
            current = batch.add(
                f"SELECT {COLUMNS} FROM messages WHERE (chat_id, seq) IN "
                "(SELECT (e->>0), (e->>1)::bigint FROM json_array_elements(%s::json) e)",
                orjson.dumps(changed).decode(),
            )
        if confirms:  # per chat from the index of waiting messages by chat (messages_waiting_by_chat): what is due
            waiting = batch.add(
                f"SELECT u.c, array(SELECT seq FROM messages WHERE chat_id = u.c AND seq <= u.s AND {WAITS_FOR_CLOCK} "
                "ORDER BY seq) FROM json_to_recordset(%s) AS u(c text, s bigint)",
                orjson.dumps(confirms).decode(),
            )
        results = batch.run(self.conn)
        if confirms:
            self.waiting = {chat_id: list(seqs) for chat_id, seqs in results[waiting]}
        for row in results[chats]:
            self.chats[row[0]] = _ChatState(Chat(row[0], [], *row[1:]))
        if listed:
            found = {row[0]: (row[1], row[2]) for row in results[members]}
            for chat_id in listed:
                state = self.chats.get(chat_id)
                if state is not None:
                    addresses, starts = found.get(chat_id, ([], []))
                    state.members = list(addresses)
                    state.starts = {a: n for a, n in zip(addresses, starts, strict=True) if n > 1}
                    state.in_table = tuple(state.members)
                    state.chat.members = list(state.members)
        if created:
            self.tombs = {row[0]: (row[1], row[2]) for row in results[tombs]}
        if appends:
            self.member_of.update(((chat_id, address), first) for chat_id, address, first in results[senders])
            for row in results[keys]:
                m = _message(row)
                self.keys[(m.sender, m.client_id)] = self.current[m.id] = m
        if marks:
            for chat_id, address, read_seq, delivered_seq, shown, shares, count in results[positions]:
                self.marking[(chat_id, address)] = (Position(read_seq, delivered_seq, shown), shares, count)
        if changed:
            for row in results[current]:
                m = _message(row)
                self.current.setdefault(m.id, m)
        if replies:
            self.replied = {(chat_id, seq) for chat_id, seq in results[replied]}
        if reacted:
            for chat_id, seq, emoji, address in results[reactors]:
                self.reactors.setdefault((message_id(chat_id, seq), emoji), []).append(address)

    # -- plans: each decides against what is read and what earlier ops of this transaction did ---------------------

    def plan(self, op: _Op) -> Any:
        return getattr(self, "_" + op.kind)(*op.args)

    def _state(self, chat_id: str) -> _ChatState:
        state = self.chats.get(chat_id)
        if state is None or state.gone:
            raise NotFound(f"no chat {chat_id!r}")
        return state

    def _create(self, chat_id: str, members: list[str], title: str | None, created_by: str) -> tuple[Chat, bool]:
        state = self.chats.get(chat_id)
        if state is not None and not state.gone:
            return state.chat, False
        erased = self.erased.get(chat_id)
        last_seq, rev = (erased.last_seq, erased.rev) if erased else self.tombs.get(chat_id, (0, 0))
        chat = Chat(chat_id, list(members), title, created_by, self.clock.now_ms(), last_seq, rev)
        self.chats[chat_id] = _ChatState(chat, new=True)
        self.chats[chat_id].begins = dict.fromkeys(members, last_seq)
        self.chat_changes.append(ChatChanged(chat, added=tuple(members)))
        return chat, True

    def _add(self, chat_id: str, members: list[str], limit: int, share_from: str | None) -> Chat:
        state = self._state(chat_id)
        current = state.members or []
        added = [m for m in members if m not in current]
        if len(current) + len(added) > limit:
            raise Invalid(f"'members' would make more than {limit} members")
        if added:
            start = state.starts.get(share_from, 1) if share_from in current else state.chat.last_seq + 1
            state.starts.update((address, start) for address in added if start > 1)
            state.begins.update((address, state.chat.last_seq) for address in added)
            state.members = current + added
            state.members_changed = True
            state.chat = replace(state.chat, members=list(state.members))
            self.chat_changes.append(ChatChanged(state.chat, added=tuple(added), visible_from=start))
        return state.chat

    def _remove(self, chat_id: str, address: str) -> Chat:
        state = self._state(chat_id)
        current = state.members or []
        if address not in current:
            raise NotFound(f"{address} is not a member of chat {chat_id!r}")
        state.members = [m for m in current if m != address]
        state.members_changed = True
        state.cycled.add(address)
        state.starts.pop(address, None)
        self.member_of.pop((chat_id, address), None)
        for moves in (self.sent, self.moves, self.marking):
            moves.pop((chat_id, address), None)
        state.chat = replace(state.chat, members=list(state.members))
        self.chat_changes.append(ChatChanged(state.chat, removed=(address,)))
        if not state.members:  # the last one: the chat goes, and its idempotency keys with it
            state.gone = True
            self.erased[chat_id] = state.chat
            for key in [k for k, m in self.keys.items() if m.chat_id == chat_id]:
                del self.keys[key]
        return state.chat

    def _append(self, new: NewMessage) -> Appended:
        state = self._state(new.chat_id)
        member = (new.chat_id, new.sender) in self.member_of if state.members is None else new.sender in state.members
        if not member:
            raise Forbidden(f"you are not a member of chat {new.chat_id!r}")
        loaded = state.members is not None  # then its starts are loaded too, with this transaction's changes
        first = state.starts.get(new.sender, 1) if loaded else self.member_of.get((new.chat_id, new.sender), 1)
        earlier = self.keys.get((new.sender, new.client_id))
        if earlier is not None:
            return repeat_of(self.current.get(earlier.id, earlier), new, first), False, None
        check_reply(
            new,
            first,
            lambda seq: (new.chat_id, seq) in self.replied or message_id(new.chat_id, seq) in self.current,
        )
        chat = state.chat
        seq, rev, at = chat.last_seq + 1, chat.rev + 1, self.clock.now_ms()
        state.chat = replace(chat, last_seq=seq, rev=rev)
        state.messages_added = state.counters_changed = True
        m = Message.provisional(new, seq, rev, at)
        self.keys[(new.sender, new.client_id)] = self.current[m.id] = m
        self.sent[(new.chat_id, new.sender)] = seq
        self.inserts.append(m)
        self.stored.append(Stored(m, True))
        return m, True, None

    def _change(self, message_id_: str, change: Change) -> Message:
        current = self._current(message_id_)
        fields = change(current)
        return self._update(current, fields) if fields else current

    def _react(self, message_id_: str, reaction: Reaction) -> Message:
        current = self._current(message_id_)
        key = (message_id_, reaction.emoji)
        outcome = react(current, self.reactors.get(key, []), reaction)
        if outcome is None:
            return current
        fields, self.reactors[key] = outcome
        updated = self._update(current, fields)
        self.reactor_writes.append((current.chat_id, current.seq, reaction.emoji, reaction.address, reaction.added))
        return updated

    def _confirm(self, chat_id: str, through_seq: int) -> Confirmed | None:
        state = self._state(chat_id)
        seqs = set(self.waiting.get(chat_id, ())) - self.cleared.get(chat_id, set())
        for m in map(self.current.__getitem__, self.changed.get(chat_id, ())):  # changed here: as they are now
            if m.seq <= through_seq:
                (seqs.add if waits_for_clock(m) else seqs.discard)(m.seq)
        if not seqs:
            return None
        ordered, at = sorted(seqs), self.clock.now_ms()
        first_rev = state.chat.rev + 1
        state.chat = replace(state.chat, rev=state.chat.rev + len(ordered))
        state.counters_changed = True
        for rev, seq in enumerate(ordered, first_rev):  # what later ops of this transaction see
            if (read := self.current.get(message_id(chat_id, seq))) is not None:
                self.current[read.id] = confirmed_by_clock(read, rev, at)
                if read.id in self.updates:  # its earlier change here is written after the confirmation: as it is now
                    self.updates[read.id] = self.current[read.id]
        self.cleared.setdefault(chat_id, set()).update(ordered)
        self.confirms.append((chat_id, ordered, first_rev, at))
        confirmed = Confirmed(chat_id, through_seq, first_rev, state.chat.rev, at)
        self.confirmed.append(confirmed)
        return confirmed

    def _current(self, message_id_: str) -> Message:
        current = self.current.get(message_id_)
        if current is None:
            raise NotFound(f"no message {message_id_!r}")
        return current

    def _update(self, current: Message, fields: dict[str, Any]) -> Message:
        """The message changed by `fields` at its chat's next rev; one deleted here loses its reactors."""
        state = self._state(current.chat_id)
        rev = state.chat.rev + 1
        state.chat = replace(state.chat, rev=rev)
        state.counters_changed = True
        updated = self.current[current.id] = replace(current, **fields, rev=rev, updated_at=self.clock.now_ms())
        self.changed.setdefault(current.chat_id, set()).add(current.id)
        if any(m.id == current.id for m in self.inserts):
            self.inserts = [updated if m.id == current.id else m for m in self.inserts]
        else:
            self.updates[current.id] = updated
        if updated.deleted and not current.deleted:
            self.deleted.append((current.chat_id, current.seq))
            self.reactors = {k: v for k, v in self.reactors.items() if k[0] != current.id}
        self.stored.append(Stored(updated, False, settled=current.status == "provisional" != updated.status))
        return updated

    def _mark(
        self, chat_id: str, address: str, read_seq: int | None, delivered_seq: int | None
    ) -> tuple[Position, bool]:
        state = self._state(chat_id)
        key = (chat_id, address)
        loaded = self.marking.get(key)
        if not (address in state.members if state.members is not None else loaded is not None):
            raise Forbidden(f"you are not a member of chat {chat_id!r}")
        last_seq = state.chat.last_seq
        before, shares, count = loaded or (Position(last_seq, last_seq), True, 0)
        position = self.moves.get(key) or before
        sent = self.sent.get(key, 0)
        position = Position(max(position.read_seq, sent), max(position.delivered_seq, sent), position.shown)
        moved = position.moved(read_seq, delivered_seq, last_seq)
        if moved is None:
            return position, False
        self.moves[key] = moved
        members = len(state.members) if state.members is not None else count
        self.marked.append(PositionMoved(chat_id, address, moved.read_seq, moved.delivered_seq, shares, members))
        return moved, True

    # -- the writes ---------------------------------------------------------------------------------------------

    def _write_members(self, batch: _Batch) -> None:
        """Each chat's members as they end this transaction, against what the table holds: its ops may remove and add
        one address in any order (each row written once, deletes first), so no insert meets a row still there."""
        for chat_id, state in self.chats.items():
            if state.members is None or state.gone or not (state.new or state.members_changed):
                continue
            final, held = set(state.members), set(state.in_table)
            for address in state.in_table:
                if address not in final or address in state.cycled:
                    batch.add("DELETE FROM members WHERE chat_id = %s AND address = %s", chat_id, address)
            for address in state.members:
                if address not in held or address in state.cycled:
                    begins = state.begins.get(address, state.chat.last_seq)
                    batch.add(
                        "INSERT INTO members (chat_id, address, visible_from, read_seq, delivered_seq) "
                        "VALUES (%s, %s, %s, %s, %s)",
                        chat_id,
                        address,
                        state.starts.get(address, 1),
                        begins,
                        begins,
                    )

    def _write_positions(self, batch: _Batch) -> None:
        """Senders' and markers' positions, forward only, in one statement (after the members it may have added)."""
        moved = {key: (seq, seq) for key, seq in self.sent.items()}
        for key, p in self.moves.items():
            seq = self.sent.get(key, 0)
            moved[key] = (max(p.read_seq, seq), max(p.delivered_seq, seq))
        batch.add(
            "UPDATE members m SET read_seq = greatest(m.read_seq, u.r), "
            "delivered_seq = greatest(m.delivered_seq, u.d), shown = true "
            "FROM json_to_recordset(%s) AS u(c text, a text, r bigint, d bigint) "
            "WHERE m.chat_id = u.c AND m.address = u.a",
            orjson.dumps([{"c": c, "a": a, "r": r, "d": d} for (c, a), (r, d) in moved.items()]).decode(),
        )

    def _erase(self, batch: _Batch) -> None:
        """The chats whose last member left: every row of theirs goes; their counters stay for the next of each id
        (first in the transaction, so a chat registered again here is inserted after)."""
        gone = sorted(self.erased)
        for table, column in (
            ("reactions", "chat_id"),
            ("messages", "chat_id"),
            ("members", "chat_id"),
            ("imported", "chat_id"),
        ):
            batch.add(f"DELETE FROM {table} WHERE {column} = ANY(%s::text[])", gone)
        for chat in self.erased.values():
            batch.add(
                "INSERT INTO erased_chats (id, last_seq, rev, members_version) "
                "VALUES (%s, %s, %s, coalesce((SELECT members_version FROM chats WHERE id = %s), 0) + 1) "
                "ON CONFLICT (id) DO UPDATE SET last_seq = excluded.last_seq, rev = excluded.rev, "
                "members_version = excluded.members_version",
                chat.id,
                chat.last_seq,
                chat.rev,
                chat.id,
            )
        batch.add("DELETE FROM chats WHERE id = ANY(%s::text[])", gone)
        erased_at = {chat.id: chat.last_seq for chat in self.erased.values()}

        def kept(m: Message) -> bool:
            return m.seq > erased_at.get(m.chat_id, -1)

        self.inserts = [m for m in self.inserts if kept(m)]
        self.updates = {i: m for i, m in self.updates.items() if kept(m)}
        self.reactor_writes = [w for w in self.reactor_writes if w[1] > erased_at.get(w[0], -1)]
        self.deleted = [d for d in self.deleted if d[1] > erased_at.get(d[0], -1)]
        self.stored = [s for s in self.stored if kept(s.message)]
        self.marked = [p for p in self.marked if p.chat_id not in self.erased]
        self.confirms = [c for c in self.confirms if c[0] not in self.erased]
        self.confirmed = [c for c in self.confirmed if c.chat_id not in self.erased]

    def _write_reactions(self, batch: _Batch) -> None:
        """Reactors in the order they came (one may add and remove within a transaction); a deleted message's go."""
        for chat_id, seq, emoji, address, added in self.reactor_writes:
            batch.add(ADD_REACTOR if added else REMOVE_REACTOR, chat_id, seq, emoji, address)
        if self.deleted:
            batch.add(
                "DELETE FROM reactions WHERE (chat_id, seq) IN "
                "(SELECT (e->>0), (e->>1)::bigint FROM json_array_elements(%s::json) e)",
                orjson.dumps(self.deleted).decode(),
            )

    def write_and_commit(self, announce: Announce) -> None:
        """Every write, the notifications, COMMIT: one round trip, then PostgreSQL's WAL flush."""
        new_chats = [s.chat for s in self.chats.values() if s.new and not s.gone]
        counters = [s for s in self.chats.values() if (s.counters_changed or s.members_changed) and not s.gone]
        batch = _Batch()
        if self.erased:
            self._erase(batch)
        for c in new_chats:  # its members version after the erased one's, if erased before or in this transaction
            batch.add(
                "INSERT INTO chats (id, title, created_by, created_at, last_seq, rev, members_version, activity) "
                "VALUES (%s, %s, %s, %s, %s, %s, "
                "coalesce((SELECT members_version FROM erased_chats WHERE id = %s), -1) + 1, nextval('chat_activity'))",
                c.id,
                c.title,
                c.created_by,
                c.created_at,
                c.last_seq,
                c.rev,
                c.id,
            )
        self._write_members(batch)
        if self.sent or self.moves:
            self._write_positions(batch)
        if self.inserts:
            batch.add(INSERT_MESSAGES, orjson.dumps(self.inserts).decode())
        for chat_id, seqs, first_rev, at in self.confirms:  # one statement per chat, before any later change here
            batch.add(
                "UPDATE messages m SET status = 'confirmed', source = 'fallback', updated_at = %s, rev = %s + u.n - 1 "
                "FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(seq, n) WHERE m.chat_id = %s AND m.seq = u.seq",
                at,
                first_rev,
                seqs,
                chat_id,
            )
        if self.updates:
            batch.add(
                "UPDATE messages m SET rev = u.rev, body = u.body, tx = u.tx, xmtp_id = u.xmtp_id, "
                "xmtp_bound = u.xmtp_bound, status = u.status, source = u.source, reason = u.reason, "
                "original = u.original, updated_at = u.updated_at, reactions = u.reactions, "
                "reaction_counts = u.reaction_counts, deleted = u.deleted "
                "FROM json_populate_recordset(NULL::messages, %s) u WHERE m.chat_id = u.chat_id AND m.seq = u.seq",
                orjson.dumps(list(self.updates.values())).decode(),
            )
        self._write_reactions(batch)
        if counters:
            batch.add(
                "UPDATE chats c SET last_seq = u.last_seq, rev = u.rev, members_version = c.members_version + u.mv, "
                "activity = CASE WHEN u.active THEN nextval('chat_activity') ELSE c.activity END "
                "FROM json_to_recordset(%s) AS u(id text, last_seq bigint, rev bigint, mv int, active boolean) "
                "WHERE c.id = u.id",
                orjson.dumps(
                    [
                        {
                            "id": s.chat.id,
                            "last_seq": s.chat.last_seq,
                            "rev": s.chat.rev,
                            "mv": int(s.members_changed),
                            "active": s.messages_added,
                        }
                        for s in counters
                    ]
                ).decode(),
            )
        for payload in announce.commit(self.stored, self.chat_changes, self.marked, self.confirmed):
            batch.add("SELECT pg_notify(%s, %s)", announce.channel, payload)
        batch.add("COMMIT")
        batch.run(self.conn)


class _Batch:
    """Statements sent as one query string (the simple query protocol, parameters quoted by psycopg's ClientCursor):
    one round trip and one wait however many statements, where a pipeline waits once per statement."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.params: list[Any] = []

    def add(self, statement: str, *params: Any) -> int:
        """Queue a statement; returns the index of its rows in what run() returns."""
        self.statements.append(statement)
        self.params += params
        return len(self.statements) - 1

    def run(self, conn: psycopg.Connection) -> list[list[tuple[Any, ...]]]:
        with psycopg.ClientCursor(conn) as cur:
            cur.execute("; ".join(self.statements), self.params)
            results = []
            while True:
                results.append(cur.fetchall() if cur.description is not None else [])
                if not cur.nextset():
                    return results


def _roll_back(conn: psycopg.Connection) -> None:
    if not conn.closed and not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.execute("ROLLBACK")


def _chat_of(op: _Op) -> str:
    if op.kind == "append":
        return op.args[0].chat_id
    if op.kind in ("change", "react"):
        return _split(op.args[0])[0]
    return op.args[0]


def _split(message_id_: str) -> tuple[str, int]:
    chat_id, _, seq = message_id_.rpartition("/")
    return chat_id, int(seq) if seq.isdigit() and len(seq) <= 18 else 0


class PgStore:
    """The Store on PostgreSQL (DATABASE_URL)."""

    def __init__(self, url: str, clock: Clock, announce: Announce, pool_size: int = 8) -> None:
        self.url = url
        self.clock = clock
        self.announce = announce
        self.pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            name="om-reads",
            reconnect_timeout=5,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
        )
        self._listeners: list[Listener] = []
        self._queue: list[_Op] = []
        self._wake = Event()
        self._writer: gevent.Greenlet | None = None
        self._conn: psycopg.Connection | None = None  # the writer's own
        self._prober: gevent.Greenlet | None = None
        self._away: str | None = None  # why the database was last found unreachable; None while it answers
        self._probe_now = Event()
        self._answering = Event()  # set while the database is found answering
        self._answering.set()
        self.stats = StoreStats()

    # -- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Create or migrate the schema (waiting a while for a database that is still starting), then take writes."""
        deadline = self.clock.monotonic() + START_WAIT_S
        while True:
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    schema.migrate(conn)
                break
            except psycopg.OperationalError as exc:
                if self.clock.monotonic() > deadline:
                    raise
                log.warning("waiting for the database: %s", exc)
                gevent.sleep(1)
        self.pool.open()
        self._writer = gevent.spawn(self._write_loop)
        self._prober = gevent.spawn(self._probe_loop)

    def close(self) -> None:
        for greenlet in (self._writer, self._prober):
            if greenlet is not None:
                greenlet.kill()
        self._writer = self._prober = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.pool.close()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def healthy(self) -> bool:
        """What the probe last found: never waits on the database."""
        return self._away is None and self._writer is not None and not self._writer.dead

    # -- whether the database answers ------------------------------------------------------------------------------

    def _probe_loop(self) -> None:
        """Ask the database every PROBE_S, at once when something found it unreachable, on a connection of its own
        (a pool full of waiting reads must not look like a database away)."""
        conn: psycopg.Connection | None = None
        try:
            while True:
                self._probe_now.wait(PROBE_S)
                self._probe_now.clear()
                try:
                    with gevent.Timeout(PROBE_TIMEOUT_S, NoAnswer):
                        if conn is None or conn.closed or conn.broken:
                            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
                        conn.execute("SELECT 1")
                except Exception as exc:  # whatever keeps SELECT 1 from answering keeps everything else from it too
                    if conn is not None:
                        conn.close()
                        conn = None
                    self._set_away(exc)
                else:
                    if self._away is not None:
                        log.warning("the database answers again")
                        self._away = None
                        self._answering.set()
        finally:  # closed (the store closing kills this greenlet)
            if conn is not None:
                conn.close()

    def _set_away(self, exc: BaseException) -> None:
        if self._away is None:
            log.error("the database cannot be reached (%s): reads and writes are refused until it answers", exc)
        self._away = type(exc).__name__
        self._answering.clear()

    def answering(self, timeout: float = PROBE_TIMEOUT_S) -> bool:
        """Whether the database answers, asking it now (waiting at most `timeout`) if it was found away."""
        if self._away is not None:
            self._probe_now.set()
        return self._answering.wait(timeout)

    def _lost(self, exc: BaseException) -> None:
        """A read or write found the database unreachable: refuse at once from now on, and have the probe look."""
        self._set_away(exc)
        self._probe_now.set()

    # -- reads ------------------------------------------------------------------------------------------------

    def query(self, query: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        """One statement on a pooled connection."""
        return self._pooled(lambda conn: conn.execute(query, params).fetchall())

    def _pooled(self, work: Callable[[psycopg.Connection], T]) -> T:
        """`work` (a repeat if done twice) on a pooled connection, retried once on a connection found broken (the
        database restarted); `unavailable` at once while the database is away. Every pooled connection busy fails this
        call only: the probe, on its own connection, decides whether the database is away."""
        if self._away is not None:
            raise _unavailable(self._away)
        for attempt in (1, 2):
            try:
                with self.pool.connection(timeout=READ_WAIT_S) as conn, gevent.Timeout(READ_TIMEOUT_S, NoAnswer):
                    return work(conn)
            except psycopg_pool.PoolTimeout:
                self._probe_now.set()
                raise _unavailable("every pooled connection busy") from None
            except NoAnswer as exc:
                self._lost(exc)
                raise _unavailable(exc) from None
            except DOWN as exc:
                if attempt == 2:
                    if unreachable(exc):
                        self._lost(exc)
                    raise _unavailable(exc) from None
        raise AssertionError("unreachable")

    def chat(self, chat_id: str) -> Chat | None:
        rows = self.query(f"SELECT {CHAT_COLUMNS} FROM chats c WHERE c.id = %s", (chat_id,))
        return _chat(rows[0]) if rows else None

    def is_member(self, chat_id: str, address: str) -> bool:
        return bool(self.query("SELECT 1 FROM members WHERE chat_id = %s AND address = %s", (chat_id, address)))

    def visible_from(self, chat_id: str, address: str) -> int | None:
        rows = self.query("SELECT visible_from FROM members WHERE chat_id = %s AND address = %s", (chat_id, address))
        return int(rows[0][0]) if rows else None

    def late_members(self, chat_id: str) -> dict[str, int]:
        rows = self.query(
            "SELECT address, visible_from FROM members WHERE chat_id = %s AND visible_from > 1", (chat_id,)
        )
        return {address: int(start) for address, start in rows}

    def versions(self, chat_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        rows = self.query("SELECT id, rev, members_version FROM chats WHERE id = ANY(%s)", (list(chat_ids),))
        return {chat_id: (rev, version) for chat_id, rev, version in rows}

    def chats_of(self, address: str, before: int | None, limit: int) -> tuple[list[ChatView], int | None]:
        rows = self.query(
            VIEWS.format("members mine JOIN chats c ON c.id = mine.chat_id")
            + "WHERE mine.address = %s AND (%s::bigint IS NULL OR c.activity < %s) ORDER BY c.activity DESC LIMIT %s",
            (address, before, before, limit + 1),
        )
        page = rows[:limit]
        return [_view(row) for row in page], page[-1][7] if len(rows) > limit else None

    def view(self, chat_id: str, address: str) -> ChatView | None:
        rows = self.query(
            VIEWS.format("chats c LEFT JOIN members mine ON mine.chat_id = c.id AND mine.address = %s")
            + "WHERE c.id = %s",
            (address, chat_id),
        )
        return _view(rows[0]) if rows else None

    def receipts(self, chat_id: str, caller: str) -> dict[str, Position]:
        rows = self.query(
            "SELECT m.address, m.read_seq, m.delivered_seq, m.shown FROM members m "
            "LEFT JOIN settings s ON s.address = m.address WHERE m.chat_id = %s "
            "AND (m.address = %s OR (m.shown AND coalesce(s.read_receipts, true))) ORDER BY m.joined",
            (chat_id, caller),
        )
        return {address: Position(read_seq, delivered_seq, shown) for address, read_seq, delivered_seq, shown in rows}

    def settings(self, address: str) -> Settings:
        rows = self.query(f"SELECT {', '.join(SETTINGS_FIELDS)} FROM settings WHERE address = %s", (address,))
        return Settings(*rows[0]) if rows else Settings()

    def chat_ids_of(self, address: str) -> dict[str, tuple[int, int]]:
        rows = self.query(
            "SELECT mine.chat_id, mine.visible_from, c.last_seq FROM members mine JOIN chats c ON c.id = mine.chat_id "
            "WHERE mine.address = %s",
            (address,),
        )
        return {chat_id: (int(first), int(last_seq)) for chat_id, first, last_seq in rows}

    def message(self, message_id_: str) -> Message | None:
        chat_id, seq = _split(message_id_)
        rows = self.query(f"SELECT {COLUMNS} FROM messages WHERE chat_id = %s AND seq = %s", (chat_id, seq))
        return _message(rows[0]) if rows else None

    def messages(self, message_ids: Iterable[str]) -> dict[str, Message]:
        """Many messages in one round trip (the reconciler's due ones)."""
        pairs = [_split(i) for i in message_ids]
        if not pairs:
            return {}
        rows = self.query(
            f"SELECT {COLUMNS} FROM messages WHERE (chat_id, seq) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))",
            ([p[0] for p in pairs], [p[1] for p in pairs]),
        )
        return {m.id: m for m in map(_message, rows)}

    def at_rev(self, chat_id: str, rev: int) -> Message | None:
        """The message whose last change was `rev`, if it has not changed since (a pointer in a notification)."""
        rows = self.query(f"SELECT {COLUMNS} FROM messages WHERE chat_id = %s AND rev = %s", (chat_id, rev))
        return _message(rows[0]) if rows else None

    def find(self, sender: str, client_id: str) -> Message | None:
        rows = self.query(f"SELECT {COLUMNS} FROM messages WHERE sender = %s AND client_id = %s", (sender, client_id))
        return _message(rows[0]) if rows else None

    def page(
        self, chat_id: str, before: int | None, after: int | None, limit: int, first: int = 1
    ) -> tuple[list[Message], bool]:
        if after is not None:
            rows = self.query(
                f"SELECT {COLUMNS} FROM messages WHERE chat_id = %s AND seq > %s AND seq >= %s "
                "AND (%s::bigint IS NULL OR seq < %s) ORDER BY seq LIMIT %s",
                (chat_id, after, first, before, before, limit + 1),
            )
            return [_message(r) for r in rows[:limit]], len(rows) > limit
        rows = self.query(
            f"SELECT {COLUMNS} FROM messages WHERE chat_id = %s AND seq >= %s AND (%s::bigint IS NULL OR seq < %s) "
            "ORDER BY seq DESC LIMIT %s",
            (chat_id, first, before, before, limit + 1),
        )
        return [_message(r) for r in reversed(rows[:limit])], len(rows) > limit

    def changes(self, chat_id: str, since_rev: int, limit: int, first: int = 1) -> tuple[list[Message], bool]:
        rows = self.query(
            f"SELECT {COLUMNS} FROM messages WHERE chat_id = %s AND rev > %s AND seq >= %s ORDER BY rev LIMIT %s",
            (chat_id, since_rev, first, limit + 1),
        )
        return [_message(r) for r in rows[:limit]], len(rows) > limit

    def unsettled(self, kinds: Iterable[str] = SETTLERS) -> list[Unsettled]:
        rows = self.query(
            f"SELECT chat_id, seq, rev, sent_at, {KIND} FROM messages WHERE status = 'provisional' "
            f"AND {KIND} = ANY(%s) ORDER BY sent_at, chat_id, seq",
            (list(kinds),),
        )
        return [Unsettled(message_id(chat_id, seq), rev, sent_at, kind) for chat_id, seq, rev, sent_at, kind in rows]

    def due_chats(self, sent_by: int, limit: int) -> dict[str, int]:
        """From the index of provisional plain messages by time sent: a round reads what is due, not what waits."""
        rows = self.query(
            "SELECT chat_id, max(seq) FROM (SELECT chat_id, seq, sent_at FROM messages "
            f"WHERE {WAITS_FOR_CLOCK} AND sent_at <= %s ORDER BY sent_at, chat_id, seq LIMIT %s) due "
            "GROUP BY chat_id ORDER BY min(sent_at), chat_id",
            (sent_by, limit),
        )
        return {chat_id: int(through) for chat_id, through in rows}

    def unsettled_by_kind(self) -> dict[str, int]:
        rows = self.query(f"SELECT {KIND}, count(*) FROM messages WHERE status = 'provisional' GROUP BY 1", ())
        return {**dict.fromkeys(SETTLERS, 0), **{kind: int(n) for kind, n in rows}}

    # -- writes -------------------------------------------------------------------------------------------------

    def create_chat(self, chat_id: str, members: list[str], title: str | None, created_by: str) -> tuple[Chat, bool]:
        result: tuple[Chat, bool] = self._submit(_Op("create", chat_id, list(members), title, created_by))
        return result

    def add_members(self, chat_id: str, members: list[str], limit: int, share_from: str | None = None) -> Chat:
        result: Chat = self._submit(_Op("add", chat_id, list(members), limit, share_from))
        return result

    def remove_member(self, chat_id: str, address: str) -> Chat:
        result: Chat = self._submit(_Op("remove", chat_id, address))
        return result

    def append(self, new: NewMessage) -> tuple[Message, bool]:
        message, created, _ = self.append_later(new).get()
        return message, created

    def append_later(self, new: NewMessage) -> Pending:
        return self._enqueue(_Op("append", new))

    def change(self, message_id_: str, change: Change) -> Message:
        result: Message = self._submit(_Op("change", message_id_, change))
        return result

    def confirm_through(self, chat_id: str, through_seq: int) -> Confirmed | None:
        result: Confirmed | None = self._submit(_Op("confirm", chat_id, through_seq))
        return result

    def mark(
        self, chat_id: str, address: str, read_seq: int | None, delivered_seq: int | None
    ) -> tuple[Position, bool]:
        result: tuple[Position, bool] = self._submit(_Op("mark", chat_id, address, read_seq, delivered_seq))
        return result

    def put_settings(self, address: str, changes: dict[str, bool]) -> Settings:
        """One statement on a pooled connection: independent of any chat, and the same if done twice."""
        fields = ", ".join(SETTINGS_FIELDS)
        given = [changes.get(name) for name in SETTINGS_FIELDS]
        rows = self._pooled(
            lambda conn: conn.execute(
                f"INSERT INTO settings AS s (address, {fields}) VALUES (%s, "
                + ", ".join(f"coalesce(%s, {getattr(DEFAULTS, name)})" for name in SETTINGS_FIELDS)
                + ") ON CONFLICT (address) DO UPDATE SET "
                + ", ".join(f"{name} = coalesce(%s, s.{name})" for name in SETTINGS_FIELDS)
                + f" RETURNING {fields}",
                (address, *given, *given),
            ).fetchall()
        )
        return Settings(*rows[0])

    def put_farcaster_token(self, token: FarcasterToken) -> None:
        self._pooled(
            lambda conn: conn.execute(
                "INSERT INTO farcaster_tokens (fid, app_key, url, token) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (fid, app_key) DO UPDATE SET url = excluded.url, token = excluded.token",
                (token.fid, token.app_key, token.url, token.token),
            )
        )

    def drop_farcaster_tokens(self, fid: int, app_key: str) -> None:
        self._pooled(
            lambda conn: conn.execute("DELETE FROM farcaster_tokens WHERE fid = %s AND app_key = %s", (fid, app_key))
        )

    def farcaster_tokens(self, fid: int) -> list[FarcasterToken]:
        rows = self.query(
            "SELECT fid, app_key, url, token FROM farcaster_tokens WHERE fid = %s ORDER BY app_key", (fid,)
        )
        return [FarcasterToken(*row) for row in rows]

    def link_farcaster(self, address: str, fid: int) -> None:
        self._pooled(
            lambda conn: conn.execute(
                "INSERT INTO farcaster_links (address, fid) VALUES (%s, %s) "
                "ON CONFLICT (address) DO UPDATE SET fid = excluded.fid",
                (address, fid),
            )
        )

    def farcaster_fid(self, address: str) -> int | None:
        rows = self.query("SELECT fid FROM farcaster_links WHERE address = %s", (address,))
        return int(rows[0][0]) if rows else None

    def put_push_subscription(self, subscription: PushSubscription) -> bool:
        """Its own transaction on a pooled connection, the address's subscriptions locked while the oldest past the
        limit are dropped (a repeat if done twice)."""
        sub = subscription

        def put(conn: psycopg.Connection) -> bool:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (sub.address,))
                had = conn.execute(
                    "DELETE FROM push_subscriptions WHERE endpoint = %s RETURNING address", (sub.endpoint,)
                ).fetchall()
                conn.execute(
                    "INSERT INTO push_subscriptions (endpoint, address, p256dh, auth, session) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (sub.endpoint, sub.address, sub.p256dh, sub.auth, sub.session),
                )
                conn.execute(
                    "DELETE FROM push_subscriptions WHERE endpoint IN (SELECT endpoint FROM push_subscriptions "
                    "WHERE address = %s ORDER BY at DESC OFFSET %s)",
                    (sub.address, MAX_PER_ADDRESS),
                )
            return not had or had[0][0] != sub.address

        return self._pooled(put)

    def drop_push_subscriptions(
        self, endpoint: str | None = None, address: str | None = None, session: str | None = None
    ) -> None:
        self.query(
            "DELETE FROM push_subscriptions WHERE (%(e)s::text IS NULL OR endpoint = %(e)s) "
            "AND (%(a)s::text IS NULL OR address = %(a)s) AND (%(s)s::text IS NULL OR session = %(s)s) RETURNING 1",
            {"e": endpoint, "a": address, "s": session},
        )

    def push_subscriptions(self, address: str) -> list[PushSubscription]:
        rows = self.query(
            "SELECT endpoint, address, p256dh, auth, session FROM push_subscriptions WHERE address = %s ORDER BY at",
            (address,),
        )
        return [PushSubscription(*row) for row in rows]

    def reachable(self, chat_id: str) -> list[Reachable]:
        """The members' subscriptions and linked tokens in one round trip (a row each), grouped here by address."""
        rows = self.query(REACHABLE, {"chat": chat_id})
        found: dict[str, Reachable] = {}
        for address, previews, endpoint, p256dh, auth, session, fid, app_key, url, token, _ in rows:
            reach = found.get(address) or Reachable(address, previews)
            if endpoint is not None:
                subscription = PushSubscription(endpoint, address, p256dh, auth, session)
                reach = replace(reach, subscriptions=(*reach.subscriptions, subscription))
            else:
                reach = replace(reach, tokens=(*reach.tokens, FarcasterToken(fid, app_key, url, token)))
            found[address] = reach
        return list(found.values())

    def react(self, message_id_: str, reaction: Reaction) -> Message:
        result: Message = self._submit(_Op("react", message_id_, reaction))
        return result

    def revoke_session(self, session: str, until: int) -> None:
        """Rare and independent of any chat: its own transaction (pruning the expired) on a pooled connection, outside
        the group commit, refused and bounded as reads are (it is a repeat if done twice)."""
        revoked = Revoked(session, until)
        batch = _Batch()
        batch.add("BEGIN")
        batch.add(
            "INSERT INTO revoked_sessions (session_id, until) VALUES (%s, %s) ON CONFLICT (session_id) "
            "DO UPDATE SET until = greatest(revoked_sessions.until, excluded.until)",
            session,
            until,
        )
        batch.add("DELETE FROM revoked_sessions WHERE until <= %s", self.clock.now_ms())
        batch.add("SELECT pg_notify(%s, %s)", self.announce.channel, self.announce.revocation(revoked))
        batch.add("COMMIT")
        self._pooled(batch.run)
        self._announce(Commit(revoked=(revoked,)))

    def revoked_sessions(self) -> dict[str, int]:
        rows = self.query("SELECT session_id, until FROM revoked_sessions WHERE until > %s", (self.clock.now_ms(),))
        return dict(rows)

    def _submit(self, op: _Op) -> Any:
        return self._enqueue(op).get()

    def _enqueue(self, op: _Op) -> AsyncResult:
        """Queue a write for the next transaction; its result is set once committed."""
        if self._away is not None:
            raise _unavailable(self._away)
        self._queue.append(op)
        self._wake.set()
        return op.result

    # -- the writer -----------------------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            ops, self._queue = self._queue, []
            if ops and self._away is not None:  # found away since they were queued: refused at once, not tried
                self._refuse(ops, _unavailable(self._away))
            elif ops:
                try:
                    self._commit(ops)
                except Exception as exc:  # a bug: fail these ops, keep the writer
                    log.exception("a group commit failed")
                    for op in ops:
                        if not op.result.ready():
                            op.result.set_exception(Failed(f"the write failed ({type(exc).__name__})"))

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        return self._conn

    def _commit(self, ops: list[_Op]) -> None:
        """One transaction for every queued op: planned again after a race with another node's commit, retried on a
        fresh connection while nothing can have committed; what the database refuses fails only the op that asked."""
        for attempt in (1, 2, 3):
            try:
                conn = self._connection()
            except DOWN as exc:
                return self._down(ops, exc)
            committing = False
            started = self.clock.monotonic()
            try:
                tx = _Transaction(conn, self.clock)
                tx.load(ops)
                outcomes = [self._plan(tx, op) for op in ops]
                committing = True
                tx.write_and_commit(self.announce)
            except REPLAN:  # another node committed one of these keys meanwhile: planning again finds what it stored
                _roll_back(conn)
                continue
            except psycopg.Error as exc:
                if not unreachable(exc):  # the database refused something one op asked: not the others' fault
                    _roll_back(conn)
                    return self._each_alone(ops, exc)
                if committing or attempt == 3:  # COMMIT sent: whether it committed is unknown
                    return self._down(ops, exc)
                continue  # before COMMIT nothing can have been stored: a fresh connection, once more
            except BaseException:
                _roll_back(conn)
                raise
            self.stats.committed(self.clock.monotonic() - started, len(ops))
            for op, ok, value in outcomes:
                if ok:
                    op.result.set(value)
                else:
                    op.result.set_exception(value)
            if tx.stored or tx.chat_changes or tx.marked or tx.confirmed:
                commit = Commit(tuple(tx.stored), tuple(tx.chat_changes), (), tuple(tx.marked), tuple(tx.confirmed))
                self._announce(commit)
            return None
        return self._each_alone(ops, RuntimeError("raced other nodes' commits three times"))

    def _each_alone(self, ops: list[_Op], exc: BaseException) -> None:
        """Commit each op in a transaction of its own, so a refusal or a race fails only the op it concerns."""
        if len(ops) > 1:
            for op in ops:
                if self._away is None:
                    self._commit([op])
                else:
                    self._refuse([op], _unavailable(self._away))
            return
        log.error("the database refused a write: %r", exc)
        ops[0].result.set_exception(Failed(f"the write failed ({type(exc).__name__})"))

    @staticmethod
    def _plan(tx: _Transaction, op: _Op) -> tuple[_Op, bool, Any]:
        """An op's outcome; a refusal or a bug in one op's plan fails that op, not the transaction."""
        try:
            return op, True, tx.plan(op)
        except DomainError as exc:
            return op, False, exc
        except Exception as exc:
            log.exception("planning a write failed")
            return op, False, Failed(f"the write could not be planned ({type(exc).__name__})")

    def _down(self, ops: list[_Op], exc: BaseException) -> None:
        """The database could not be reached: these ops are refused, and so is what comes until it answers again."""
        self.stats.failures += 1
        self._lost(exc)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._refuse(ops, _unavailable(exc))

    @staticmethod
    def _refuse(ops: list[_Op], error: DomainError) -> None:
        for op in ops:
            op.result.set_exception(error)

    def _announce(self, commit: Commit) -> None:
        for listener in self._listeners:
            try:
                listener(commit)
            except Exception:
                log.exception("store listener failed")
