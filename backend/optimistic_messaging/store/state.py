"""The JSON-lines store's committed state in memory: replayed from the log at start, advanced by each durable record."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..models import Chat, ChatView, FarcasterToken, Message, Position, Settings, confirmed_by_clock, waits_for_clock
from ..notify.subscriptions import PushSubscription

# A record is what one line of the log holds: ("chat", Room) · ("members", (chat_id, [address…], visible_from))
# · ("removed", (chat_id, [address…])) · ("message", Message) for a new message · ("update", Message) for its new state
# · ("confirmed", (chat_id, through_seq, first_rev, at, n)) the clock confirmed the chat's n plain messages that waited
# for it with seq up to through_seq, at revs first_rev.. in seq order
# · ("erased", (chat_id, last_seq, rev, members_version)) its last member left: its history goes, its counters stay
# · ("revoked", (session, until)) for a session signed out
# · ("reactor", (message_id, emoji, address, added)) one reactor of a message added or removed (its "update" follows)
# · ("position", (chat_id, address, read_seq, delivered_seq, shown)) a member's positions as a mark moved them, or as a
# compacted log has them where replaying its chat and messages would not (a send moves its sender's without a record;
# a member starts at the chat's last_seq as it joins) · ("settings", (address, Settings)) an address's settings now
# · ("fc_token", FarcasterToken) a Farcaster client's latest token · ("fc_drop", (fid, app_key)) that client's dropped
# · ("fc_link", (address, fid)) the fid an address linked last.
# · ("push", PushSubscription) registered (moved from any other address) · ("unpush", endpoint) ended.
Record = tuple[str, Any]


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
    members_version: int = 0  # member changes so far
    starts: dict[str, int] = field(default_factory=dict)  # members added without all of its history: first seq seen
    base_seq: int = 0  # the seq and rev an erased chat of this id had reached: this one continues after them
    base_rev: int = 0
    messages: list[Message] = field(default_factory=list)  # index seq - base_seq - 1
    by_rev: dict[int, Message] = field(default_factory=dict)  # the current message at each live rev
    positions: dict[str, Position] = field(default_factory=dict)  # every member's
    deleted: list[int] = field(
        default_factory=list
    )  # seqs of its deleted messages, ascending: no unread count has them
    plain: list[int] = field(default_factory=list)  # seqs of its messages waiting for the clock, ascending

    def waiting_through(self, seq: int) -> list[int]:
        """The seqs of its messages waiting for the clock, up to `seq`."""
        return self.plain[: bisect_right(self.plain, seq)]

    def deleted_after(self, seq: int) -> int:
        """How many of its messages after `seq` are deleted."""
        return len(self.deleted) - bisect_right(self.deleted, seq)

    def to_chat(self) -> Chat:
        return Chat(self.id, list(self.members), self.title, self.created_by, self.created_at, self.last_seq, self.rev)

    def continue_after(self, tomb: tuple[int, int, int] | None) -> None:
        """A chat registered again after an erasure: its seq, rev and members version go on from the erased ones."""
        if tomb is not None:
            self.base_seq = self.last_seq = tomb[0]
            self.base_rev = self.rev = tomb[1]
            self.members_version = tomb[2] + 1

    def slice(self, low: int, high: int) -> list[Message]:
        """Its messages with seq from low to high."""
        low = max(low, self.base_seq + 1)
        return self.messages[low - self.base_seq - 1 : high - self.base_seq] if high >= low else []


class State:
    """Indexes over rooms and messages; every read of the JSON-lines store is served from here."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.member_of: dict[str, set[str]] = {}
        self.keys: dict[tuple[str, str], str] = {}  # (sender, client_id) -> message id
        self.tombs: dict[str, tuple[int, int, int]] = {}  # erased chat id -> (last_seq, rev, members_version)
        self.erasures = 0  # chats erased whose bytes the log still holds (until compaction rewrites it)
        self.deletions = 0  # messages deleted whose text the log still holds (until compaction rewrites it)
        self.reactors: dict[str, dict[str, list[str]]] = {}  # message id -> emoji -> every reactor, oldest first
        self.reactions = 0  # reactors held, each one live record
        self.provisional: dict[str, Message] = {}
        self.plain: dict[str, Message] = {}  # the provisional ones the clock settles, in commit order (as sent)
        self.revoked: dict[str, int] = {}  # session signed out -> until when (ms) it is refused
        self.settings: dict[str, Settings] = {}  # of the addresses that put some
        self.fc_tokens: dict[tuple[int, str], FarcasterToken] = {}  # (fid, app key) -> that client's latest token
        self.fc_links: dict[str, int] = {}  # address -> the fid it linked last
        self.push: dict[str, PushSubscription] = {}  # endpoint -> its subscription
        self.pushed: dict[str, list[str]] = {}  # address -> its endpoints, oldest first
        self.messages = 0
        self.activity = 0  # bumped by every new chat and new message, in commit order
        self.records = 0  # lines in the log; minus the live ones, what compaction would drop

    def apply(self, record: Record) -> None:
        """Advance by one durable record (the same path for replay and for live commits)."""
        kind, payload = record
        self.records += 1
        if kind == "message" or kind == "update":
            self._put(payload, kind == "message")
        elif kind == "chat":
            if payload.id in self.rooms:
                raise ValueError(f"chat {payload.id!r} created twice")
            payload.continue_after(self.tombs.get(payload.id))
            self.rooms[payload.id] = payload
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
        """Its last member left: nothing of it stays but the counters a new chat of that id continues after."""
        room = self.rooms.pop(chat_id, None)
        if room is not None:
            for m in room.messages:
                if self.keys.get((m.sender, m.client_id)) == m.id:
                    del self.keys[(m.sender, m.client_id)]
                self.provisional.pop(m.id, None)
                self.plain.pop(m.id, None)
                self._drop_reactors(m.id)
            self.messages -= len(room.messages)
            for address in room.members:
                self._unlist(address, chat_id)
            self.erasures += 1
            members_version = max(members_version, room.members_version + 1)
        self.tombs[chat_id] = (last_seq, rev, members_version)

    def _put(self, message: Message, new: bool) -> None:
        room = self.rooms[message.chat_id]
        if new:
            if message.seq != room.last_seq + 1:
                raise ValueError(f"message seq {message.seq} does not follow {room.last_seq} in {room.id!r}")
            room.messages.append(message)
            room.last_seq = message.seq
            if message.deleted:  # a compacted log's
                room.deleted.append(message.seq)
            self._touch(room)
            self.keys[(message.sender, message.client_id)] = message.id
            self.messages += 1
            position = room.positions.get(message.sender)
            if position is not None:  # a send: its sender has read and has had delivered everything up to it
                position.read_seq = position.delivered_seq = message.seq
                position.shown = True
        else:
            old = room.messages[message.seq - room.base_seq - 1]
            if message.deleted and not old.deleted:
                self._drop_reactors(message.id)
                self.deletions += 1
                insort(room.deleted, message.seq)
            room.by_rev.pop(old.rev, None)
            room.messages[message.seq - room.base_seq - 1] = message
        room.by_rev[message.rev] = message
        room.rev = max(room.rev, message.rev)
        if message.status == "provisional":
            self.provisional[message.id] = message
        else:
            self.provisional.pop(message.id, None)
        at = bisect_left(room.plain, message.seq)
        listed = at < len(room.plain) and room.plain[at] == message.seq
        if waits_for_clock(message):
            self.plain[message.id] = message
            if not listed:
                room.plain.insert(at, message.seq)
        else:
            self.plain.pop(message.id, None)
            if listed:
                del room.plain[at]

    def _confirm(self, chat_id: str, through_seq: int, first_rev: int, at: int, n: int) -> None:
        room = self.rooms[chat_id]
        seqs = room.waiting_through(through_seq)
        if len(seqs) != n:
            raise ValueError(f"{n} messages of {chat_id!r} confirmed through {through_seq}, but {len(seqs)} waited")
        del room.plain[: len(seqs)]
        for rev, seq in enumerate(seqs, first_rev):
            self._put(confirmed_by_clock(room.messages[seq - room.base_seq - 1], rev, at), False)

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

    def message(self, message_id: str) -> Message | None:
        chat_id, _, seq = message_id.rpartition("/")
        room = self.rooms.get(chat_id)
        if room is None or not seq.isdigit() or not room.base_seq < int(seq) <= room.last_seq:
            return None
        return room.messages[int(seq) - room.base_seq - 1]

    def find(self, sender: str, client_id: str) -> Message | None:
        message_id = self.keys.get((sender, client_id))
        return None if message_id is None else self.message(message_id)

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
        visible = position is not None and bool(room.messages) and room.last_seq >= first
        deleted = room.deleted_after(position.read_seq) if position and room.deleted else 0
        return ChatView.of(room.to_chat(), room.messages[-1] if visible else None, position, deleted, first)

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
        kept by replay)."""
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
            for message in room.messages:
                yield "message", message
                replayed[message.sender] = Position(message.seq, message.seq, True)
                for emoji, reactors in self.reactors.get(message.id, {}).items():
                    for address in reactors:
                        yield "reactor", (message.id, emoji, address, True)
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
