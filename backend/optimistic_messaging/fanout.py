"""Delivery to this node's sockets in order: for each chat a socket here follows, every change in rev order, none
twice and none missing. The broker's announcements are a hint: a rev that comes before the ones below it waits, and
the gap is filled from the store (after a moment, in case the missing notification is only on its way). A chat's
confirmation by the clock is one item for its run of revs; a fill delivers the messages it changed one by one. Where a
socket here takes confirmations message by message (it did not opt into `chat:confirmed`), the confirmed messages
are read from the store before the confirmation goes out, and the chat's later revs wait for them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent

from .errors import ApiError
from .models import Chat, Message
from .positions import StreamPosition
from .store import ChatChanged, Commit, Confirmed, Store, Stored

log = logging.getLogger(__name__)

GAP_WAIT_S = 0.05  # a gap is given this long to close by itself before the store is asked
RETRY_S = 1.0  # a fill the store could not answer is tried again after this
FILL_PAGE = 500


@dataclass(frozen=True, slots=True)
class Itemized:
    """A confirmation by the clock with the messages it confirmed still at its revs (read from the store), for the
    sockets that take it message by message."""

    confirmed: Confirmed
    messages: tuple[Message, ...]


Delivered = Stored | Confirmed | Itemized


@dataclass
class _Served:
    """What this node has delivered of one chat."""

    # unknown while it is being read
    position: StreamPosition[Stored | Confirmed] = field(default_factory=StreamPosition)
    seq: int = 0  # the highest seq delivered as a new message
    members_version: int = 0
    late: dict[str, int] = field(default_factory=dict)  # members who may not see all of it: first seq each sees
    filler: gevent.Greenlet | None = None  # a fill from the store, scheduled or running
    filling: bool = False  # the fill is running: nothing else goes out meanwhile


class Fanout:
    def __init__(
        self,
        store: Store,
        deliver: Callable[[list[Delivered]], None],
        chat_changed: Callable[[Chat], None],
        itemized: Callable[[str], bool],
    ) -> None:
        self.store = store
        # to the chat's sockets here: new messages as `message`, the rest as `message:update`, `chat:confirmed`
        self.deliver = deliver
        self.chat_changed = chat_changed  # its members changed: tell its sockets, unsubscribe the removed
        self.itemized = itemized  # whether a socket here following the chat takes confirmations message by message
        self.served: dict[str, _Served] = {}

    def serve(self, chat_id: str) -> None:
        """A socket here follows the chat: from its current position on, everything is delivered."""
        if chat_id in self.served:
            return
        state = self.served[chat_id] = _Served()
        try:
            version = self.store.versions([chat_id]).get(chat_id)
            chat = self.store.chat(chat_id)
            late = self.store.late_members(chat_id)
        except BaseException:
            self.served.pop(chat_id, None)
            raise
        if chat is None or version is None or self.served.get(chat_id) is not state:
            self.served.pop(chat_id, None)
            return
        state.position.reach(chat.rev)
        state.seq, state.members_version = chat.last_seq, version[1]
        state.late = {**late, **state.late}  # what a join or a commit noted during the read is newer: it stands
        self._flush(chat_id, state)

    def late(self, chat_id: str) -> dict[str, int]:
        """The chat's members who may not see all of it, and the first seq each may see (what delivery skips)."""
        state = self.served.get(chat_id)
        return state.late if state is not None else {}

    def late_member(self, chat_id: str, address: str, first: int) -> None:
        """A member joining here sees the chat from `first` on (the store says so, even before this node hears of
        the change that added them)."""
        state = self.served.get(chat_id)
        if state is not None:
            state.late[address] = first

    def _relearn_late(self, chat_id: str) -> None:
        """Members changed: who sees the chat from where, read again (kept as it was while the store is away; what a
        join noted during the read stands)."""
        state = self.served.get(chat_id)
        before = dict(state.late) if state is not None else {}
        try:
            late = self.store.late_members(chat_id)
        except ApiError as exc:
            log.warning("could not read where the members of %s begin: %s", chat_id, exc)
            return
        if state is not None:
            state.late = {**late, **{a: n for a, n in state.late.items() if before.get(a) != n}}

    def unserve(self, chat_id: str) -> None:
        """No socket here follows the chat any more."""
        state = self.served.pop(chat_id, None)
        if state is not None and state.filler is not None:
            state.filler.kill(block=False)

    def close(self) -> None:
        """Serve nothing more: every fill scheduled or running is stopped."""
        for chat_id in list(self.served):
            self.unserve(chat_id)

    def publish(self, commit: Commit) -> None:
        """Broker listener: member changes first (the removed hear nothing more), then messages and confirmations in
        rev order."""
        for change in commit.chats:
            state = self.served.get(change.chat.id)
            if state is not None:
                if change.visible_from is None:  # another node's notice that could not say where the added begin
                    self._relearn_late(change.chat.id)
                else:  # no read: this may run in the store's writer, which must never wait on one
                    _note_starts(state.late, change)
                self.chat_changed(change.chat)
        out: list[Delivered] = []
        for stored in commit.messages:
            m = stored.message
            state = self.served.get(m.chat_id)
            if state is None:
                continue
            if state.filler is None and not state.filling and state.position.take(m.rev):  # in order: out now
                if stored.new:
                    state.seq = m.seq
                out.append(stored)
            else:
                state.position.hold(m.rev, stored)
                out += self._ready(m.chat_id, state)
        for confirmed in commit.confirmed:
            state = self.served.get(confirmed.chat_id)
            if state is not None:
                state.position.hold(confirmed.first_rev, confirmed, confirmed.rev)
                out += self._ready(confirmed.chat_id, state)
        if out:
            self.deliver(out)

    def resync(self) -> None:
        """After commits may have been missed: every served chat is checked against the store, and caught up."""
        chat_ids = [chat_id for chat_id, state in self.served.items() if state.position.known]
        if not chat_ids:
            return
        versions = self.store.versions(chat_ids)
        for chat_id in chat_ids:
            state = self.served.get(chat_id)
            if state is None or chat_id not in versions:
                continue
            rev, members_version = versions[chat_id]
            if members_version != state.members_version:
                chat = self.store.chat(chat_id)
                state.members_version = members_version
                self._relearn_late(chat_id)
                if chat is not None:
                    self.chat_changed(chat)
            if rev > state.position.rev:
                self._fill_soon(chat_id, state, 0)

    def _ready(self, chat_id: str, state: _Served) -> list[Delivered]:
        """What can go out now: held revs that follow the last delivered one. A gap left behind gets filled. With a
        confirmation among them and a socket here that takes it message by message, nothing goes out until its
        messages are read (then all of it, in order)."""
        if not state.position.known or state.filling:
            return []
        out: list[Delivered] = [*state.position.advance()]
        confirmed = False
        for item in out:
            if isinstance(item, Stored):
                if item.new:
                    state.seq = item.message.seq
            else:
                confirmed = True
        if confirmed and self.itemized(chat_id):
            state.filling = True
            if state.filler is not None:  # a gap's fill waits for this; its chat is checked again after
                state.filler.kill(block=False)
            state.filler = gevent.spawn(self._itemize, chat_id, state, out)
            return []
        if state.position.gap:
            self._fill_soon(chat_id, state, GAP_WAIT_S)
        elif state.filler is not None:  # the gap closed by itself before its fill began
            state.filler.kill(block=False)
            state.filler = None
        return out

    def _flush(self, chat_id: str, state: _Served) -> None:
        out = self._ready(chat_id, state)
        if out:
            self.deliver(out)

    def _itemize(self, chat_id: str, state: _Served, out: list[Delivered]) -> None:
        """Read the messages of `out`'s confirmations, then deliver `out` with them and go on with the chat."""
        try:
            ready: list[Delivered] = [
                _itemized(self.store, item) if isinstance(item, Confirmed) else item for item in out
            ]
        except ApiError as exc:
            log.warning("could not read the messages confirmed in %s yet: %s", chat_id, exc)
            state.filler = gevent.spawn_later(RETRY_S, self._itemize, chat_id, state, out)
            return
        state.filling = False
        state.filler = None
        if self.served.get(chat_id) is state:
            self.deliver(ready)
            self._flush(chat_id, state)

    def _fill_soon(self, chat_id: str, state: _Served, after_s: float) -> None:
        if state.filler is None:
            state.filler = gevent.spawn_later(after_s, self._fill, chat_id, state)

    def _fill(self, chat_id: str, state: _Served) -> None:
        """Read what is missing from the store and deliver it: new messages by seq, then the changed ones by rev."""
        state.filling = True
        try:
            while True:
                changes, more = self.store.changes(chat_id, state.position.rev, FILL_PAGE)
                if self.served.get(chat_id) is not state or not changes:
                    break
                new = sorted((m for m in changes if m.seq > state.seq), key=lambda m: m.seq)
                out: list[Delivered] = [Stored(m, True) for m in new]
                out += [Stored(m, False) for m in changes if m.seq <= state.seq]
                state.position.reach(max(m.rev for m in changes))
                state.seq = new[-1].seq if new else state.seq
                self.deliver(out)
                if not more:
                    break
        except ApiError as exc:
            log.warning("could not fill a gap in %s yet: %s", chat_id, exc)
            state.filling = False
            state.filler = gevent.spawn_later(RETRY_S, self._fill, chat_id, state)
            return
        state.filling = False
        state.filler = None
        if self.served.get(chat_id) is state:
            self._flush(chat_id, state)


def _itemized(store: Store, confirmed: Confirmed) -> Itemized:
    """The confirmation with its messages that are still at its revs, in rev order (one changed again since comes at
    its later rev, as its own change)."""
    messages: list[Message] = []
    since = confirmed.first_rev - 1
    while since < confirmed.rev:
        changes, more = store.changes(confirmed.chat_id, since, min(FILL_PAGE, confirmed.rev - since))
        messages += (m for m in changes if m.rev <= confirmed.rev)
        if not changes or not more:
            break
        since = changes[-1].rev
    return Itemized(confirmed, tuple(messages))


def _note_starts(late: dict[str, int], change: ChatChanged) -> None:
    """Who sees the chat from where, after a change: the added from where the commit says, the removed not at all."""
    for address in change.removed:
        late.pop(address, None)
    for address in change.added:
        if change.visible_from is not None and change.visible_from > 1:
            late[address] = change.visible_from
        else:
            late.pop(address, None)
