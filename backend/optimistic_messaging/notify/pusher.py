"""Web Push in the background: committed messages go into a bounded queue (full: dropped and counted), a worker
decides who is told and coalesces per subscription and chat, and a pool of senders retries what a push service
asks to be retried. Nothing here runs on a send's path, so a push service that hangs delays no ack."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import gevent
import orjson
from gevent.pool import Group, Pool
from gevent.queue import Full, Queue

from ..errors import ApiError
from ..models import Message
from ..presence import Presence
from ..stats import METER
from ..store import Commit, Store
from .decide import preview, recipients
from .subscriptions import PushSubscription
from .webpush import WebPush

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000
SENDERS = 32  # pushes in flight at once: a hanging push service holds at most these
ATTEMPTS = 5
BACKOFF_S = 1.0  # doubled each retry, unless the push service says how long (Retry-After)
MAX_WAIT_S = 300.0
DELIVERED = frozenset({200, 201, 202, 204})
GONE = frozenset({404, 410})


@dataclass(slots=True)
class Window:
    """One subscription's coalescing window in one chat: the latest message since its last push, and how many."""

    subscription: PushSubscription
    latest: Message
    previews: bool
    count: int = 0


class Pusher:
    """The node's Web Push: it hears the commits this node makes (so each push is sent by one node, the committer's)."""

    def __init__(self, store: Store, presence: Presence, webpush: WebPush, coalesce_s: float) -> None:
        self.store, self.presence, self.webpush, self.coalesce_s = store, presence, webpush, coalesce_s
        self.queue: Queue[Message] = Queue(QUEUE_SIZE)
        self.windows: dict[tuple[str, str], Window] = {}
        self.senders = Pool(SENDERS)
        self.timers = Group()

    def committed(self, commit: Commit) -> None:
        """Store listener: queue each new message, never waiting (a full queue drops it, counted)."""
        for item in commit.messages:
            if item.new and not item.message.deleted:
                try:
                    self.queue.put_nowait(item.message)
                    METER.push_queued += 1
                except Full:
                    METER.pushes.add("dropped")

    def run(self) -> None:
        """The worker: decide each queued message's pushes, one after another."""
        for message in self.queue:
            METER.push_queued -= 1
            try:
                self.decide(message)
            except Exception:
                log.exception("deciding the pushes of %s failed", message.id)

    def close(self) -> None:
        self.timers.kill()
        self.senders.kill()

    def decide(self, message: Message) -> None:
        """Each recipient's every subscription is offered the message: one read for the members who can be reached,
        and presence asked only when there are some."""
        reachable = self.store.reachable(message.chat_id)
        if not reachable:
            return
        for recipient in recipients(message, reachable, self.presence.online(message.chat_id)):
            for subscription in recipient.subscriptions:
                self.offer(subscription, message, recipient.previews)

    def offer(self, subscription: PushSubscription, message: Message, previews: bool) -> None:
        """Push at once if this subscription had no push in this chat within PUSH_COALESCE_S; else count it in."""
        key = (subscription.endpoint, message.chat_id)
        window = self.windows.get(key)
        if window is None:
            self.open(key, Window(subscription, message, previews, 1))
        else:
            window.subscription, window.latest, window.previews = subscription, message, previews
            window.count += 1

    def open(self, key: tuple[str, str], window: Window) -> None:
        """Send the window's push and start the next window, empty."""
        self.windows[key] = Window(window.subscription, window.latest, window.previews)
        self.senders.spawn(self.send, window)
        self.timers.add(gevent.spawn_later(self.coalesce_s, self.close_window, key))

    def close_window(self, key: tuple[str, str]) -> None:
        """At the window's end: what came inside it is pushed now (one push, counting them), or the window goes."""
        window = self.windows.pop(key)
        if window.count:
            self.open(key, window)

    def send(self, window: Window) -> None:
        """Send one push, retrying 429/5xx and network faults with backoff; 404/410 end the subscription."""
        m, subscription = window.latest, window.subscription
        payload = orjson.dumps(
            {
                "type": "message",
                "chat_id": m.chat_id,
                "message_id": m.id,
                "sender": m.sender,
                "count": window.count,
                "preview": preview(m, window.previews),
            }
        )
        wait = BACKOFF_S
        for attempt in range(1, ATTEMPTS + 1):
            try:
                sent = self.webpush.send(subscription, payload)
            except ApiError as exc:  # the host fails the check now: no request is made to it
                log.warning("push endpoint refused: %s", exc.message)
                METER.pushes.add("refused")
                return
            except Exception as exc:
                log.info("push to a subscription of %s failed: %s", subscription.address, exc)
            else:
                if sent.status in DELIVERED:
                    METER.pushes.add("delivered")
                    METER.push_seconds.observe(max(0.0, time.time() - m.sent_at / 1000))
                    return
                if sent.status in GONE:
                    METER.pushes.add("gone")
                    self.store.drop_push_subscriptions(endpoint=subscription.endpoint, address=subscription.address)
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
