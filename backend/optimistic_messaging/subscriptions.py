"""The one place a socket is put in or out of a chat: its room, its connection's chat set, presence (and the presence
and typing signals that causes), the fan-out's served chats, and the address feed (which member sockets follow a chat
without joining it) change together here, and nowhere else."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from .connections import Connection, Connections
from .errors import ApiError
from .fanout import Fanout
from .hub import Hub, address_room, chat_room, itemized_room
from .late import unseen
from .models import Chat, Message
from .presence import Presence, Signals
from .store import ChatChanged, Store

log = logging.getLogger(__name__)

Spawn = Callable[..., object]
"""Runs a function in a greenlet of the node's (one the node stops when it closes)."""


@dataclass(eq=False)
class _Followed:
    """A chat that addresses with a socket here follow by feed."""

    last_seq: int  # as far as this node has heard
    addresses: set[str] = field(default_factory=set)  # its members with a socket here
    late: dict[str, int] = field(default_factory=dict)  # of those, the ones who see it from a later seq: that seq
    watching: set[str] = field(default_factory=set)  # the sids of those members' sockets that have not joined it


@dataclass
class Missed:
    """What feed sockets may have missed while the broker was away (`Subscriptions.resync`)."""

    stale: dict[str, list[str]] = field(default_factory=dict)  # chat id -> sids to send the chat as it is now
    gone: list[tuple[str, str]] = field(default_factory=list)  # (sid, chat id): the chat is no longer theirs


@dataclass(eq=False)
class Subscriptions:
    """Which of this node's sockets follow which chats, joined or by feed, kept the same in the places that hold it."""

    hub: Hub
    connections: Connections
    presence: Presence
    signals: Signals
    fanout: Fanout
    spawn: Spawn
    store: Store
    followed: dict[str, _Followed] = field(default_factory=dict)
    feeds: dict[str, set[str]] = field(default_factory=dict)  # an address with a socket here -> the chats it follows
    _loading: dict[str, set[str]] = field(default_factory=dict)  # address -> chats commits changed while it is read

    def open(self, conn: Connection) -> None:
        """A socket signed in: it hears what is said to its address, and follows its chats by feed (the address's
        chats are read at its first socket here; commits meanwhile are noted and stand)."""
        self.hub.enter(conn.sid, address_room(conn.address))
        address = conn.address
        if address in self.feeds:
            for chat_id in self.feeds[address]:
                self.followed[chat_id].watching.add(conn.sid)
            return
        self.feeds[address] = set()
        try:
            self._load(address)
        except BaseException:
            self._drop_feed(address)
            raise

    def close(self, conn: Connection) -> None:
        """A socket disconnected: it follows nothing any more (its address's feed ends with its last socket here)."""
        for chat_id in list(conn.chats):
            self._part(conn, chat_id)
        self.hub.leave(conn.sid, address_room(conn.address))
        for chat_id in self.feeds.get(conn.address, ()):
            self.followed[chat_id].watching.discard(conn.sid)
        if not self.connections.of(conn.address):
            self._drop_feed(conn.address)

    def resync(self) -> Missed:
        """After commits may have been missed: every address's chats are read again, and followed as they are now.
        Answers what the feed's sockets missed meanwhile: a chat the address was added to, or with messages past the
        last one heard here, to tell them of again; a chat it left or was removed from, to tell them is gone."""
        heard = {chat_id: followed.last_seq for chat_id, followed in self.followed.items()}
        missed = Missed()
        for address in list(self.feeds):
            if address in self._loading:
                continue
            before = set(self.feeds[address])
            try:
                chats = self._load(address)
            except ApiError as exc:  # the next resync tries again
                log.warning("could not read the chats of %s again: %s", address, exc)
                break
            conns = self.connections.of(address)
            for chat_id in before - self.feeds.get(address, set()):
                missed.gone += ((conn.sid, chat_id) for conn in conns)
            for chat_id, (_, last_seq) in chats.items():  # each followed now
                # past what was heard when the resync began (a chat first followed since came with its own events)
                if chat_id not in before or last_seq > heard.get(chat_id, last_seq):
                    missed.stale.setdefault(chat_id, []).extend(conn.sid for conn in conns if chat_id not in conn.chats)
        return missed

    def changed(self, change: ChatChanged) -> list[str]:
        """A commit changed a chat's members: the feed follows it (its `watching` then has the added's sockets).
        Answers the sockets to tell it is gone: every socket here of the removed."""
        chat = change.chat
        gone: list[str] = []
        for address in change.removed:
            if address in self.feeds:
                gone += (conn.sid for conn in self.connections.of(address))
                self._noted(address, chat.id)
                self._unfollow(address, chat.id)
        for address in change.added:
            if address in self.feeds:
                self._noted(address, chat.id)
                # another node's notice that could not say where the added begin: after all it holds, when in doubt
                first = change.visible_from if change.visible_from is not None else chat.last_seq + 1
                self._follow(address, chat.id, first, chat.last_seq)
        return gone

    def activity(self, message: Message, new: bool) -> tuple[Collection[str], Collection[str], int]:
        """The sockets to tell of a chat's latest message (a new one, or the latest deleted) and the chat's last seq:
        its members' sockets here that have not joined it, but for members added after that message; apart, those of
        members added after the message it replies to (they get it with `reply_to` null)."""
        followed = self.followed.get(message.chat_id)
        if followed is None:
            return (), (), 0
        if new:
            followed.last_seq = max(followed.last_seq, message.seq)
        elif not (message.deleted and message.seq == followed.last_seq):
            return (), (), 0
        if not followed.watching:  # every member socket here joined it (the usual case for a busy chat)
            return (), (), 0
        hidden, blind = unseen(message, followed.late, lambda: followed.watching, self.connections)
        if not hidden and not blind:
            return followed.watching, (), followed.last_seq
        return [sid for sid in followed.watching if sid not in hidden and sid not in blind], blind, followed.last_seq

    def watching(self, chat_id: str) -> Collection[str]:
        """The sids of member sockets here that follow the chat by feed, not joined to it."""
        followed = self.followed.get(chat_id)
        return followed.watching if followed is not None else ()

    def join(self, conn: Connection, chat_id: str, first: int) -> bool:
        """The socket follows the chat from now on, seeing its messages from seq `first` on (a member added later);
        False, following nothing, if it was closed meanwhile (the store's reads yield)."""
        if conn.closed:
            return False
        self.hub.enter(conn.sid, chat_room(chat_id))
        if "chat:confirmed" not in conn.features:
            self.hub.enter(conn.sid, itemized_room(chat_id))
        if (followed := self.followed.get(chat_id)) is not None:
            followed.watching.discard(conn.sid)  # it has the chat's own events now
        conn.chats.add(chat_id)
        self.fanout.serve(chat_id)
        if first > 1:
            self.fanout.late_member(chat_id, conn.address, first)
        return self._still_open(conn, chat_id)

    def arrive(self, conn: Connection, chat_id: str) -> bool:
        """A joined socket's address is online in the chat, told to the others (once the join's read succeeded);
        False, following nothing, if the socket was closed meanwhile."""
        if not self._still_open(conn, chat_id):
            return False
        if self.presence.join(chat_id, conn.address, conn.sid):
            self._tell_others("presence", chat_id, conn.address, {"online": True})
        return self._still_open(conn, chat_id)

    def _still_open(self, conn: Connection, chat_id: str) -> bool:
        """A socket closed while a step of its join yielded: what the join added is undone (close ran before it)."""
        if conn.closed:
            self._part(conn, chat_id)
        return not conn.closed

    def leave(self, conn: Connection, chat_id: str) -> None:
        if chat_id in conn.chats:
            self._part(conn, chat_id)

    def members_changed(self, chat: Chat) -> None:
        """Sockets here whose addresses are no longer members stop following the chat."""
        members = set(chat.members)
        for sid in self.hub.in_chat(chat.id):
            conn = self.connections.get(sid)
            if conn is not None and conn.address not in members:
                self._part(conn, chat.id)

    def typing(self, chat_id: str, address: str, typing: bool) -> None:
        if self.presence.typing(chat_id, address, typing):
            self._tell_others("typing", chat_id, address, {"typing": typing})

    def sent(self, chat_id: str, address: str) -> None:
        """A message ends its sender's typing (told from a greenlet: this runs as the send is answered)."""
        if self.presence.typing(chat_id, address, False):
            self.spawn(self._tell_others, "typing", chat_id, address, {"typing": False})

    def expire_typing(self) -> None:
        """Typing flags not renewed in time end."""
        for chat_id, address in self.presence.expired_typing():
            self._tell_others("typing", chat_id, address, {"typing": False})

    def _part(self, conn: Connection, chat_id: str) -> None:
        """A socket stops following a chat; the address goes offline with its last socket."""
        conn.chats.discard(chat_id)
        self.hub.leave(conn.sid, chat_room(chat_id))
        self.hub.leave(conn.sid, itemized_room(chat_id))
        if chat_id in self.feeds.get(conn.address, ()) and not conn.closed:
            self.followed[chat_id].watching.add(conn.sid)  # a member still: back to following it by feed
        if self.hub.chat_empty(chat_id):
            self.fanout.unserve(chat_id)  # no socket here follows it any more
        if self.presence.leave(chat_id, conn.address, conn.sid):
            self.typing(chat_id, conn.address, False)
            self._tell_others("presence", chat_id, conn.address, {"online": False})

    def _load(self, address: str) -> dict[str, tuple[int, int]]:
        """Read the address's chats and follow them as they are (what commits change during the read stands);
        answers the chats it now follows from the read: chat id -> (the first seq the address sees, the last seq)."""
        changed = self._loading[address] = set()
        try:
            chats = self.store.chat_ids_of(address)
        finally:
            if self._loading.get(address) is changed:
                del self._loading[address]
        feed = self.feeds.get(address)
        if feed is None:  # its last socket here closed during the read
            return {}
        for chat_id in feed - chats.keys() - changed:
            self._unfollow(address, chat_id)
        for chat_id, (first, last_seq) in chats.items():
            if chat_id not in changed:
                self._follow(address, chat_id, first, last_seq)
        return {chat_id: seqs for chat_id, seqs in chats.items() if chat_id not in changed}

    def _follow(self, address: str, chat_id: str, first: int, last_seq: int) -> None:
        """The address (with a socket here) follows the chat by feed, seeing it from seq `first` on."""
        followed = self.followed.get(chat_id)
        if followed is None:
            followed = self.followed[chat_id] = _Followed(last_seq)
        followed.last_seq = max(followed.last_seq, last_seq)
        followed.addresses.add(address)
        if first > 1:
            followed.late[address] = first
        else:
            followed.late.pop(address, None)
        self.feeds[address].add(chat_id)
        followed.watching.update(conn.sid for conn in self.connections.of(address) if chat_id not in conn.chats)

    def _unfollow(self, address: str, chat_id: str) -> None:
        self.feeds[address].discard(chat_id)
        followed = self.followed.get(chat_id)
        if followed is None:
            return
        followed.addresses.discard(address)
        followed.late.pop(address, None)
        followed.watching.difference_update(conn.sid for conn in self.connections.of(address))
        if not followed.addresses:
            del self.followed[chat_id]

    def _drop_feed(self, address: str) -> None:
        """The address has no socket here any more: its chats are followed no longer."""
        for chat_id in list(self.feeds.get(address, ())):
            self._unfollow(address, chat_id)
        self.feeds.pop(address, None)

    def _noted(self, address: str, chat_id: str) -> None:
        """A commit changed the address's membership while its chats are being read: the read does not undo it."""
        changed = self._loading.get(address)
        if changed is not None:
            changed.add(chat_id)

    def _tell_others(self, event: str, chat_id: str, address: str, data: dict[str, Any]) -> None:
        """Typing and presence reach the chat's sockets on every node, but the address's own."""
        self.signals.send(chat_id, event, {"chat_id": chat_id, "address": address, **data}, address)
