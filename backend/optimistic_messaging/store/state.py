"""The JSON-lines store's committed state in memory: replayed from the log at start, advanced by each durable record."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..models import (
    SETTLERS,
    Chat,
    ChatView,
    FarcasterToken,
    Message,
    Position,
    Settings,
    confirmed_by_clock,
    settled_by,
)
from ..notify.subscriptions import PushSubscription
from .history import History, decode_message
from .keys import KeyIndex

# A record is what one line of the log holds: ("chat", Room) · ("members", (chat_id, [address…], visible_from))
# · ("removed", (chat_id, [address…])) · ("message", Message) for a new message · ("update", Message) for its new state
# · ("confirmed", (chat_id, through_seq, first_rev, at, n)) the clock confirmed the chat's n plain messages that waited
# for it with seq up to through_seq, at revs first_rev.. in seq order (their own records stay as they were: a read of
# one applies it, see Room.clock_revs)
# · ("erased", (chat_id, last_seq, rev, members_version)) its last member left: its history goes, its counters stay
# · ("revoked", (session, until)) for a session signed out
# · ("reactor", (message_id, emoji, address, added)) one reactor of a message added or removed (its "update" follows)
# · ("position", (chat_id, address, read_seq, delivered_seq, shown)) a member's positions as a mark moved them, or as a
# compacted log has them where replaying its chat and messages would not (a send moves its sender's without a record;
# a member starts at the chat's last_seq as it joins) · ("settings", (address, Settings)) an address's settings now
# · ("fc_token", FarcasterToken) a Farcaster client's latest token · ("fc_drop", (fid, app_key)) that client's dropped
# · ("fc_link", (address, fid)) the fid an address linked last.
# · ("push", PushSubscription) registered (moved from any other address) · ("unpush", endpoint) ended.
# · ("copy", Copied) a message's current record, copied as its "message" line by a rewrite (never read back as such).
Record = tuple[str, Any]


@dataclass(slots=True)
class Room:
    """A chat and the index of its history; only the store's writer mutates it, after the write is durable.

    Per message (index seq - base_seq - 1): where its current record starts in the log, its current rev and what
    settles it while provisional, in arrays (a few bytes each); the latest `State.recent` messages are also here whole.
    A message the clock confirmed with its chat (a `confirmed` record) keeps its older record: its rev in `revs` is
    then past the record's, and the confirmation that gave it that rev (`clock_revs`, `clock_at`) says the rest.
    """

    id: str
    members: list[str]
    title: str | None
    created_by: str
    created_at: int
    last_seq: int = 0
    rev: int = 0
    activity: int = 0  # the store-wide order of its creation or latest message: 'latest first' without clock ties
    members_version: int = 0  # member changes so far
    starts: dict[str, int] = field(default_factory=dict)  # members added without all of its history: first seq seen
    base_seq: int = 0  # the seq and rev an erased chat of this id had reached: this one continues after them
    base_rev: int = 0
    no: int = 0  # its number in this process (State.by_no): what the key index and the plain queue point at
    offsets: array[int] = field(default_factory=lambda: array("q"))  # of each message's current record in the log
    revs: array[int] = field(default_factory=lambda: array("q"))  # each message's current rev
    waiting: bytearray = field(default_factory=bytearray)  # each message's settler code while provisional, else 0
    by_rev: array[int] = field(default_factory=lambda: array("q"))  # rev - base_rev - 1 -> seq now at it (0: none)
    recent: list[Message] = field(default_factory=list)  # the latest messages, current states, the last at last_seq
    positions: dict[str, Position] = field(default_factory=dict)  # every member's
    deleted: list[int] = field(
        default_factory=list
    )  # seqs of its deleted messages, ascending: no unread count has them
    plain_from: int = 0  # no message before this index waits for the clock (where a confirmation looks from)
    clock_revs: array[int] = field(default_factory=lambda: array("q"))  # each confirmation's first rev, ascending
    clock_at: array[int] = field(default_factory=lambda: array("q"))  # and its updated_at (since the last rewrite)

    def deleted_after(self, seq: int) -> int:
        """How many of its messages after `seq` are deleted."""
        return len(self.deleted) - bisect_right(self.deleted, seq)

    def is_deleted(self, seq: int) -> bool:
        at = bisect_left(self.deleted, seq)
        return at < len(self.deleted) and self.deleted[at] == seq

    def to_chat(self) -> Chat:
        return Chat(self.id, list(self.members), self.title, self.created_by, self.created_at, self.last_seq, self.rev)

    def continue_after(self, tomb: tuple[int, int, int] | None) -> None:
        """A chat registered again after an erasure: its seq, rev and members version go on from the erased ones."""
        if tomb is not None:
            self.base_seq = self.last_seq = tomb[0]
            self.base_rev = self.rev = tomb[1]
            self.members_version = tomb[2] + 1

    def first_recent(self) -> int:
        """The seq of the oldest message held whole."""
        return self.last_seq - len(self.recent) + 1

    def waiting_through(self, seq: int) -> list[int]:
        """The seqs of its messages waiting for the clock, up to `seq`, ascending (a scan of a byte each from
        `plain_from`, in C)."""
        found: list[int] = []
        end = seq - self.base_seq
        index = self.waiting.find(PLAIN, self.plain_from, end)
        while index >= 0:
            found.append(index + self.base_seq + 1)
            index = self.waiting.find(PLAIN, index + 1, end)
        return found

    def as_is(self, index: int, read: Message) -> Message:
        """A message as its record was read from the log, brought to its current state: one the clock confirmed since
        (its rev is past the record's) as that confirmation left it."""
        rev = self.revs[index]
        if read.rev == rev:
            return read
        return confirmed_by_clock(read, rev, self.clock_at[bisect_right(self.clock_revs, rev) - 1])


@dataclass(frozen=True, slots=True)
class Copied:
    """A message's current record as the log holds it (a `message` or `update` line without its newline): a rewrite
    writes it again as a `message` line without making a Message of it, and notes where it lands."""

    line: bytes
    id: str
    chat_id: str
    seq: int
    sender: str
    client_id: str


RECENT = 64  # messages of each chat held whole: the first page a client opens comes from memory
CHUNK = 256  # messages read from the log at a time when many are wanted
CODES = {settler: code for code, settler in enumerate(SETTLERS, 1)}  # of Room.waiting: 0 is settled
PLAIN = CODES["plain"]
AWAITED = frozenset(code for code in range(1, len(SETTLERS) + 1) if code != PLAIN)  # what outside sources settle


class State:
    """Indexes over rooms and messages; every read of the JSON-lines store is served from here, and from the log
    (`history`) for messages past a chat's recent window."""

    def __init__(self, recent: int = RECENT) -> None:
        if recent < 1:
            raise ValueError("at least each chat's last message is held whole")
        self.recent = recent
        self.history = History()
        self.rooms: dict[str, Room] = {}
        self.by_no: dict[int, Room] = {}
        self.numbered = 0  # rooms numbered so far
        self.member_of: dict[str, set[str]] = {}
        self.keys = KeyIndex()  # (sender, client_id) -> location (Room.no << 32 | seq)
        self.tombs: dict[str, tuple[int, int, int]] = {}  # erased chat id -> (last_seq, rev, members_version)
        self.erasures = 0  # chats erased whose bytes the log still holds (until compaction rewrites it)
        self.deletions = 0  # messages deleted whose text the log still holds (until compaction rewrites it)
        self.reactors: dict[str, dict[str, list[str]]] = {}  # message id -> emoji -> every reactor, oldest first
        self.reactions = 0  # reactors held, each one live record
        self.awaited: dict[str, Message] = {}  # provisional payments and XMTP copies: what outside sources settle
        self.waiting = [0] * (len(SETTLERS) + 1)  # provisional messages by settler code (0 unused)
        self.plain = array("q")  # locations of plain provisional messages in the order they became so (lazy: an entry
        self.plain_head = 0  # is live while its message is plain and provisional and no later entry stands for it)
        self.plain_dropped = 0  # entries cut from the front of `plain` so far (an entry's number: this plus its index)
        self.plain_again: dict[int, int] = {}  # location -> its entry's number, for one that became plain again
        self.revoked: dict[str, int] = {}  # session signed out -> until when (ms) it is refused
        self.settings: dict[str, Settings] = {}  # of the addresses that put some
        self.fc_tokens: dict[tuple[int, str], FarcasterToken] = {}  # (fid, app key) -> that client's latest token
        self.fc_links: dict[str, int] = {}  # address -> the fid it linked last
        self.push: dict[str, PushSubscription] = {}  # endpoint -> its subscription
        self.pushed: dict[str, list[str]] = {}  # address -> its endpoints, oldest first
        self.messages = 0
        self.activity = 0  # bumped by every new chat and new message, in commit order
        self.records = 0  # lines in the log; minus the live ones, what compaction would drop

    def apply(self, record: Record, at: int) -> None:
        """Advance by one durable record, which starts at offset `at` of the log (the same path for replay and for
        live commits)."""
        kind, payload = record
        self.records += 1
        if kind == "message" or kind == "update":
            self._put(payload, kind == "message", at)
        elif kind == "chat":
            if payload.id in self.rooms:
                raise ValueError(f"chat {payload.id!r} created twice")
            payload.continue_after(self.tombs.get(payload.id))
            self.numbered += 1
            payload.no = self.numbered
            self.rooms[payload.id] = self.by_no[payload.no] = payload
            self._touch(payload)
            for address in payload.members:
                self.member_of.setdefault(address, set()).add(payload.id)
                self._start(payload, address)
        elif kind == "members":
            chat_id, added, visible_from = payload
            room = self.rooms[chat_id]
            room.members_version += 1
            for address in added:
                if address not in room.members:
                    room.members.append(address)
                    self.member_of.setdefault(address, set()).add(chat_id)
                    self._start(room, address)
                    if visible_from > 1:
                        room.starts[address] = visible_from
        elif kind == "removed":
            chat_id, removed = payload
            room = self.rooms[chat_id]
            room.members_version += 1
            for address in removed:
                if address in room.members:
                    room.members.remove(address)
                    room.starts.pop(address, None)
                    room.positions.pop(address, None)
                    self._unlist(address, chat_id)
        elif kind == "confirmed":
            self._confirm(*payload)
        elif kind == "erased":
            self._erase(*payload)
        elif kind == "revoked":
            session, until = payload
            self.revoked[session] = max(until, self.revoked.get(session, until))
        elif kind == "position":
            chat_id, address, read_seq, delivered_seq, shown = payload
            position = self.rooms[chat_id].positions.get(address)
            if position is None:
                raise ValueError(f"a position of {address}, who is not a member of {chat_id!r}")
            position.read_seq = max(position.read_seq, read_seq)
            position.delivered_seq = max(position.delivered_seq, delivered_seq)
            position.shown = position.shown or shown
        elif kind == "settings":
            address, settings = payload
            self.settings[address] = settings
        elif kind == "fc_token":
            self.fc_tokens[(payload.fid, payload.app_key)] = payload
        elif kind == "fc_drop":
            self.fc_tokens.pop(payload, None)
        elif kind == "fc_link":
            address, fid = payload
            self.fc_links[address] = fid
        elif kind == "push":
            self.unpush(payload.endpoint)
            self.push[payload.endpoint] = payload
            self.pushed.setdefault(payload.address, []).append(payload.endpoint)
        elif kind == "unpush":
            self.unpush(payload)
        elif kind == "reactor":
            self._react(*payload)
        else:
            raise ValueError(f"unknown record kind {kind!r}")

    def _start(self, room: Room, address: str) -> None:
        """A member's positions begin where the chat is as it joins (0 for a new chat's first members)."""
        if address not in room.positions:
            room.positions[address] = Position(room.last_seq, room.last_seq)

    def _unlist(self, address: str, chat_id: str) -> None:
        chats = self.member_of[address]
        chats.discard(chat_id)
        if not chats:
            del self.member_of[address]

    def _erase(self, chat_id: str, last_seq: int, rev: int, members_version: int) -> None:
        """Its last member left: nothing of it stays but the counters a new chat of that id continues after (its keys
        and plain queue entries point at a number no room has any more)."""
        room = self.rooms.pop(chat_id, None)
        if room is not None:
            del self.by_no[room.no]
            for code in range(1, len(self.waiting)):
                self.waiting[code] -= room.waiting.count(code)
            prefix = chat_id + "/"
            for message_id in [i for i in self.awaited if i.startswith(prefix) and "/" not in i[len(prefix) :]]:
                del self.awaited[message_id]
            for message_id in [i for i in self.reactors if i.startswith(prefix) and "/" not in i[len(prefix) :]]:
                self._drop_reactors(message_id)
            for location in [at for at in self.plain_again if at >> 32 == room.no]:
                del self.plain_again[location]
            self.messages -= room.last_seq - room.base_seq
            for address in room.members:
                self._unlist(address, chat_id)
            self.erasures += 1
            members_version = max(members_version, room.members_version + 1)
        self.tombs[chat_id] = (last_seq, rev, members_version)

    def _put(self, message: Message, new: bool, at: int) -> None:
        room = self.rooms[message.chat_id]
        seq = message.seq
        index = seq - room.base_seq - 1
        if new:
            if seq != room.last_seq + 1:
                raise ValueError(f"message seq {seq} does not follow {room.last_seq} in {room.id!r}")
            room.offsets.append(at)
            room.revs.append(message.rev)
            code = CODES[settled_by(message)] if message.status == "provisional" else 0
            room.waiting.append(code)
            if code:  # _wait for a new message, inline: nothing was waiting at its index, nothing of it is queued
                self.waiting[code] += 1
                if code == PLAIN:
                    self.plain.append(room.no << 32 | seq)
                else:
                    self.awaited[message.id] = message
            room.last_seq = seq
            room.recent.append(message)
            if len(room.recent) > self.recent:
                del room.recent[0]
            if message.deleted:  # a compacted log's
                room.deleted.append(seq)
            self.activity += 1  # _touch, inline: every function this calls is one more cold after the fsync
            room.activity = self.activity
            self.keys.add(message.sender, message.client_id, room.no << 32 | seq)
            self.messages += 1
            position = room.positions.get(message.sender)
            if position is not None:  # a send: its sender has read and has had delivered everything up to it
                position.read_seq = position.delivered_seq = message.seq
                position.shown = True
        else:
            if not 0 <= index < len(room.offsets):
                raise ValueError(f"an update of {message.id!r}, which is not a message of {room.id!r}")
            if message.deleted and not room.is_deleted(message.seq):
                self._drop_reactors(message.id)
                self.deletions += 1
                insort(room.deleted, message.seq)
            room.by_rev[room.revs[index] - room.base_rev - 1] = 0
            room.offsets[index] = at
            room.revs[index] = message.rev
            held = message.seq - room.first_recent()
            if held >= 0:
                room.recent[held] = message
            if message.status == "provisional" or room.waiting[index]:
                self._wait(room, index, message)
        if message.rev - room.base_rev - 1 == len(room.by_rev) and message.rev > room.rev:  # the next rev: inline
            room.by_rev.append(seq)
            room.rev = message.rev
        else:
            _at_rev(room, message.rev, seq)

    def _wait(self, room: Room, index: int, message: Message) -> None:
        """Keep what the reconciler asks for current as a message changes: counts by settler, the awaited ones, the
        plain queue."""
        was = room.waiting[index]
        code = CODES[settled_by(message)] if message.status == "provisional" else 0
        room.waiting[index] = code
        if was:
            self.waiting[was] -= 1
        if code:
            self.waiting[code] += 1
        if code in AWAITED:
            self.awaited[message.id] = message
        elif was in AWAITED:
            del self.awaited[message.id]
        location = room.no << 32 | message.seq
        if code == PLAIN and was != PLAIN:  # an earlier entry of it may still be in the queue: this one stands for it
            self.plain_again[location] = self.plain_dropped + len(self.plain)
            self.plain.append(location)
            if index < room.plain_from:
                room.plain_from = index
        elif was == PLAIN and code != PLAIN:
            self.plain_again.pop(location, None)

    def _confirm(self, chat_id: str, through_seq: int, first_rev: int, at: int, n: int) -> None:
        """The clock confirmed the chat's messages waiting for it up to `through_seq`: their revs and waiting codes
        change here, their records in the log do not (a read applies the confirmation: `Room.as_is`); the plain queue
        drops their entries by itself."""
        room = self.rooms[chat_id]
        seqs = room.waiting_through(through_seq)
        if len(seqs) != n:
            raise ValueError(f"{n} messages of {chat_id!r} confirmed through {through_seq}, but {len(seqs)} waited")
        room.clock_revs.append(first_rev)
        room.clock_at.append(at)
        first_recent = room.first_recent()
        for rev, seq in enumerate(seqs, first_rev):
            index = seq - room.base_seq - 1
            room.by_rev[room.revs[index] - room.base_rev - 1] = 0
            room.revs[index] = rev
            room.waiting[index] = 0
            self.plain_again.pop(room.no << 32 | seq, None)
            if seq >= first_recent:
                room.recent[seq - first_recent] = confirmed_by_clock(room.recent[seq - first_recent], rev, at)
            _at_rev(room, rev, seq)
        self.waiting[PLAIN] -= n
        room.plain_from = max(room.plain_from, through_seq - room.base_seq)

    def _react(self, message_id: str, emoji: str, address: str, added: bool) -> None:
        by_emoji = self.reactors.setdefault(message_id, {})
        reactors = by_emoji.setdefault(emoji, [])
        if address in reactors:
            reactors.remove(address)
            self.reactions -= 1
        if added:
            reactors.append(address)
            self.reactions += 1
        if not reactors:
            del by_emoji[emoji]
        if not by_emoji:
            del self.reactors[message_id]

    def _drop_reactors(self, message_id: str) -> None:
        """A message deleted or erased: who reacted to it goes with it."""
        self.reactions -= sum(map(len, self.reactors.pop(message_id, {}).values()))

    def reactors_of(self, message_id: str, emoji: str) -> list[str]:
        """Every reactor of the message with this emoji, oldest first."""
        return list(self.reactors.get(message_id, {}).get(emoji, ()))

    def _touch(self, room: Room) -> None:
        self.activity += 1
        room.activity = self.activity

    # -- messages, from the recent window or the log ------------------------------------------------------------

    def slice(self, room: Room, low: int, high: int) -> list[Message]:
        """The room's messages with seq from low to high (both within its history)."""
        low = max(low, room.base_seq + 1)
        if high < low:
            return []
        first_recent = room.first_recent()
        held = room.recent[max(0, low - first_recent) : high - first_recent + 1] if high >= first_recent else []
        if low >= first_recent:
            return held
        return self._cold(room, range(low - room.base_seq - 1, min(high, first_recent - 1) - room.base_seq)) + held

    def of_room(self, room: Room, seqs: list[int]) -> list[Message]:
        """The room's messages at these seqs, in this order."""
        first_recent = room.first_recent()
        cold = [seq for seq in seqs if seq < first_recent]
        read = self._cold(room, [seq - room.base_seq - 1 for seq in cold])
        found = dict(zip(cold, read, strict=True))
        return [found[seq] if seq < first_recent else room.recent[seq - first_recent] for seq in seqs]

    def _cold(self, room: Room, indexes: Sequence[int]) -> list[Message]:
        """The room's messages at these indexes, read from the log, each in its current state."""
        read = self.history.read([room.offsets[index] for index in indexes])
        if room.clock_revs:  # else no record of it is older than its message
            read = [room.as_is(index, m) for index, m in zip(indexes, read, strict=True)]
        return read

    def history_of(self, room: Room) -> Iterator[Message]:
        """Every message of the room, by seq, read a chunk at a time."""
        for low in range(room.base_seq + 1, room.last_seq + 1, CHUNK):
            yield from self.slice(room, low, min(low + CHUNK - 1, room.last_seq))

    def message(self, message_id: str) -> Message | None:
        chat_id, _, seq = message_id.rpartition("/")
        room = self.rooms.get(chat_id)
        if room is None or not seq.isdigit() or not room.base_seq < int(seq) <= room.last_seq:
            return None
        return self.of_room(room, [int(seq)])[0]

    def at(self, location: int) -> Message | None:
        """The message at a location (Room.no << 32 | seq), if its chat is still there."""
        room = self.by_no.get(location >> 32)
        seq = location & 0xFFFFFFFF
        return None if room is None or seq <= room.base_seq else self.of_room(room, [seq])[0]

    def find(self, sender: str, client_id: str) -> Message | None:
        for location in self.keys.get(sender, client_id):
            m = self.at(location)
            if m is not None and m.sender == sender and m.client_id == client_id:
                return m
        return None

    def changes(self, room: Room, since_rev: int, limit: int, first: int) -> tuple[list[Message], bool]:
        """The room's messages from seq `first` on whose current rev is past `since_rev`, in rev order."""
        seqs: list[int] = []
        for seq in room.by_rev[max(since_rev - room.base_rev, 0) :]:
            if seq >= first:  # 0 (no message at that rev) never is
                if len(seqs) == limit:
                    return self.of_room(room, seqs), True
                seqs.append(seq)
        return self.of_room(room, seqs), False

    # -- what waits to be settled ----------------------------------------------------------------------------

    def waiting_by_kind(self) -> dict[str, int]:
        return {settler: self.waiting[code] for code, settler in enumerate(SETTLERS, 1)}

    def awaited_ones(self) -> list[Message]:
        return list(self.awaited.values())

    def plain_waiting(self) -> Iterator[Message]:
        """The plain provisional messages in the order they became so, read a chunk at a time: the first alone, then
        chunks doubling up to CHUNK, as the reconciler's round most often stops at the first (not due yet), which
        then costs one read, not CHUNK."""
        self._trim_plain()
        live: list[int] = []
        chunk = 1
        for index in range(self.plain_head, len(self.plain)):
            location = self.plain[index]
            if self._live_plain(location, self.plain_dropped + index):
                live.append(location)
                if len(live) == chunk:
                    yield from self._at_many(live)
                    live, chunk = [], min(2 * chunk, CHUNK)
        yield from self._at_many(live)

    def _at_many(self, locations: list[int]) -> list[Message]:
        """The messages at these locations (all of rooms that are there), in this order, a read per room."""
        by_room: dict[int, list[int]] = {}
        for location in locations:
            by_room.setdefault(location >> 32, []).append(location & 0xFFFFFFFF)
        found: dict[int, Message] = {}
        for no, seqs in by_room.items():
            for m in self.of_room(self.by_no[no], seqs):
                found[no << 32 | m.seq] = m
        return [found[location] for location in locations]

    def _live_plain(self, location: int, number: int) -> bool:
        room = self.by_no.get(location >> 32)
        if room is None:
            return False
        index = (location & 0xFFFFFFFF) - room.base_seq - 1
        return room.waiting[index] == PLAIN and self.plain_again.get(location, number) == number

    def _trim_plain(self) -> None:
        """Step past the entries at the front that stand for nothing any more; cut them off now and then."""
        while self.plain_head < len(self.plain) and not self._live_plain(
            self.plain[self.plain_head], self.plain_dropped + self.plain_head
        ):
            self.plain_head += 1
        if self.plain_head > 4096 and self.plain_head * 2 > len(self.plain):
            del self.plain[: self.plain_head]
            self.plain_dropped += self.plain_head
            self.plain_head = 0

    # -- chat views -----------------------------------------------------------------------------------------------

    def chats_of(self, address: str, before: int | None, limit: int) -> tuple[list[ChatView], int | None]:
        """The address's chats, latest activity first, below `before`; and the cursor of the next page, if any."""
        rooms = sorted(
            (self.rooms[chat_id] for chat_id in self.member_of.get(address, ())),
            key=lambda room: room.activity,
            reverse=True,
        )
        if before is not None:
            rooms = [room for room in rooms if room.activity < before]
        page = rooms[:limit]
        return [self.view(room, address) for room in page], page[-1].activity if len(rooms) > limit else None

    def view(self, room: Room, address: str) -> ChatView:
        """The room as `address` sees it: its latest message when that is theirs to see, their positions."""
        position, first = room.positions.get(address), room.starts.get(address, 1)
        visible = position is not None and bool(room.recent) and room.last_seq >= first
        deleted = room.deleted_after(position.read_seq) if position and room.deleted else 0
        return ChatView.of(room.to_chat(), room.recent[-1] if visible else None, position, deleted, first)

    def receipts(self, chat_id: str, caller: str) -> dict[str, Position]:
        room = self.rooms[chat_id]
        return {
            address: position
            for address, position in room.positions.items()
            if address == caller or (position.shown and self.settings.get(address, Settings()).read_receipts)
        }

    def unpush(self, endpoint: str) -> None:
        """Forget a subscription, if there is one."""
        gone = self.push.pop(endpoint, None)
        if gone is not None:
            endpoints = self.pushed[gone.address]
            endpoints.remove(endpoint)
            if not endpoints:
                del self.pushed[gone.address]

    def live_records(self) -> int:
        live = len(self.rooms) + self.messages + len(self.tombs) + len(self.revoked) + self.reactions
        return live + len(self.settings) + len(self.fc_tokens) + len(self.fc_links) + len(self.push)

    def forget_revoked(self, now_ms: int) -> None:
        """Sign-outs whose sessions have passed their maximum age: no token of theirs is valid any more."""
        self.revoked = {session: until for session, until in self.revoked.items() if until > now_ms}

    def snapshot(self) -> Iterator[Record]:
        """The fewest records that rebuild this state, for compaction (erased ids first, then rooms in activity order,
        kept by replay; each room's messages by seq)."""
        for chat_id, tomb in self.tombs.items():
            yield "erased", (chat_id, *tomb)
        for room in sorted(self.rooms.values(), key=lambda r: r.activity):
            yield (
                "chat",
                Room(
                    room.id, list(room.members), room.title, room.created_by, room.created_at, starts=dict(room.starts)
                ),
            )
            replayed: dict[str, Position] = {}  # where replaying the chat record and its messages puts each member
            for record in self._copies(room):
                yield record
                copied = record[1]
                replayed[copied.sender] = Position(copied.seq, copied.seq, True)
                for emoji, reactors in self.reactors.get(copied.id, {}).items():
                    for address in reactors:
                        yield "reactor", (copied.id, emoji, address, True)
            for address, p in room.positions.items():
                if p != replayed.get(address, Position(room.base_seq, room.base_seq)):
                    yield "position", (room.id, address, p.read_seq, p.delivered_seq, p.shown)
        for session, until in self.revoked.items():
            yield "revoked", (session, until)
        for address, settings in self.settings.items():
            yield "settings", (address, settings)
        for token in self.fc_tokens.values():
            yield "fc_token", token
        for address, fid in self.fc_links.items():
            yield "fc_link", (address, fid)
        for endpoints in self.pushed.values():
            for endpoint in endpoints:
                yield "push", self.push[endpoint]

    def _copies(self, room: Room) -> Iterator[Record]:
        """Every message of the room, by seq, as its current record in the log: a rewrite copies the bytes (a "copy");
        one the clock confirmed since its record was written, as a "message" in its current state."""
        for low in range(0, room.last_seq - room.base_seq, CHUNK):
            for index, line in enumerate(self.history.lines(room.offsets[low : low + CHUNK]), low):
                m = orjson.loads(line)["m"]
                if m["rev"] == room.revs[index]:
                    yield "copy", Copied(line, m["id"], m["chat_id"], m["seq"], m["sender"], m["client_id"])
                else:
                    yield "message", room.as_is(index, decode_message(m))

    def relocate(self, offsets: dict[str, array[int]], keys: KeyIndex) -> None:
        """The log was rewritten: every message's record is at a new offset (`offsets`, each chat's by seq), and the
        key index rebuilt without what erased chats left in it."""
        for room in self.rooms.values():
            moved = offsets.get(room.id, array("q"))
            if len(moved) != len(room.offsets):
                raise ValueError(f"the rewritten log has {len(moved)} messages of {room.id!r}, not {len(room.offsets)}")
            room.offsets = moved
            del room.clock_revs[:], room.clock_at[:]  # every record is current again
        self.keys = keys


def _at_rev(room: Room, rev: int, seq: int) -> None:
    """The message at `seq` is now at `rev` (by_rev; the room's rev)."""
    slot = rev - room.base_rev - 1
    if slot == len(room.by_rev):  # the next rev: the usual case
        room.by_rev.append(seq)
    else:
        if slot > len(room.by_rev):  # revs no message stands at (yet): a compacted log's, or changed since
            room.by_rev.frombytes(bytes(room.by_rev.itemsize * (slot - len(room.by_rev))))
            room.by_rev.append(0)
        room.by_rev[slot] = seq
    if rev > room.rev:
        room.rev = rev
