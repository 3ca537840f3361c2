"""Append-only JSON-lines store with group commit: one write and one fsync per batch of concurrent writes.

The log is a header line, then batches: each batch's records, one per line, followed by a commit line that vouches
for them with their length and CRC-32. A batch without a good commit line at the very end of the log is the one
being written when the process or the machine died — never acknowledged — and is cut at start; anywhere else it is
damage, and start-up stops.
"""

from __future__ import annotations

import gc
import logging
import os
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import gevent
import orjson
from gevent.event import AsyncResult, Event

from ..clock import SYSTEM_CLOCK, Clock
from ..errors import DomainError, Failed, Forbidden, Invalid, NotFound, Unavailable
from ..models import (
    SETTLERS,
    Chat,
    ChatView,
    FarcasterToken,
    Message,
    Position,
    PositionMoved,
    Settings,
    confirmed_by_clock,
    settled_by,
    waits_for_clock,
)
from ..notify.subscriptions import MAX_PER_ADDRESS, PushSubscription, Reachable, matches
from ..reactions import Reaction, react
from ..stats import StoreStats
from .aio import AioFsync, open_aio
from .base import (
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
from .history import decode_message
from .keys import KeyIndex
from .state import RECENT, Record, Room, State

log = logging.getLogger(__name__)

COMPACT_MIN_SUPERSEDED = 10_000
ERASED_COMPACT_S = 60.0  # an erased chat's bytes leave the log with a rewrite: at once, or this long after the last
ERASED_COMPACT_SHARE = 0.01  # or longer on a large log: writes wait while it is rewritten, at most this share of time
LOG_HEADER = b'{"op":"log","format":2}\n'  # a log without it was written before commit lines: read line by line
_HEADER = b'{"op":"log",'  # how any header starts: one that is not LOG_HEADER is of another format, or damaged
_COMMIT = b'{"op":"commit",'
# A message's line is its JSON inside one of these (what orjson makes of {"op": kind, "m": message}, byte for byte): the
# fan-out sends that JSON as it is (`message_json`), so a message is encoded once for the log, its frame and its ack.
_MESSAGE_LINE = {"message": b'{"op":"message","m":', "update": b'{"op":"update","m":'}


Placed = Callable[[Record, int], None]
"""Told where in a log a record starts, as the log is encoded."""


class StoreCorrupt(RuntimeError):
    """A record in the middle of the log cannot be read: refuse to start rather than drop data."""


def encode_record(record: Record) -> bytes:
    """One log line."""
    kind, payload = record
    if kind == "message" or kind == "update":  # nearly every line: asked first
        return _MESSAGE_LINE[kind] + orjson.dumps(payload) + b"}\n"
    if kind == "copy":
        for op in _MESSAGE_LINE.values():
            if payload.line.startswith(op):
                return _MESSAGE_LINE["message"] + payload.line[len(op) :] + b"\n"
        return encode_record(("message", decode_message(orjson.loads(payload.line)["m"])))  # a line of another shape
    if kind == "members":
        chat_id, added, visible_from = payload
        return orjson.dumps({"op": kind, "id": chat_id, "added": added, "from": visible_from}) + b"\n"
    if kind == "erased":
        chat_id, last_seq, rev, members_version = payload
        return orjson.dumps({"op": kind, "id": chat_id, "seq": last_seq, "rev": rev, "mv": members_version}) + b"\n"
    if kind == "confirmed":
        chat_id, through_seq, first_rev, at, n = payload
        return orjson.dumps({"op": kind, "id": chat_id, "seq": through_seq, "rev": first_rev, "at": at, "n": n}) + b"\n"
    if kind == "removed":
        chat_id, removed = payload
        return orjson.dumps({"op": kind, "id": chat_id, "removed": removed}) + b"\n"
    if kind == "revoked":
        session, until = payload
        return orjson.dumps({"op": kind, "session": session, "until": until}) + b"\n"
    if kind == "position":
        chat_id, address, read_seq, delivered_seq, shown = payload
        quiet = {} if shown else {"shown": False}  # only a compacted log's late member who has not marked or sent
        return (
            orjson.dumps({"op": kind, "id": chat_id, "a": address, "r": read_seq, "d": delivered_seq, **quiet}) + b"\n"
        )
    if kind == "settings":
        address, settings = payload
        return orjson.dumps({"op": kind, "a": address, "s": settings}) + b"\n"
    if kind == "fc_token":
        return orjson.dumps({"op": kind, **asdict(payload)}) + b"\n"
    if kind == "fc_drop":
        fid, app_key = payload
        return orjson.dumps({"op": kind, "fid": fid, "app_key": app_key}) + b"\n"
    if kind == "fc_link":
        address, fid = payload
        return orjson.dumps({"op": kind, "a": address, "fid": fid}) + b"\n"
    if kind == "push":
        return orjson.dumps({"op": kind, "s": payload}) + b"\n"
    if kind == "unpush":
        return orjson.dumps({"op": kind, "e": payload}) + b"\n"
    if kind == "reactor":
        message_id_, emoji, address, added = payload
        return orjson.dumps({"op": kind, "id": message_id_, "e": emoji, "a": address, "add": added}) + b"\n"
    if kind == "chat":
        return (
            orjson.dumps(
                {
                    "op": kind,
                    "id": payload.id,
                    "members": payload.members,
                    "title": payload.title,
                    "created_by": payload.created_by,
                    "created_at": payload.created_at,
                    **({"starts": payload.starts} if payload.starts else {}),
                }
            )
            + b"\n"
        )
    raise ValueError(f"unknown record kind {kind!r}")


def _commit_line(n: int, crc: int) -> bytes:
    return b'{"op":"commit","n":%d,"crc":%d}\n' % (n, crc)


def message_json(kind: str, line: bytes) -> bytes:
    """The message's JSON in its `message` or `update` line."""
    return line[len(_MESSAGE_LINE[kind]) : -2]


def encode_batch(records: Iterable[Record], placed: Placed | None = None, at: int = 0) -> bytes:
    """One durable write: the records, then the commit line that vouches for them; `placed` hears where each record
    starts, were the write to begin at offset `at`."""
    records = list(records)
    lines = list(map(encode_record, records))
    if placed is not None:
        for record, line in zip(records, lines, strict=True):
            placed(record, at)
            at += len(line)
    return sealed(lines)


def sealed(lines: list[bytes]) -> bytes:
    """The lines, then the commit line that vouches for them."""
    data = lines[0] if len(lines) == 1 else b"".join(lines)
    return data + _commit_line(len(data), zlib.crc32(data))


def encode_log(records: Iterable[Record], chunk: int = 10_000, placed: Placed | None = None) -> Iterator[bytes]:
    """A whole log holding `records`, in batches of `chunk` to write one after another (compaction, benchmarks);
    `placed` hears where each record starts in it.

    Batches, not one: damage is confined to a batch, and replay holds at most one batch that is not yet vouched for.
    """
    yield LOG_HEADER
    at = len(LOG_HEADER)
    records = iter(records)
    while batch := list(islice(records, chunk)):
        data = encode_batch(batch, placed, at)
        at += len(data)
        yield data


def decode_record(line: bytes) -> Record:
    """Inverse of encode_record; raises ValueError/TypeError/KeyError on anything else."""
    data = orjson.loads(line)
    kind = data["op"]
    if kind == "message" or kind == "update":
        return kind, decode_message(data["m"])
    if kind == "chat":
        room = Room(data["id"], data["members"], data["title"], data["created_by"], data["created_at"])
        room.starts = {str(a): int(n) for a, n in data.get("starts", {}).items()}
        return kind, room
    if kind == "members":
        return kind, (data["id"], data["added"], int(data.get("from", 1)))  # logs from before v1.2: from the start
    if kind == "erased":
        return kind, (data["id"], int(data["seq"]), int(data["rev"]), int(data["mv"]))
    if kind == "confirmed":
        return kind, (data["id"], int(data["seq"]), int(data["rev"]), int(data["at"]), int(data["n"]))
    if kind == "removed":
        return kind, (data["id"], data["removed"])
    if kind == "revoked":
        return kind, (data["session"], data["until"])
    if kind == "position":
        return kind, (data["id"], data["a"], int(data["r"]), int(data["d"]), bool(data.get("shown", True)))
    if kind == "settings":
        return kind, (data["a"], Settings(**data["s"]))
    if kind == "fc_token":
        return kind, FarcasterToken(int(data["fid"]), data["app_key"], data["url"], data["token"])
    if kind == "fc_drop":
        return kind, (int(data["fid"]), data["app_key"])
    if kind == "fc_link":
        return kind, (data["a"], int(data["fid"]))
    if kind == "reactor":
        return kind, (data["id"], data["e"], data["a"], bool(data["add"]))
    if kind == "push":
        return kind, PushSubscription(**data["s"])
    if kind == "unpush":
        return kind, str(data["e"])
    raise ValueError(f"unknown op {kind!r}")


@dataclass(slots=True)
class _Op:
    """One write waiting for the next batch; `plan` decides its records against the batch's view."""

    plan: Callable[[_Batch], Any]
    finish: Callable[[Any, list[bytes]], Any] | None = None  # the planned value and the batch's lines -> the answer
    result: AsyncResult = field(default_factory=AsyncResult)
    value: Any = None


class _Batch:
    """Committed state plus what earlier ops of the same batch will add: nothing here is visible yet."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.records: list[Record] = []
        self.counters: dict[str, list[int]] = {}  # chat id -> [last_seq, rev]
        self.rooms: dict[str, Room] = {}
        self.members: dict[str, list[str]] = {}
        self.keys: dict[tuple[str, str], Message] = {}
        self.sent: dict[tuple[str, str], int] = {}  # (chat, sender) -> seq of its latest message here
        self.positions: dict[tuple[str, str], Position] = {}  # (chat, member) -> as marks here moved it
        self.settings: dict[str, Settings] = {}
        self.messages: dict[str, Message] = {}
        self.changed: dict[str, list[Message]] = {}  # chat id -> its messages changed here, in order (as changed then)
        self.erased: dict[str, Chat] = {}  # chats whose last member left in this batch, as they were then
        self.reactors: dict[tuple[str, str], list[str]] = {}  # (message id, emoji) -> its reactors after this batch
        self.push: dict[str, PushSubscription | None] = {}  # endpoint -> as this batch left it (None: ended)
        self.pushed: dict[str, list[str]] = {}  # address -> its endpoints as this batch left them, oldest first
        self.settled: set[tuple[str, int]] = set()  # (message id, rev) of the changes here that settled a message
        self.by_clock: dict[str, dict[int, tuple[int, int]]] = {}  # chat -> seq -> (rev, at) the clock confirmed here

    def put(self, message: Message) -> None:
        """A message as this batch changes it."""
        self.messages[message.id] = message
        self.changed.setdefault(message.chat_id, []).append(message)

    def room(self, chat_id: str) -> Room:
        room = self.rooms.get(chat_id) or (None if chat_id in self.erased else self.state.rooms.get(chat_id))
        if room is None:
            raise NotFound(f"no chat {chat_id!r}")
        return room

    def subscription(self, endpoint: str) -> PushSubscription | None:
        """The endpoint's subscription, counting this batch's earlier records."""
        return self.push[endpoint] if endpoint in self.push else self.state.push.get(endpoint)

    def endpoints(self, address: str) -> list[str]:
        """The address's endpoints, oldest first, counting this batch's earlier records (changed in place)."""
        if address not in self.pushed:
            self.pushed[address] = list(self.state.pushed.get(address, ()))
        return self.pushed[address]

    def unpush(self, endpoint: str, record: bool = True) -> None:
        """End the endpoint's subscription, if it has one."""
        gone = self.subscription(endpoint)
        if gone is not None:
            self.endpoints(gone.address).remove(endpoint)
            self.push[endpoint] = None
            if record:
                self.records.append(("unpush", endpoint))

    def current_members(self, chat_id: str) -> list[str]:
        """The chat's members, counting this batch's earlier changes."""
        return self.members[chat_id] if chat_id in self.members else self.room(chat_id).members

    def counter(self, chat_id: str, room: Room | None = None) -> list[int]:
        """[last_seq, rev] of the chat, counting this batch's earlier records (`room`: its room, if at hand)."""
        counter = self.counters.get(chat_id)
        if counter is None:
            room = room or self.room(chat_id)
            counter = self.counters[chat_id] = [room.last_seq, room.rev]
        return counter

    def bump(self, chat_id: str, new_message: bool, room: Room | None = None) -> tuple[int, int]:
        """Next (seq, rev) of the chat, counting this batch's earlier records."""
        counter = self.counter(chat_id, room)
        if new_message:
            counter[0] += 1
        counter[1] += 1
        return counter[0], counter[1]

    def position(self, chat_id: str, address: str) -> Position:
        """A member's positions, counting this batch's earlier sends and marks (one added here: where the chat is)."""
        position = self.positions.get((chat_id, address)) or self.room(chat_id).positions.get(address)
        if position is None:
            last_seq = self.counter(chat_id)[0]
            position = Position(last_seq, last_seq)
        sent = self.sent.get((chat_id, address), 0)
        return Position(max(position.read_seq, sent), max(position.delivered_seq, sent), position.shown)

    def tomb(self, chat_id: str) -> tuple[int, int, int] | None:
        """The counters an erased chat of this id reached (in this batch or before): a new one continues after them."""
        chat = self.erased.get(chat_id)
        return (chat.last_seq, chat.rev, 0) if chat is not None else self.state.tombs.get(chat_id)

    def erase(self, chat_id: str) -> Chat:
        """The last member left: the chat goes with everything in it; its counters stay for the next of its id."""
        room = self.room(chat_id)
        last_seq, rev = self.counter(chat_id)
        chat = Chat(chat_id, [], room.title, room.created_by, room.created_at, last_seq, rev)
        self.rooms.pop(chat_id, None)
        self.members.pop(chat_id, None)
        self.counters.pop(chat_id, None)
        self.erased[chat_id] = chat
        self.records.append(("erased", (chat_id, last_seq, rev, room.members_version + 1)))
        return chat


class JsonlStore:
    """The default Store: a JSON-lines log at `path`, replayed into memory at start."""

    def __init__(
        self,
        path: Path,
        fsync: bool = True,
        clock: Clock = SYSTEM_CLOCK,
        erase_within_s: float = 3600.0,
        recent: int = RECENT,
    ) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self.clock = clock
        self.erase_within_s = erase_within_s  # a deleted message's text leaves the log within this long
        self.stats = StoreStats()
        self.state = State(recent)  # each chat's `recent` latest messages in memory, older ones read from the log
        self._listeners: list[Listener] = []
        self._queue: list[_Op] = []
        self._wake = Event()
        self._fd = -1
        self._size = 0
        self._broken: str | None = None
        self._writer: gevent.Greenlet | None = None
        self._aio: AioFsync | None = None  # from `start`, where Linux has it: fsyncs without a thread
        self._compacted_at = float("-inf")  # monotonic time of the last rewrite tried
        self._compact_s = 0.0  # how long the last rewrite took
        self._deleted_at: float | None = None  # monotonic time of the first deletion the log still holds the text of

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        legacy = self._replay()
        if self.state.deletions:  # deleted text a rewrite did not take out before the last stop: out at once
            self._deleted_at = self.clock.monotonic() - self.erase_within_s / 2
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            self._aio = open_aio(self._fd)
            self.state.history.open(self.path)
            self._size = os.fstat(self._fd).st_size
            if self._size == 0:
                self._durable(LOG_HEADER)
            _fsync_dir(self.path)
            if legacy and not self._compact():  # commit lines from now on, or later batches could not be told apart
                raise OSError(
                    f"{self.path} (a log from before commit lines) could not be rewritten in the current "
                    "format, see the error above; make room for a copy of it and start again"
                )
        except BaseException:
            self.close()
            raise
        self._writer = gevent.spawn(self._write_loop)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.kill()
            self._writer = None
        if self._aio is not None:
            self._aio.close()  # after an fsync in flight: its fd is closed next
            self._aio = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.state.history.close()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def healthy(self) -> bool:
        return self._broken is None and self._writer is not None and not self._writer.dead

    @classmethod
    def read(cls, path: Path) -> State:
        """What a log holds, read without changing it (a torn tail is left out, not cut): for `migrate`."""
        store = cls(path)
        store._replay(cut=False)
        if store.path.exists():  # else nothing to read back
            store.state.history.open(store.path)
        return store.state

    def _replay(self, cut: bool = True) -> bool:
        """Rebuild memory from every committed batch; set a torn tail aside, refuse damage elsewhere.

        True when the log is from before commit lines (it is then rewritten by start()).
        """
        started = self.clock.now_ms()
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return False
        collecting = gc.isenabled()
        gc.disable()  # millions of long-lived objects and no cycles: the collector would rescan them for nothing
        try:
            with f:
                end = os.fstat(f.fileno()).st_size
                legacy, committed, first = self._read(f, end)
        finally:
            if collecting:
                gc.enable()
        if end > committed and cut:
            self._cut_tail(committed, first)
        log.info(
            "replayed %d records (%d chats, %d messages) from %s in %d ms",
            self.state.records,
            len(self.state.rooms),
            self.state.messages,
            self.path,
            self.clock.now_ms() - started,
        )
        return legacy

    def _read(self, f: BinaryIO, end: int) -> tuple[bool, int, int]:
        """Apply the committed batches of a log of `end` bytes: (legacy, bytes committed, first line of the tail)."""
        header = f.readline()
        if header.startswith(_HEADER) and header != LOG_HEADER:
            raise StoreCorrupt(f"{self.path}:1: unknown or damaged log header {header[:64]!r}; refusing to start")
        if header and header != LOG_HEADER:
            f.seek(0)
            return (True, *self._read_lines(f))
        committed, n, crc, first = len(header), 0, 0, 0
        pending: list[tuple[int, bytes]] = []  # the open batch, raw: decoded once its commit line vouches for it
        for lineno, line in enumerate(f, 2):
            first = first or lineno
            if not (line.startswith(_COMMIT) and line.endswith(b"\n")):
                n, crc = n + len(line), zlib.crc32(line, crc)
                pending.append((lineno, line))
                continue
            vouched = _vouched(line)
            if vouched is not None and vouched[0] != n:  # only bytes lost before it do this, even at the end
                raise StoreCorrupt(
                    f"{self.path}:{lineno}: this commit line vouches for {vouched[0]} bytes, but {n} "
                    "follow the last good one: a commit line before it is lost; refusing to start: "
                    "restore the log from a backup"
                )
            if vouched != (n, crc):
                if committed + n + len(line) == end:
                    break  # the last batch, damaged in place: the one being written when the machine died
                raise StoreCorrupt(
                    f"{self.path}:{first}-{lineno}: a batch fails its CRC-32; refusing to start: "
                    "restore the log from a backup"
                )
            at = committed
            for number, raw in pending:
                self._apply(number, raw, at)
                at += len(raw)
            pending.clear()
            committed, n, crc, first = committed + n + len(line), 0, 0, 0
        return False, committed, first

    def _read_lines(self, f: BinaryIO) -> tuple[int, int]:
        """A log from before commit lines: every whole line is a record; a torn last one is the tail."""
        committed = 0
        for lineno, line in enumerate(f, 1):
            if not line.endswith(b"\n"):
                return committed, lineno
            self._apply(lineno, line, committed)
            committed += len(line)
        return committed, 0

    def _apply(self, lineno: int, line: bytes, at: int) -> None:
        try:
            self.state.apply(decode_record(line), at)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise StoreCorrupt(
                f"{self.path}:{lineno}: unreadable record ({exc}); "
                "refusing to start: repair or remove that line by hand"
            ) from None

    def _cut_tail(self, committed: int, first: int) -> None:
        """Cut the batch that was being written when the process or the machine died, in place (which needs no free
        space); its bytes are kept aside first when the disk has room for them."""
        aside = self.path.with_name(f"{self.path.name}.torn-{self.clock.now_ms()}")
        with open(self.path, "r+b") as f:
            f.seek(committed)
            tail = f.read()
            try:
                with open(aside, "wb") as copy:
                    copy.write(tail)
                    os.fsync(copy.fileno())
                _fsync_dir(self.path)
                kept = f"the bytes are kept in {aside}"
            except OSError as exc:
                aside.unlink(missing_ok=True)
                kept = f"the bytes could not be kept aside ({exc}) and are dropped"
            f.truncate(committed)
            os.fsync(f.fileno())
        log.warning(
            "%s: torn tail from line %d (%d bytes of a batch that was never acknowledged) cut; %s",
            self.path,
            first,
            len(tail),
            kept,
        )

    # -- reads --------------------------------------------------------------------------------

    def chat(self, chat_id: str) -> Chat | None:
        room = self.state.rooms.get(chat_id)
        return None if room is None else room.to_chat()

    def is_member(self, chat_id: str, address: str) -> bool:
        return chat_id in self.state.member_of.get(address, ())

    def visible_from(self, chat_id: str, address: str) -> int | None:
        if not self.is_member(chat_id, address):
            return None
        return self.state.rooms[chat_id].starts.get(address, 1)

    def late_members(self, chat_id: str) -> dict[str, int]:
        room = self.state.rooms.get(chat_id)
        return {} if room is None else dict(room.starts)

    def view(self, chat_id: str, address: str) -> ChatView | None:
        room = self.state.rooms.get(chat_id)
        return None if room is None else self.state.view(room, address)

    def receipts(self, chat_id: str, caller: str) -> dict[str, Position]:
        return self.state.receipts(chat_id, caller) if chat_id in self.state.rooms else {}

    def settings(self, address: str) -> Settings:
        return self.state.settings.get(address) or Settings()

    def versions(self, chat_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        rooms = self.state.rooms
        return {i: (rooms[i].rev, rooms[i].members_version) for i in chat_ids if i in rooms}

    def chats_of(self, address: str, before: int | None, limit: int) -> tuple[list[ChatView], int | None]:
        return self.state.chats_of(address, before, limit)

    def chat_ids_of(self, address: str) -> dict[str, tuple[int, int]]:
        rooms = self.state.rooms
        return {
            chat_id: (rooms[chat_id].starts.get(address, 1), rooms[chat_id].last_seq)
            for chat_id in self.state.member_of.get(address, ())
        }

    def message(self, message_id: str) -> Message | None:
        return self.state.message(message_id)

    def messages(self, message_ids: Iterable[str]) -> dict[str, Message]:
        found = {i: self.state.message(i) for i in message_ids}
        return {i: m for i, m in found.items() if m is not None}

    def find(self, sender: str, client_id: str) -> Message | None:
        return self.state.find(sender, client_id)

    def page(
        self, chat_id: str, before: int | None, after: int | None, limit: int, first: int = 1
    ) -> tuple[list[Message], bool]:
        room = self.state.rooms[chat_id]
        low = max(first, room.base_seq + 1)
        high = room.last_seq if before is None else min(before - 1, room.last_seq)
        if after is not None:
            start = max(after + 1, low)
            end = min(start + limit - 1, high)  # anchored on the first seq the caller may see, not on `after`
            return self.state.slice(room, start, end), end < high
        start = max(low, high - limit + 1)
        return self.state.slice(room, start, high), start > low

    def changes(self, chat_id: str, since_rev: int, limit: int, first: int = 1) -> tuple[list[Message], bool]:
        return self.state.changes(self.state.rooms[chat_id], since_rev, limit, first)

    def unsettled(self, kinds: Iterable[str] = SETTLERS) -> list[Unsettled]:
        awaited = [m for m in self.state.awaited_ones() if settled_by(m) in kinds]
        plain = list(self.state.plain_waiting()) if "plain" in kinds else []
        waiting = sorted(awaited + plain, key=lambda m: (m.sent_at, m.chat_id, m.seq))
        return [Unsettled(m.id, m.rev, m.sent_at, settled_by(m)) for m in waiting]

    def due_chats(self, sent_by: int, limit: int) -> dict[str, int]:
        """In commit order, which is the order they were sent in, up to the first sent after `sent_by` (one made plain
        again later, its XMTP copy dropped, comes due in its new place)."""
        due: dict[str, int] = {}
        for m in islice(self.state.plain_waiting(), limit):
            if m.sent_at > sent_by:
                break
            due[m.chat_id] = max(m.seq, due.get(m.chat_id, 0))
        return due

    def unsettled_by_kind(self) -> dict[str, int]:
        return self.state.waiting_by_kind()

    # -- writes -------------------------------------------------------------------------------

    def create_chat(self, chat_id: str, members: list[str], title: str | None, created_by: str) -> tuple[Chat, bool]:
        def plan(batch: _Batch) -> tuple[str, bool]:
            if chat_id in batch.rooms or (chat_id in self.state.rooms and chat_id not in batch.erased):
                return chat_id, False
            room = batch.rooms[chat_id] = Room(chat_id, list(members), title, created_by, self.clock.now_ms())
            room.continue_after(batch.tomb(chat_id))
            batch.records.append(("chat", room))
            return chat_id, True

        chat_id_, created = self._submit(plan)
        return self.state.rooms[chat_id_].to_chat(), created

    def add_members(self, chat_id: str, members: list[str], limit: int, share_from: str | None = None) -> Chat:
        def plan(batch: _Batch) -> None:
            current = batch.current_members(chat_id)
            added = [m for m in members if m not in current]
            if len(current) + len(added) > limit:
                raise Invalid(f"'members' would make more than {limit} members")
            if added:
                if share_from in current:
                    visible_from = batch.room(chat_id).starts.get(share_from, 1)
                else:
                    visible_from = batch.counter(chat_id)[0] + 1
                batch.members[chat_id] = current + added
                batch.records.append(("members", (chat_id, added, visible_from)))

        self._submit(plan)
        return self.state.rooms[chat_id].to_chat()

    def remove_member(self, chat_id: str, address: str) -> Chat:
        def plan(batch: _Batch) -> Chat | None:
            current = batch.current_members(chat_id)
            if address not in current:
                raise NotFound(f"{address} is not a member of chat {chat_id!r}")
            batch.members[chat_id] = [m for m in current if m != address]
            batch.records.append(("removed", (chat_id, [address])))
            return None if batch.members[chat_id] else batch.erase(chat_id)

        erased: Chat | None = self._submit(plan)
        return erased or self.state.rooms[chat_id].to_chat()

    def append(self, new: NewMessage) -> tuple[Message, bool]:
        message, created, _ = self.append_later(new).get()
        return message, created

    def append_later(self, new: NewMessage) -> Pending:
        key = (new.sender, new.client_id)

        def plan(batch: _Batch) -> tuple[Message, int | None]:
            room = batch.room(new.chat_id)  # once: the members, the starts and the counters all need it
            if new.sender not in batch.members.get(new.chat_id, room.members):
                raise Forbidden(f"you are not a member of chat {new.chat_id!r}")
            earlier = batch.keys.get(key) or self.state.find(*key)
            if earlier is not None:
                return repeat_of(earlier, new, room.starts.get(new.sender, 1)), None
            if new.reply_to is not None:
                last_seq = batch.counter(new.chat_id, room)[0]
                check_reply(new, room.starts.get(new.sender, 1), lambda seq: room.base_seq < seq <= last_seq)
            seq, rev = batch.bump(new.chat_id, True, room)
            message = Message.provisional(new, seq, rev, self.clock.now_ms())
            batch.keys[key] = message
            batch.sent[(new.chat_id, new.sender)] = seq
            batch.records.append(("message", message))
            return message, len(batch.records) - 1

        def current(value: tuple[Message, int | None], lines: list[bytes]) -> Appended:
            """A new message with the JSON of its line (at its record's index); an earlier one as it is now (it may
            have changed since it was planned)."""
            message, at = value
            if at is None:
                return self.state.message(message.id) or message, False, None
            return message, True, message_json("message", lines[at])

        return self._enqueue(plan, current)

    def change(self, message_id_: str, change: Change) -> Message:
        def plan(batch: _Batch) -> Message:
            current = self._current(batch, message_id_)
            fields = change(current)
            return self._update(batch, current, fields) if fields else current

        return self._submit(plan)

    def mark(
        self, chat_id: str, address: str, read_seq: int | None, delivered_seq: int | None
    ) -> tuple[Position, bool]:
        def plan(batch: _Batch) -> tuple[Position, bool]:
            if address not in batch.current_members(chat_id):
                raise Forbidden(f"you are not a member of chat {chat_id!r}")
            position = batch.position(chat_id, address)
            moved = position.moved(read_seq, delivered_seq, batch.counter(chat_id)[0])
            if moved is None:
                return position, False
            batch.positions[(chat_id, address)] = moved
            batch.records.append(("position", (chat_id, address, moved.read_seq, moved.delivered_seq, True)))
            return moved, True

        result: tuple[Position, bool] = self._submit(plan)
        return result

    def put_settings(self, address: str, changes: dict[str, bool]) -> Settings:
        def plan(batch: _Batch) -> Settings:
            current = batch.settings.get(address) or self.settings(address)
            settings = replace(current, **changes)
            if settings != current:  # a PUT that changes nothing writes nothing
                batch.settings[address] = settings
                batch.records.append(("settings", (address, settings)))
            return settings

        result: Settings = self._submit(plan)
        return result

    def put_farcaster_token(self, token: FarcasterToken) -> None:
        def plan(batch: _Batch) -> None:
            batch.records.append(("fc_token", token))

        self._submit(plan)

    def drop_farcaster_tokens(self, fid: int, app_key: str) -> None:
        def plan(batch: _Batch) -> None:
            pending = any(kind == "fc_token" and (t.fid, t.app_key) == (fid, app_key) for kind, t in batch.records)
            if pending or (fid, app_key) in self.state.fc_tokens:  # dropping none writes nothing
                batch.records.append(("fc_drop", (fid, app_key)))

        self._submit(plan)

    def farcaster_tokens(self, fid: int) -> list[FarcasterToken]:
        return sorted((t for t in self.state.fc_tokens.values() if t.fid == fid), key=lambda t: t.app_key)

    def link_farcaster(self, address: str, fid: int) -> None:
        def plan(batch: _Batch) -> None:
            batch.records.append(("fc_link", (address, fid)))

        self._submit(plan)

    def farcaster_fid(self, address: str) -> int | None:
        return self.state.fc_links.get(address)

    def put_push_subscription(self, subscription: PushSubscription) -> bool:
        def plan(batch: _Batch) -> bool:
            current = batch.subscription(subscription.endpoint)
            batch.unpush(subscription.endpoint, record=False)  # the record below moves it, to the youngest
            batch.push[subscription.endpoint] = subscription
            endpoints = batch.endpoints(subscription.address)
            endpoints.append(subscription.endpoint)
            batch.records.append(("push", subscription))
            while len(endpoints) > MAX_PER_ADDRESS:
                batch.unpush(endpoints[0])
            return current is None or current.address != subscription.address

        result: bool = self._submit(plan)
        return result

    def drop_push_subscriptions(
        self, endpoint: str | None = None, address: str | None = None, session: str | None = None
    ) -> None:
        def plan(batch: _Batch) -> None:
            candidates = list(batch.endpoints(address)) if address is not None else [endpoint or ""]
            for candidate in candidates:
                found = batch.subscription(candidate)
                if found is not None and matches(found, endpoint, address, session):
                    batch.unpush(candidate)

        self._submit(plan)

    def push_subscriptions(self, address: str) -> list[PushSubscription]:
        return [self.state.push[endpoint] for endpoint in self.state.pushed.get(address, ())]

    def reachable(self, chat_id: str) -> list[Reachable]:
        """Two dict lookups for a member with neither a subscription nor a linked fid (nearly every one): the pushes
        ask this for every chat they decide for."""
        room, state = self.state.rooms.get(chat_id), self.state
        found = []
        for address in room.members if room is not None else ():
            fid = state.fc_links.get(address)
            if fid is None and address not in state.pushed:
                continue
            subscriptions = tuple(self.push_subscriptions(address))
            tokens = tuple(self.farcaster_tokens(fid)) if fid is not None else ()
            if subscriptions or tokens:
                found.append(Reachable(address, self.settings(address).push_previews, subscriptions, tokens))
        return sorted(found, key=lambda r: r.address)

    def react(self, message_id_: str, reaction: Reaction) -> Message:
        def plan(batch: _Batch) -> Message:
            current = self._current(batch, message_id_)
            key = (message_id_, reaction.emoji)
            reactors = batch.reactors.get(key)
            outcome = react(current, self.state.reactors_of(*key) if reactors is None else reactors, reaction)
            if outcome is None:
                return current
            fields, batch.reactors[key] = outcome
            record = ("reactor", (message_id_, reaction.emoji, reaction.address, reaction.added))
            return self._update(batch, current, fields, record)

        return self._submit(plan)

    def confirm_through(self, chat_id: str, through_seq: int) -> Confirmed | None:
        def plan(batch: _Batch) -> Confirmed | None:
            room = batch.room(chat_id)
            through = min(through_seq, room.last_seq)  # not a message new in this batch: replay would count it too
            seqs = set(room.waiting_through(through)) - batch.by_clock.get(chat_id, {}).keys()
            for m in batch.changed.get(chat_id, ()):  # changed earlier in this batch: as they are now
                if m.seq <= through:
                    (seqs.add if waits_for_clock(batch.messages[m.id]) else seqs.discard)(m.seq)
            if not seqs:
                return None
            counter, at = batch.counter(chat_id), self.clock.now_ms()
            first_rev = counter[1] + 1
            counter[1] += len(seqs)
            by_clock = batch.by_clock.setdefault(chat_id, {})  # what later ops of this batch see (`_current`)
            by_clock.update((seq, (rev, at)) for rev, seq in enumerate(sorted(seqs), first_rev))
            for changed_id, seq in {m.id: m.seq for m in batch.changed.get(chat_id, ()) if m.seq in seqs}.items():
                batch.messages[changed_id] = confirmed_by_clock(batch.messages[changed_id], *by_clock[seq])
            batch.records.append(("confirmed", (chat_id, through, first_rev, at, len(seqs))))
            return Confirmed(chat_id, through, first_rev, counter[1], at)

        result: Confirmed | None = self._submit(plan)
        return result

    def _current(self, batch: _Batch, message_id_: str) -> Message:
        """The message as this batch's earlier ops left it."""
        current = batch.messages.get(message_id_)
        if current is not None:
            return current
        current = self.state.message(message_id_)
        if current is None:
            raise NotFound(f"no message {message_id_!r}")
        confirmed = batch.by_clock.get(current.chat_id, {}).get(current.seq)
        return current if confirmed is None else confirmed_by_clock(current, *confirmed)

    def _update(self, batch: _Batch, current: Message, fields: dict[str, Any], *records: Record) -> Message:
        """The message changed by `fields` at the chat's next rev, written after `records`."""
        _, rev = batch.bump(current.chat_id, False)
        updated = replace(current, **fields, rev=rev, updated_at=self.clock.now_ms())
        batch.put(updated)
        batch.records.extend((*records, ("update", updated)))
        if current.status == "provisional" != updated.status:
            batch.settled.add((updated.id, rev))
        return updated

    def revoke_session(self, session: str, until: int) -> None:
        def plan(batch: _Batch) -> None:
            batch.records.append(("revoked", (session, until)))

        self._submit(plan)

    def revoked_sessions(self) -> dict[str, int]:
        now = self.clock.now_ms()
        return {session: until for session, until in self.state.revoked.items() if until > now}

    def _submit(self, plan: Callable[[_Batch], Any]) -> Any:
        """Queue a write for the next batch and wait until it is durable and applied."""
        return self._enqueue(plan).get()

    def _enqueue(
        self, plan: Callable[[_Batch], Any], finish: Callable[[Any, list[bytes]], Any] | None = None
    ) -> AsyncResult:
        """Queue a write for the next batch: its result is set once it is durable and applied (`finish` then)."""
        if self._broken is not None:
            raise Unavailable(f"storage is not accepting writes: {self._broken}")
        op = _Op(plan, finish)
        self._queue.append(op)
        self._wake.set()
        return op.result

    # -- the writer -----------------------------------------------------------------------------

    def _write_loop(self) -> None:
        """Forever: take what is queued, commit it; a fault here stops writes instead of hanging every writer."""
        ops: list[_Op] = []
        try:
            while True:
                erased, deleted = self._erased_wait(), self._deleted_wait()
                self._wake.wait(deleted if erased is None else erased if deleted is None else min(erased, deleted))
                self._wake.clear()
                ops, self._queue = self._queue, []
                if ops:
                    self._commit(ops)
                if self._should_compact() or self._erased_wait() == 0 or self._deleted_wait() == 0:
                    self._compact()
        except BaseException as exc:
            if isinstance(exc, gevent.GreenletExit):
                raise
            log.critical("store writer failed: %r; no more writes until a restart", exc, exc_info=True)
            self._broken = f"the store's writer failed ({exc!r}); restart to recover"
            error = Unavailable(self._broken)
            for op in ops + self._queue:
                if not op.result.ready():
                    op.result.set_exception(error)
            # Not re-raised: gevent would hand a SystemError to the main greenlet and stop the server.

    def _commit(self, ops: list[_Op]) -> None:
        """Plan every op, make the batch durable with one write, then apply, answer and notify in order."""
        batch = _Batch(self.state)
        planned: list[_Op] = []
        for op in ops:
            mark = len(batch.records)
            try:
                op.value = op.plan(batch)
                planned.append(op)
            except DomainError as exc:
                op.result.set_exception(exc)
            except Exception as exc:  # a bug in one op's plan fails that op, not the batch
                log.exception("planning a write failed")
                del batch.records[mark:]
                op.result.set_exception(Failed(f"the write could not be planned ({type(exc).__name__})"))
        lines = list(map(encode_record, batch.records))
        at = self._size  # where the first record starts in the log
        if lines:
            started = self.clock.monotonic()
            try:
                self._durable(sealed(lines))
                self.stats.committed(self.clock.monotonic() - started, len(planned))
            except OSError as exc:
                self.stats.failures += 1
                log.error("write to %s failed: %s", self.path, exc)
                self._roll_back()
                error = Unavailable("storage could not make the write durable; nothing was stored, retry")
                for op in planned:
                    op.result.set_exception(error)
                return
        for record, line in zip(batch.records, lines, strict=True):
            self.state.apply(record, at)
            at += len(line)
        if self.state.deletions and self._deleted_at is None:
            self._deleted_at = self.clock.monotonic()
        for op in planned:
            op.result.set(op.value if op.finish is None else op.finish(op.value, lines))
        if lines:
            commit = self._announce(batch, lines)
            for listener in self._listeners:
                try:
                    listener(commit)
                except Exception:
                    log.exception("store listener failed")

    def _announce(self, batch: _Batch, lines: list[bytes]) -> Commit:
        """What a batch's records committed, as listeners hear it (an erased chat as its last member left it); a
        message with the JSON its line holds."""
        messages: list[Stored] = []
        chats: list[ChatChanged] = []
        revoked: list[Revoked] = []
        positions: list[PositionMoved] = []
        confirmed: list[Confirmed] = []
        registered: set[str] = set()  # chats registered in this batch: an erased one's later changes are the new one's
        for (kind, payload), line in zip(batch.records, lines, strict=True):
            if kind == "message" or kind == "update":
                settled = kind == "update" and (payload.id, payload.rev) in batch.settled  # a new one never is
                messages.append(Stored(payload, kind == "message", settled, message_json(kind, line)))
            elif kind == "revoked":
                revoked.append(Revoked(*payload))
            elif kind == "position":
                positions.append(self._moved(*payload[:4]))
            elif kind == "confirmed":
                chat_id, through_seq, first_rev, at, n = payload
                confirmed.append(Confirmed(chat_id, through_seq, first_rev, first_rev + n - 1, at))
            elif kind in ("settings", "fc_token", "fc_drop", "fc_link", "push", "unpush"):
                continue
            elif kind == "chat":
                registered.add(payload.id)
                chats.append(ChatChanged(payload.to_chat(), added=tuple(payload.members)))
            elif kind in ("members", "removed"):
                chat_id, addresses = payload[:2]
                erased = chat_id in batch.erased and chat_id not in registered
                chat = batch.erased[chat_id] if erased else self.state.rooms[chat_id].to_chat()
                chats.append(
                    ChatChanged(chat, added=tuple(addresses), visible_from=payload[2])
                    if kind == "members"
                    else ChatChanged(chat, removed=tuple(addresses))
                )
        return Commit(tuple(messages), tuple(chats), tuple(revoked), tuple(positions), tuple(confirmed))

    def _moved(self, chat_id: str, address: str, read_seq: int, delivered_seq: int) -> PositionMoved:
        """A mark as its commit announces it, with what decides where its receipt goes."""
        room = self.state.rooms.get(chat_id)
        shares = self.settings(address).read_receipts
        return PositionMoved(chat_id, address, read_seq, delivered_seq, shares, len(room.members) if room else 0)

    def _durable(self, data: bytes) -> None:
        """Append; with FSYNC=always, durable before this returns (`_sync`)."""
        if self._broken is not None:
            raise OSError(self._broken)
        if self.fsync:
            self._sync(self._fd, data)
        else:
            _append(self._fd, data)
        self._size += len(data)

    def _sync(self, fd: int, data: bytes) -> None:
        """Append, then fsync off the event loop: by the kernel (Linux AIO) where it can, else on gevent's thread pool
        (the append too: a thread is woken either way)."""
        if self._aio is not None:
            _append(fd, data)  # to the page cache
            self._aio.fsync(fd)
            return
        failure = gevent.get_hub().threadpool.apply(_append_and_sync, (fd, data))
        if failure is not None:
            raise failure

    def _roll_back(self) -> None:
        """Cut the log back to its last durable size; if even that fails, stop taking writes (restart recovers)."""
        try:
            os.ftruncate(self._fd, self._size)
            os.fsync(self._fd)
        except OSError as exc:
            self._broken = f"log could not be rolled back after a failed write ({exc}); restart to recover"
            log.critical("%s", self._broken)

    # -- compaction -------------------------------------------------------------------------------

    def _erased_wait(self) -> float | None:
        """How long until the log is rewritten for the chats erased since it last was (None: there are none): at once
        after the first, then at most once per ERASED_COMPACT_S, so erasing many chats does not rewrite it each time
        (and on a log so large that a rewrite takes long, at most ERASED_COMPACT_SHARE of the time)."""
        if not self.state.erasures:
            return None
        interval = max(ERASED_COMPACT_S, self._compact_s / ERASED_COMPACT_SHARE)
        return max(0.0, self._compacted_at + interval - self.clock.monotonic())

    def _deleted_wait(self) -> float | None:
        """How long until the log is rewritten for the messages deleted since it last was (None: there are none): half
        of ERASE_WITHIN_S after the first, so one rewrite takes every deletion of that while and ends in time."""
        if self._deleted_at is None:
            return None
        due = max(self._deleted_at, self._compacted_at) + self.erase_within_s / 2  # a failed rewrite: tried again then
        return max(0.0, due - self.clock.monotonic())

    def _should_compact(self) -> bool:
        if self.state.records - self.state.messages < COMPACT_MIN_SUPERSEDED:  # every message is a live record
            return False
        superseded = self.state.records - self.state.live_records()
        return superseded >= COMPACT_MIN_SUPERSEDED and superseded > self.state.live_records()

    def _compact(self) -> bool:
        """Rewrite the log as a snapshot: temp file, fsync, atomic rename, fsync the folder. False: old log stays."""
        tmp = self.path.with_name(self.path.name + ".compact")
        started = self.clock.now_ms()
        self.state.forget_revoked(started)  # past their sessions' maximum age: nothing left to refuse
        self._compacted_at = self.clock.monotonic()
        offsets: dict[str, array[int]] = {}  # each chat's messages' records in the new log, by seq
        keys = KeyIndex()

        def placed(record: Record, at: int) -> None:
            if record[0] in ("copy", "message"):  # every message once, by seq (one the clock confirmed: re-encoded)
                m, room = record[1], self.state.rooms[record[1].chat_id]
                offsets.setdefault(m.chat_id, array("q")).append(at)
                keys.add(m.sender, m.client_id, room.no << 32 | m.seq)

        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for piece in encode_log(self.state.snapshot(), placed=placed):
                    _append(fd, piece)
                    gevent.sleep(0)  # encoding a large state: let sockets be served between pieces
                self._sync(fd, b"")
                new_fd = os.open(tmp, os.O_WRONLY | os.O_APPEND)  # opened before the swap: no fd, no swap
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("compaction of %s failed, keeping the old log: %s", self.path, exc)
            tmp.unlink(missing_ok=True)
            return False
        try:
            os.replace(tmp, self.path)
        except OSError as exc:
            log.error("compaction of %s failed, keeping the old log: %s", self.path, exc)
            os.close(new_fd)
            tmp.unlink(missing_ok=True)
            return False
        os.close(self._fd)  # from here on the path names the new log: every write goes there, every read comes from it
        self._fd, self._size = new_fd, os.fstat(new_fd).st_size
        self.state.history.open(self.path)
        self.state.relocate(offsets, keys)
        try:
            _fsync_dir(self.path)
        except OSError as exc:  # the rename may not survive a crash: stop acknowledging until a restart
            self._broken = f"compacted log's rename could not be made durable ({exc}); restart to recover"
            log.critical("%s", self._broken)
        dropped = self.state.records - self.state.live_records()
        self.state.records = self.state.live_records()
        self._compact_s = self.clock.monotonic() - self._compacted_at
        self.state.erasures = self.state.deletions = 0
        self._deleted_at = None
        log.info(
            "compacted %s: dropped %d superseded records in %d ms", self.path, dropped, self.clock.now_ms() - started
        )
        return True


def _vouched(line: bytes) -> tuple[int, int] | None:
    """What a commit line vouches for: (length, CRC-32) of the bytes back to the previous one; None if unreadable."""
    try:
        commit = orjson.loads(line)
        return commit["n"], commit["crc"]
    except (ValueError, TypeError, KeyError):
        return None


def _append(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _append_and_sync(fd: int, data: bytes) -> OSError | None:
    """Runs on a pool thread; a failure comes back as a value (gevent would print a raised one as unhandled)."""
    try:
        _append(fd, data)
        os.fsync(fd)
    except OSError as exc:
        return exc
    return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent.resolve(), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
