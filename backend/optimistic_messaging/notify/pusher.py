"""Notifications in the background: each commit goes into a bounded queue as it is (full: dropped and counted), a worker
woken at most once per GATHER_S takes whatever waits, reads each chat's reachable members once for it, decides who is
told and offers each event to its coalescing window (per Web Push subscription, chat and kind; per Farcaster token),
and each request goes out in its host's lane (lanes.py), retrying what a push service asks to be retried. Nothing
here runs on a send's path, so a push service that hangs delays no ack; and it holds only its own lane, so it delays
no other host's pushes."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial

import gevent
import orjson
from gevent.event import Event as Wake
from gevent.pool import Group

from ..coalesce import Windows
from ..errors import ApiError
from ..farcaster.sender import DAY_S, PER_DAY, WINDOW_S, FarcasterSender, Notice
from ..models import FarcasterToken, Message
from ..presence import Presence
from ..stats import METER
from ..store import Commit, Store, Stored
from .decide import preview, recipients
from .lanes import Lanes
from .subscriptions import PushSubscription, Reachable
from .webpush import WebPush

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000  # commits waiting for their pushes to be decided
BATCH = 500  # commits decided together, one read of each chat's reachable members for all of them
GATHER_S = 0.02  # the worker, woken by a commit, lets others gather this long: one wake-up for many commits
SLICE_S = 0.0002  # deciding holds the loop at most about this long before sends and deliveries go first
ATTEMPTS = 5
BACKOFF_S = 1.0  # doubled each retry, unless the push service says how long (Retry-After)
MAX_WAIT_S = 300.0
DELIVERED = frozenset({200, 201, 202, 204})
GONE = frozenset({404, 410})
MESSAGE, PAYMENT = "message", "payment"
Items = tuple[str, ...]  # a window's items: each an event's kind and message id
TITLES = {
    MESSAGE: "New message",
    "confirmed": "Payment confirmed",
    "corrected": "Payment corrected",
    "retracted": "Payment retracted",
}


@dataclass(frozen=True, slots=True)
class Event:
    """What is notified: a new message, or a payment the commit settled."""

    kind: str  # MESSAGE or PAYMENT
    message: Message

    @property
    def item(self) -> str:
        """As a window keeps it: the kind and the message id (read again when the window ends)."""
        return f"{self.kind} {self.message.id}"


def event_of(stored: Stored) -> Event | None:
    """A new message, or a payment the commit settled, is notified (a deleted one is not); nothing else is."""
    m = stored.message
    if m.deleted:
        return None
    if stored.new:
        return Event(MESSAGE, m)
    if stored.settled and m.tx is not None:
        return Event(PAYMENT, m)
    return None


def payee(message: Message) -> str:
    """Who a payment is to: the chain's `to` (a corrected message carries the chain's values)."""
    return str((message.tx or {}).get("to", "")).lower()


class Pusher:
    """This node's notifications: it hears the commits this node makes (so each is decided once), and the windows are
    shared by every node (so one chat's messages make one push per window, whichever node committed them)."""

    def __init__(
        self,
        store: Store,
        presence: Presence,
        windows: Windows,
        coalesce_s: float,
        webpush: WebPush | None,
        farcaster: FarcasterSender | None,
    ) -> None:
        self.store, self.presence, self.windows, self.coalesce_s = store, presence, windows, coalesce_s
        self.webpush, self.farcaster = webpush, farcaster
        self.queue: deque[Commit] = deque()  # at most QUEUE_SIZE: a deque and a flag cost a send less than a Queue
        self.woken = Wake()  # set by the first commit after the worker took the queue
        self.lanes = Lanes()
        self.timers = Group()
        self.flushing: set[str] = set()  # windows this node will take at their end

    def committed(self, commit: Commit) -> None:
        """Store listener, in the store's writer before the commit's frames leave: the commit itself is the queue's
        entry (a deque and a flag: no greenlet switch, nothing else made); a full queue drops it, counted."""
        n = len(commit.messages)
        if not n:
            return
        if len(self.queue) >= QUEUE_SIZE:
            METER.pushes.add("dropped", n)
            return
        self.queue.append(commit)
        METER.push_queued += n
        if not self.woken.is_set():
            self.woken.set()

    def run(self) -> None:
        """The worker: take whatever commits wait (up to BATCH), GATHER_S after the first came (so the frames and acks
        of the turn that woke it are written first, and a busy chat's commits are decided together); decide their
        events in order."""
        while True:
            self.woken.wait()
            gevent.sleep(GATHER_S)
            self.woken.clear()  # a commit from here on wakes it again
            batch = [self.queue.popleft() for _ in range(min(BATCH, len(self.queue)))]
            if self.queue:
                self.woken.set()  # more than BATCH waited: the rest next
            METER.push_queued -= sum(len(commit.messages) for commit in batch)
            self.decide_all(batch)

    def decide_all(self, batch: list[Commit]) -> None:
        """Each chat's reachable members read once for the batch, and who is online in it only when some are (the
        common case: none, and nothing more). Every SLICE_S of deciding, a turn of the loop: sends and deliveries
        waiting meanwhile go first, so a batch's decisions never hold them up for its whole length."""
        chats: dict[str, tuple[list[Reachable], frozenset[str]]] = {}
        sliced = time.perf_counter()
        undecided: list[str] = []  # events whose chat could not be read (the store away): not pushed, said once
        for commit in batch:
            for stored in commit.messages:
                if (event := event_of(stored)) is None:
                    continue
                chat_id = stored.message.chat_id
                try:
                    if chat_id not in chats:
                        reachable = self.store.reachable(chat_id)
                        online = frozenset(self.presence.online(chat_id)) if reachable else frozenset()
                        chats[chat_id] = reachable, online
                    reachable, online = chats[chat_id]
                    if reachable:
                        self.decide(event, reachable, online)
                        if time.perf_counter() - sliced >= SLICE_S:
                            gevent.sleep(0)
                            sliced = time.perf_counter()
                except ApiError as exc:
                    undecided.append(f"{stored.message.id} ({exc.message})")
                except Exception:
                    log.exception("deciding the pushes of %s failed", stored.message.id)
        if undecided:
            log.warning("no pushes for %d events, their chats could not be read: %s", len(undecided), undecided[0])

    def close(self) -> None:
        self.timers.kill()
        self.lanes.kill()

    def decide(self, event: Event, reachable: list[Reachable], online: Collection[str]) -> None:
        """Of the chat's members who can be reached, each recipient (not `online` in the chat) has its every
        subscription and token offered the event. A payment goes to its payee only."""
        m = event.message
        if event.kind == PAYMENT:
            reachable = [r for r in reachable if r.address.lower() == payee(m)]
        if not reachable:
            return
        for recipient in recipients(m, reachable, online):
            if self.webpush is not None:
                for subscription in recipient.subscriptions:
                    send = self._push_now(subscription, recipient.previews, event)
                    if self.coalesce_s <= 0:  # no window: no key to make either
                        send()
                    else:
                        self.offer(push_key(event.kind, m.chat_id, subscription.endpoint), event, self.coalesce_s, send)
            if self.farcaster is not None:
                for token in recipient.tokens:
                    key = farcaster_key(recipient.address, token)
                    self.offer(key, event, WINDOW_S, self._notify_now(key, token, recipient.previews, event))

    def offer(self, key: str, event: Event, window_s: float, now: Callable[[], None]) -> None:
        """Sent at once when no window was open (one opens); else kept for the window's end, when this node takes it
        too (whichever node takes it first sends)."""
        if self.windows.add(key, event.item, window_s):
            now()
        self.later(key, window_s)

    def later(self, key: str, after_s: float) -> None:
        if key not in self.flushing:
            self.flushing.add(key)
            self.timers.add(gevent.spawn_later(after_s, self.flush, key))

    def flush(self, key: str) -> None:
        """At a window's end: what came inside it and is still there (not deleted) goes as one, counted."""
        self.flushing.discard(key)
        try:
            self._flush(key)
        except Exception:  # the store or the windows away: what the window kept goes at the next event's window end
            log.exception("a notification window could not be taken")

    def _flush(self, key: str) -> None:
        kind, *where = orjson.loads(key)
        window_s = self.coalesce_s if kind == "push" else WINDOW_S
        taken = self.windows.take(key, window_s)
        if taken.left_s > 0:
            self.later(key, taken.left_s)
            return
        if not taken.items:
            return
        live = self._live(taken.items)
        if not live:  # all deleted: nothing was sent at this end, so the next event goes at once, as after silence
            self.windows.close(key)
            return
        self.later(key, window_s)  # the next window opened
        if kind == "push":
            self._push_later(where[0], where[1], where[2], live)
        else:
            self._notify_later(key, where[0], int(where[1]), where[2], live, taken.items)

    def _live(self, items: tuple[str, ...]) -> list[Event]:
        """The items' events as the messages are now, oldest first, leaving out the deleted (one read)."""
        pairs = [item.split(" ", 1) for item in items]
        found = self.store.messages(message_id for _, message_id in pairs)
        live = [Event(kind, found[i]) for kind, i in pairs if i in found and not found[i].deleted]
        return sorted(live, key=lambda e: (e.message.sent_at, e.message.seq))

    # -- Web Push ---------------------------------------------------------------------------------------------------

    def _push_now(self, subscription: PushSubscription, previews: bool, event: Event) -> Callable[[], None]:
        return lambda: self._send_push(subscription, [event], previews)

    def _push_later(self, kind: str, chat_id: str, endpoint: str, live: list[Event]) -> None:
        """To the subscription as it is now, if its address is still a member (and, of a payment, still its payee)."""
        latest = live[-1].message
        for recipient in self.store.reachable(chat_id):
            if kind == PAYMENT and recipient.address.lower() != payee(latest):
                continue
            for subscription in recipient.subscriptions:
                if subscription.endpoint == endpoint:
                    self._send_push(subscription, live, recipient.previews)

    def _send_push(self, subscription: PushSubscription, live: list[Event], previews: bool) -> None:
        """Into the host's lane; its payload is made when its turn comes (a dropped push costs nothing more)."""
        if not self.lanes.run(subscription.endpoint, partial(self.push, subscription, live, previews)):
            METER.pushes.add("dropped")

    def push(self, subscription: PushSubscription, live: list[Event], previews: bool) -> None:
        """Send one push, retrying 429/5xx and network faults with backoff; 404/410 end the subscription."""
        assert self.webpush is not None
        payload, latest = web_payload(live, previews), live[-1].message
        wait = BACKOFF_S
        for attempt in range(1, ATTEMPTS + 1):
            try:
                sent = self.webpush.send(subscription, payload)
            except ApiError as exc:  # the host fails the check now, or the keys cannot encrypt: no request is made
                log.warning("push endpoint refused: %s", exc.message)
                METER.pushes.add("refused")
                return
            except Exception as exc:
                log.info("push to a subscription of %s failed: %s", subscription.address, exc)
            else:
                if sent.status in DELIVERED:
                    METER.pushes.add("delivered")
                    METER.push_seconds.observe(max(0.0, time.time() - latest.sent_at / 1000))
                    return
                if sent.status in GONE:
                    try:
                        self.store.drop_push_subscriptions(endpoint=subscription.endpoint, address=subscription.address)
                    finally:  # counted once ended (or the end failed): a reader of the count finds it gone
                        METER.pushes.add("gone")
                    return
                if sent.status != 429 and sent.status < 500:
                    log.warning("push service answered %d: not retried", sent.status)
                    break
                wait = sent.retry_after_s if sent.retry_after_s is not None else wait
            if attempt == ATTEMPTS:
                break
            METER.pushes.add("retried")
            gevent.sleep(min(wait, MAX_WAIT_S))
            wait *= 2
        METER.pushes.add("failed")

    # -- Farcaster --------------------------------------------------------------------------------------------------

    def _notify_now(self, key: str, token: FarcasterToken, previews: bool, event: Event) -> Callable[[], None]:
        return lambda: self._send_notice(token, notice([event], previews), key, (event.item,))

    def _notify_later(self, key: str, address: str, fid: int, app_key: str, live: list[Event], items: Items) -> None:
        """To the client's token as it is now (none: it turned notifications off since), of the chats the address is
        still a member of."""
        tokens = [t for t in self.store.farcaster_tokens(fid) if t.app_key == app_key]
        member = {chat_id: self.store.is_member(chat_id, address) for chat_id in {e.message.chat_id for e in live}}
        live = [e for e in live if member[e.message.chat_id]]
        if tokens and live:
            previews = self.store.settings(address).push_previews
            self._send_notice(tokens[0], notice(live, previews), key, items)

    def _send_notice(self, token: FarcasterToken, sent: Notice, key: str, items: Items) -> None:
        if not self.lanes.run(token.url, partial(self.notify, token, sent, key, items)):
            METER.farcaster.add("dropped")

    def notify(self, token: FarcasterToken, sent: Notice, key: str, items: Items) -> None:
        """One notification within the token's day (100); one the client refused for its rate waits for the next
        window, with what came meanwhile."""
        assert self.farcaster is not None
        if not self.windows.spend(orjson.dumps(["fc-day", token.fid, token.app_key]).decode(), PER_DAY, DAY_S):
            return
        if not self.farcaster.send(token, sent):
            self.windows.keep(key, items, WINDOW_S)
            self.later(key, WINDOW_S)


def push_key(kind: str, chat_id: str, endpoint: str) -> str:
    """A Web Push window: per subscription, chat and kind (a payment's window is its own)."""
    return orjson.dumps(["push", kind, chat_id, endpoint]).decode()


def farcaster_key(address: str, token: FarcasterToken) -> str:
    """A Farcaster window: per client (fid and app key), whatever the chat: its limits are per token."""
    return orjson.dumps(["fc", address, token.fid, token.app_key]).decode()


def web_payload(live: list[Event], previews: bool) -> bytes:
    """The contract's payload: the latest, and how many since the last push (itself included)."""
    latest = live[-1].message
    body: dict[str, object] = {
        "type": live[-1].kind,
        "chat_id": latest.chat_id,
        "message_id": latest.id,
        "sender": latest.sender,
        "count": len(live),
        "preview": preview(latest, previews),
    }
    if live[-1].kind == PAYMENT:
        body |= {"status": latest.status, "reason": latest.reason}
    return orjson.dumps(body)


def notice(live: list[Event], previews: bool) -> Notice:
    """What a Farcaster notification says of the latest event, counting them."""
    event = live[-1]
    title = TITLES[MESSAGE if event.kind == MESSAGE else event.message.status]
    return Notice(event.message.id, event.message.chat_id, title, preview(event.message, previews), len(live))
