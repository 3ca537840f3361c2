"""The real-time side's centre (after centrifuge's Node): what it is made of, what it hears, and its life: `start()`
runs, and `close()` stops, every greenlet of the process that runs beside the requests. Each is owned, started and
stopped by one part; this list is the one place that names them all:
- the node's `greenlets`: the reconciler's rounds, the pinger (wire), session expiry, typing expiry; sign-outs being
  carried out, typing ended by a send, and the feed's `chat:update` views being read;
- the reconciler (`Reconciler.close`): XMTP look-ups (`pool`), a round's settlement writes (`writes`), health's count;
- the fan-out (`Fanout.close`): one fill per served chat that found a gap;
- sign-in by transaction (`Auth.close`): its poller, while look-ups wait;
- notifications (`Pusher.close`): its requests in their hosts' lanes and the timers that take each window at its end;
- the backends (`Backends.close`): the store's writer (and PostgreSQL's prober), the broker's LISTEN and heartbeat, the
  election, Redis's heartbeat, sweep and probe (while its breaker is open), the signals' receiver.
Not the node's: gevent's server runs each connection in a greenlet of its own, and wire/frames a drainer per socket
while its backlog is written; both end with their connection.

Delivery goes one way: the broker's commits and the signals come in here, and go down through the `Hub` to `wire`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

import gevent
import orjson
import socketio
from gevent.pool import Group

from . import receipts, wire
from .backends import Backends
from .coalesce import Windows
from .connections import Connection
from .errors import ApiError
from .expiry import ExpirySweeper
from .fanout import Delivered, Fanout, Itemized
from .farcaster.sender import FarcasterSender
from .hub import Hub
from .late import unseen
from .models import Chat, Message, PositionMoved, seen_from
from .notify.pusher import Pusher
from .notify.webpush import WebPush
from .services import Services
from .store import Commit, Confirmed
from .subscriptions import Subscriptions

log = logging.getLogger(__name__)

TYPING_SWEEP_S = 0.5  # how often typing flags not renewed in time are ended


def pusher(s: Services, windows: Windows) -> Pusher | None:
    """This node's notifications: Web Push when it has a VAPID key, Farcaster's when APP_URL says where to link."""
    c = s.config
    webpush = WebPush(c.vapid_private_key, c.vapid_subject, c.notify_allow_hosts) if c.vapid_private_key else None
    farcaster = FarcasterSender(s.store, c.app_url, c.notify_allow_hosts) if c.app_url else None
    if webpush is None and farcaster is None:
        return None
    return Pusher(s.store, s.presence, windows, c.push_coalesce_s, webpush, farcaster)


class Node:
    """Composes the fan-out, the subscriptions and the sweepers over one Socket.IO server; hears the broker."""

    def __init__(
        self, sio: socketio.Server, services: Services, backends: Backends, pipelined: Collection[str]
    ) -> None:
        s = self.services = services
        self.backends = backends
        self.greenlets = Group()  # everything this node spawns: its loops and the sign-outs being carried out
        self.hub = Hub(sio)
        self.fanout = Fanout(s.store, self.deliver, self.chat_changed, self.hub.any_itemized)
        self.subscriptions = Subscriptions(
            self.hub, s.connections, s.presence, s.signals, self.fanout, self.greenlets.spawn, s.store
        )
        self.sweeper = ExpirySweeper(s.connections, s.clock, self.end_session)
        self.loops: list[Callable[[], None]] = [
            s.reconciler.run,
            wire.attach(sio, pipelined),  # the pinger
            self.sweeper.run,
            self._expire_typing,
        ]
        revocations = s.auth.revocations
        for listener, resync in (
            (s.reconciler.noticed, s.reconciler.reseed),
            (revocations.noticed, revocations.load),
            (self.fanout.publish, self.fanout.resync),
        ):
            backends.broker.subscribe(listener)
            backends.broker.on_resync(resync)
        backends.broker.subscribe(self.feed)  # after the fan-out: the removed are out of the chat's room first
        backends.broker.on_resync(self.resynced)
        s.signals.listen(self.signal)
        self.pusher = pusher(s, backends.windows)
        if self.pusher is not None:
            s.store.subscribe(self.pusher.committed)  # this node's commits only: each push is decided once
            self.loops.append(self.pusher.run)
        revocations.on_revoked(lambda session: self.greenlets.spawn(self.signed_out, session))

    def start(self) -> None:
        """Open the store, read what is kept in memory from it, run the loops (the reconciler, the pinger, session and
        typing expiry), then hear of commits and signals."""
        self.backends.open()
        self.services.auth.revocations.load(announce=False)  # no socket is open yet: nothing to end
        self.services.reconciler.start()
        for loop in self.loops:
            self.greenlets.spawn(loop)
        self.backends.start()

    def close(self) -> None:
        """Stop every greenlet this node started (the fan-out's fills too), then close what the backends hold open."""
        self.greenlets.kill()
        if self.pusher is not None:
            self.pusher.close()
        self.services.reconciler.close()
        self.services.auth.close()
        self.fanout.close()
        self.backends.close()

    def deliver(self, stored: list[Delivered]) -> None:
        """Each batch goes out in order: every socket sees its chats' messages in seq order. A confirmation by the
        clock is one small event to the chat's sockets that opted into `chat:confirmed` (a member added later applies
        it to no message it does not hold); the others get its messages one by one (the fan-out read them)."""
        events: list[tuple[str, str, Any, Collection[str]]] = []
        for item in stored:
            if isinstance(item, Confirmed):  # no socket here takes it message by message
                events.append((item.chat_id, "chat:confirmed", item.event(), ()))
            elif isinstance(item, Itemized):
                events += self._itemized(item)
            else:
                events += self._message(item.message, "message" if item.new else "message:update", item.json)
        self.hub.to_chats(events)

    def _message(
        self, m: Message, event: str, encoded: bytes | None = None
    ) -> list[tuple[str, str, Any, Collection[str]]]:
        """One message to the chat's sockets, as each may see it; as `encoded` (its JSON) if the store made that."""
        late = self.fanout.late(m.chat_id)
        if late:
            return self._as_seen(m, event, late)
        return [(m.chat_id, event, m if encoded is None else orjson.Fragment(encoded), ())]

    def _itemized(self, item: Itemized) -> list[tuple[str, str, Any, Collection[str]]]:
        """`chat:confirmed` to the sockets that opted into it, and each confirmed message to the others."""
        confirmed = item.confirmed
        itemized = set(self.hub.itemized(confirmed.chat_id))
        events: list[tuple[str, str, Any, Collection[str]]] = [
            (confirmed.chat_id, "chat:confirmed", confirmed.event(), itemized)
        ]
        opted = {sid for sid in self.hub.in_chat(confirmed.chat_id) if sid not in itemized}
        for m in item.messages:  # the same skip set for each, unless members added later are among them
            events += (
                (chat_id, event, data, opted.union(skip) if skip else opted)
                for chat_id, event, data, skip in self._message(m, "message:update")
            )
        return events

    def chat_changed(self, chat: Chat) -> None:
        """Every socket following the chat hears of it (a removed one last); then those no longer members stop."""
        self.hub.to_chat(chat.id, "chat:update", chat)
        self.subscriptions.members_changed(chat)

    def feed(self, commit: Commit) -> None:
        """Broker listener: every member socket here that has not joined a chat hears of its member changes and its
        latest message (the joined have `chat:update` and `message`); the removed hear that it is gone. Each event
        is encoded once, whatever the number of its sockets; nothing here reads the store."""
        hub, subscriptions = self.hub, self.subscriptions
        for change in commit.chats:
            gone = subscriptions.changed(change)
            if update := subscriptions.watching(change.chat.id):
                self.greenlets.spawn(self._views, change.chat.id, list(update))
            hub.to_sids(gone, "chat:removed", {"chat_id": change.chat.id})
        for item in commit.messages:
            m = item.message
            sids, blind, last_seq = subscriptions.activity(m, item.new)
            if not sids and not blind:
                continue
            activity = {"chat_id": m.chat_id, "last_seq": last_seq, "rev": m.rev, "last_message": m}
            hub.to_sids(sids, "chat:activity", activity)
            if blind:
                hub.to_sids(blind, "chat:activity", {**activity, "last_message": seen_from(m, m.seq)})
        connections = self.services.connections
        for moved in commit.positions:  # the marker's every socket, and the chat's joined ones when it shares them
            sids = {conn.sid for conn in connections.of(moved.address)}
            if receipts.to_chat(moved):
                sids.update(hub.in_chat(moved.chat_id))
            for first, some in self._by_start(moved, sids).items():
                hub.to_sids(some, "receipt", receipts.receipt(moved, first))

    def resynced(self) -> None:
        """Broker resync: a feed socket hears of each chat it missed something of as `chat:update` (the chat as its
        address sees it now: a read, in a greenlet) or `chat:removed`, as if it had heard the commits."""
        missed = self.subscriptions.resync()
        for sid, chat_id in missed.gone:
            self.hub.to_sids([sid], "chat:removed", {"chat_id": chat_id})
        for chat_id, sids in missed.stale.items():
            if sids:
                self.greenlets.spawn(self._views, chat_id, sids)

    def _by_start(self, moved: PositionMoved, sids: set[str]) -> dict[int, set[str]]:
        """The receipt's sockets by the first seq their address sees of the chat: a member added later sees no
        position below where it began. One group (the common case) unless such a member's start is above it."""
        late = self.fanout.late(moved.chat_id)
        if not late or moved.read_seq >= max(late.values()) - 1:
            return {1: sids}
        groups: dict[int, set[str]] = {}
        for sid in sids:
            conn = self.services.connections.get(sid)
            first = late.get(conn.address, 1) if conn is not None and conn.address != moved.address else 1
            groups.setdefault(first, set()).add(sid)
        return groups

    def _views(self, chat_id: str, sids: list[str]) -> None:
        """`chat:update` to these sockets, each with the chat as its address sees it: a read per address, so in a
        greenlet of its own (the commit listener may run in the store's writer). Only to those still following it."""
        by_address: dict[str, list[str]] = {}
        for sid in sids:
            if (conn := self.services.connections.get(sid)) is not None:
                by_address.setdefault(conn.address, []).append(sid)
        for address, mine in by_address.items():
            try:
                view = self.services.store.view(chat_id, address)
            except ApiError as exc:  # the list is right again at the client's next GET /api/chats
                log.warning("could not read %s as %s sees it: %s", chat_id, address, exc)
                return
            watching = self.subscriptions.watching(chat_id)
            if view is not None:
                self.hub.to_sids([sid for sid in mine if sid in watching], "chat:update", view)

    def signal(self, chat_id: str, event: str, data: dict[str, Any], skip: str) -> None:
        """Typing and presence from any node, to the chat's sockets here but the address `skip`'s own."""
        self.hub.to_chat(chat_id, event, data, skip=self.services.presence.sids(chat_id, skip))

    def end_session(self, conn: Connection, reason: str = "expired") -> None:
        """The token has expired or its session was signed out: say so, and disconnect the socket."""
        self.hub.end(conn.sid, "session:expired", {"expires_at": conn.expires_at, "reason": reason})

    def signed_out(self, session: str) -> None:
        """A sign-out on any node: this node's sockets of that session end now."""
        for conn in self.services.connections.of_session(session):
            try:
                self.end_session(conn, "logout")
            except Exception:
                log.exception("ending the signed-out session of %s failed", conn.sid)

    def _as_seen(
        self, message: Message, event: str, late: dict[str, int]
    ) -> list[tuple[str, str, Any, Collection[str]]]:
        """The message to the chat's sockets when some members were added later: not to those added after it, and
        with `reply_to` null to those added after the message it replies to; each variant one frame."""
        chat_id = message.chat_id
        hidden, blind = unseen(message, late, lambda: self.hub.in_chat(chat_id), self.services.connections)
        if not blind:
            return [(chat_id, event, message, hidden)]
        others = {sid for sid in self.hub.in_chat(chat_id) if sid not in blind}
        return [(chat_id, event, message, hidden | blind), (chat_id, event, seen_from(message, message.seq), others)]

    def _expire_typing(self) -> None:
        while True:
            gevent.sleep(TYPING_SWEEP_S)
            self.subscriptions.expire_typing()
