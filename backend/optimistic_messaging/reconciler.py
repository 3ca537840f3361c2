"""The reconciler: settles every provisional message against its source of truth, in the background."""

from __future__ import annotations

import heapq
import logging
from typing import Any, TypeGuard

import gevent
from gevent.pool import Group, Pool

from .clock import Clock
from .config import Config
from .errors import ApiError
from .leader import ALWAYS, Leadership
from .models import SETTLEMENT_FIELDS, Message, settled_by
from .store import Commit, Store, Unsettled
from .verifiers import WAIT, Outcome
from .verifiers.chain import ChainVerifier
from .verifiers.xmtp import XmtpVerifier

log = logging.getLogger(__name__)

MAX_BACKOFF_MS = 60_000  # after errors in a row (the source of truth down or answering garbage)
MAX_POLL_MS = 15_000  # a payment without a receipt yet, an XMTP copy not found yet: asked again at least this often
MAX_DUE_PER_ROUND = 5_000  # messages: a burst coming due at once is settled over several rounds, not in one long stall
HEAD_WATCH_S = 0.25  # between rounds, while payments wait on a known block: how often to look at the final head
COUNT_EVERY_S = 1.0  # how often health's count of provisional messages is read again (never while health waits)


class Reconciler:
    """Each round: the provisional messages that are due, oldest first, to the chain, to XMTP, or to the fallback clock.

    What is due comes from a schedule, not from a scan of every provisional message, so a round costs what is due,
    not what is waiting. Plain messages, settled by the clock, are the many: the store is their schedule (the chats
    with due ones, oldest first, `Store.due_chats`), and each such chat is confirmed through its highest due seq by
    one write and one event (`Store.confirm_through`, `chat:confirmed`), so a round costs a write per chat, not per
    message; a node keeps nothing in memory per waiting message, and a failed round or write holds all of them back
    together (the store is the one thing they wait on). Payments and XMTP copies are
    asked of an outside source, each again and again until it settles: they are scheduled in memory, each when it is
    stored or changes (the store tells every listener) and again after each check; their number is bounded by what
    those sources are asked about meanwhile (a copy settles by XMTP_GRACE_S, a payment by TX_TIMEOUT_S). Whatever a
    round takes off the schedule goes back on it, whatever happens in the round.
    """

    def __init__(self, config: Config, store: Store, clock: Clock, leadership: Leadership = ALWAYS) -> None:
        self.store = store
        self.clock = clock
        self.leadership = leadership  # with several nodes, one settles at a time
        self.interval_ms = int(config.reconcile_interval_s * 1000)
        self.grace_ms = config.xmtp_grace_s * 1000
        self.tx_timeout_ms = config.tx_timeout_s * 1000
        self.chain = (
            ChainVerifier(config.chain_rpc_url, config.confirmations, self.tx_timeout_ms)
            if config.chain_rpc_url
            else None
        )
        self.xmtp = XmtpVerifier(config.xmtp_gateway_url, self.grace_ms)
        self.pool = Pool(16)  # XMTP gateway look-ups in flight at once
        self.writes = Group()  # a round's settlement writes, in flight together (one group commit)
        # payments and XMTP copies, (not before ms, message id, its rev then): an entry for an older rev is stale, the
        # newer one stands for it
        self.schedule: list[tuple[int, str, int]] = []
        self.plain_failures = 0  # rounds in a row whose plain messages could not be settled (the store refusing)
        self.plain_held = 0  # plain messages back off together until (ms)
        self.failures: dict[str, int] = {}  # message id -> errors in a row
        self.held: dict[str, int] = {}  # message id -> backing off until (ms), whatever changes meanwhile
        self.polls: dict[str, int] = {}  # message id -> checks in a row that found nothing yet
        self.rounds = 0
        self.errors = 0  # checks that failed (source of truth down or answering garbage), ever
        self.last_error: str | None = None
        self.leading = False
        self.store_away = False  # the last round found the store away (said once per outage, not every round)
        self.provisional = 0  # as last counted, for health
        self._counting: gevent.Greenlet | None = None
        self._counted_at = clock.monotonic()
        self._closed = False

    def start(self) -> None:
        """Once the store is open: count and schedule what it holds unsettled (building reads nothing)."""
        self.provisional = sum(self.store.unsettled_by_kind().values())
        self._counted_at = self.clock.monotonic()
        self.reseed()

    def close(self) -> None:
        """Stop what rounds and health leave running beside the loop: XMTP look-ups and settlement writes in flight,
        and a count (status() starts no other one after)."""
        self._closed = True
        self.pool.kill()
        self.writes.kill()
        if self._counting is not None:
            self._counting.kill()

    def run(self) -> None:
        """Forever, one round per RECONCILE_INTERVAL_S; a failing round is logged and the next one comes (a store
        that is away, once per outage: the rounds retry quietly until it answers).

        While payments wait on a known block, the final head is watched in between, and the next round starts
        as soon as that block is final: settlement follows finality closely, not the round clock.
        """
        while True:
            started = self.clock.monotonic()
            try:
                if self.leadership.is_leader():
                    if not self.leading:
                        self.reseed()
                    away = self.round()
                    self.rounds += 1
                    if away is None:
                        self.store_away = False
                    else:
                        self._wait_for_store(away)
                else:
                    self.leading = False
            except Exception as exc:
                if _store_away(exc):
                    self._wait_for_store(exc)
                else:
                    log.exception("reconcile round failed")
            next_round = started + self.interval_ms / 1000
            while (left := next_round - self.clock.monotonic()) > 0:
                gevent.sleep(min(left, HEAD_WATCH_S))
                if self.chain is not None and self.clock.monotonic() < next_round and self.chain.became_final():
                    break

    def _wait_for_store(self, exc: BaseException) -> None:
        if not self.store_away:
            log.warning("reconcile rounds wait for the store: %s", exc)
        self.store_away = True

    def reseed(self) -> None:
        """Schedule afresh the payments and XMTP copies the store holds unsettled: at start, on taking over, and after
        commits may have been missed (the schedule is fed by commits as they are announced)."""
        if not self.leadership.is_leader():
            return
        self.schedule.clear()
        self.leading = True
        for waiting in self.store.unsettled(("payment", "xmtp") if self.chain is not None else ("xmtp",)):
            self._schedule(waiting)

    def waiting_by_kind(self) -> dict[str, int]:
        """Provisional messages by what settles them: the chain, XMTP, or the fallback's clock."""
        return self.store.unsettled_by_kind()

    def status(self) -> dict[str, Any]:
        """Never waits on the store (health answers from it): `provisional` is as counted at most a second before,
        while the store answers."""
        if (
            not self._closed
            and self.clock.monotonic() - self._counted_at >= COUNT_EVERY_S
            and (self._counting is None or self._counting.ready())
        ):
            self._counted_at = self.clock.monotonic()
            self._counting = gevent.spawn(self._count)
        return {
            "rounds": self.rounds,
            "leader": self.leadership.is_leader(),
            "provisional": self.provisional,
            "chain": "configured" if self.chain else "not configured",
            "rpc_calls": self.chain.calls if self.chain else 0,
            "xmtp": "gateway" if self.xmtp.gateway_url else "attestation",
            "errors": self.errors,
            "last_error": self.last_error,
        }

    def _count(self) -> None:
        try:
            self.provisional = sum(self.store.unsettled_by_kind().values())
        except ApiError:
            pass  # the store away: health says so, and the last count stands

    def round(self) -> ApiError | None:
        """One round; the store's refusal if it was found away while storing what was settled."""
        now = self.clock.now_ms()
        due, chats = self._take_due(now)
        try:
            outcomes = {
                **self._payments([m for m in due if settled_by(m) == "payment"], now),
                **self._attested([m for m in due if settled_by(m) == "xmtp"], now),
            }
            return self._apply(due, outcomes, chats, now)
        except BaseException as exc:
            error = f"reconcile round failed: {exc!r}"
            for m in due:  # none of them may fall off the schedule (a settled one is skipped when it comes due)
                self._failed(m, error, now)
            if chats:
                self._plain_failed(error, now)
            raise

    # -- the schedule ---------------------------------------------------------------------------

    def noticed(self, commit: Commit) -> None:
        """Commit listener: a payment or XMTP copy stored or changed is (re)scheduled while provisional; any message is
        forgotten once settled."""
        if not self.leading:
            return
        for stored in commit.messages:
            m = stored.message
            if m.status != "provisional":
                self._forget(m.id)
            elif (kind := settled_by(m)) != "plain":  # the store schedules the plain ones
                self._schedule(Unsettled(m.id, m.rev, m.sent_at, kind))

    def _schedule(self, m: Unsettled) -> None:
        if m.kind == "plain" or (m.kind == "payment" and self.chain is None):
            return  # the store schedules it; or no chain to ask (CHAIN_RPC_URL unset): it stays provisional, for free
        self._defer(m, self.held.get(m.id, 0))  # asked at the next round; a change does not cut a backoff short

    def _defer(self, m: Message | Unsettled, until_ms: int) -> None:
        heapq.heappush(self.schedule, (until_ms, m.id, m.rev))

    def _take_due(self, now: int) -> tuple[list[Message], dict[str, int]]:
        """The payments and XMTP copies due now, each once, current, oldest first; and the chats whose plain messages
        are due, with the seq each is confirmed through (at most MAX_DUE_PER_ROUND messages in all)."""
        taken: list[tuple[int, str, int]] = []
        while self.schedule and self.schedule[0][0] <= now and len(taken) < MAX_DUE_PER_ROUND:
            taken.append(heapq.heappop(self.schedule))
        try:
            current = self.store.messages({message_id for _, message_id, _ in taken})
            chats = self._plain_due(now, MAX_DUE_PER_ROUND - len(taken))
        except BaseException:
            for entry in taken:  # the store could not be read: nothing falls off the schedule
                heapq.heappush(self.schedule, entry)
            raise
        due: dict[str, Message] = {}
        for _, message_id, rev in taken:
            m = current.get(message_id)
            if m is None or m.status != "provisional":
                self._forget(message_id)
            elif m.rev == rev:  # else a later entry stands for it
                due[message_id] = m
        return sorted(due.values(), key=lambda m: (m.sent_at, m.chat_id, m.seq)), chats

    def _plain_due(self, now: int, limit: int) -> dict[str, int]:
        """The chats with plain messages past XMTP_GRACE_S, from the store (none while they back off)."""
        if limit <= 0 or now < self.plain_held:
            return {}
        return self.store.due_chats(now - self.grace_ms, limit)

    def _next_check(self, m: Message, now: int) -> int:
        """After a check of a payment or an XMTP copy that found nothing to settle yet."""
        settler = settled_by(m)
        if settler == "payment" and self.chain is not None and self.chain.waiting_on_block(m.id):
            return now  # its receipt is known: each round costs one comparison with the final head
        polls = self.polls[m.id] = self.polls.get(m.id, 0) + 1  # no receipt, or not on XMTP: ask less and less often
        deadline = m.sent_at + (self.tx_timeout_ms if settler == "payment" else self.grace_ms)  # the clock settles it
        return min(now + min(MAX_POLL_MS, self.interval_ms * 2 ** (polls - 1)), deadline)

    def _failed(self, m: Message, error: str, now: int, quiet: bool = False) -> None:
        """Back off exponentially (to MAX_BACKOFF_MS); nothing about it is remembered meanwhile."""
        failures = self.failures[m.id] = self.failures.get(m.id, 0) + 1
        until = self.held[m.id] = now + min(MAX_BACKOFF_MS, self.interval_ms * 2**failures)
        self._defer(m, until)
        if self.chain is not None:
            self.chain.forget(m.id)  # else its known block would wake the head watch while it backs off
        self.errors += 1
        self.last_error = error
        if not quiet:  # the store away is said once by the round, not once per message
            log.warning("cannot settle %s yet (attempt %d): %s", m.id, failures, error)

    def _plain_failed(self, error: str, now: int, quiet: bool = False) -> None:
        """Every plain message backs off together (as `_failed`): they wait on the store alone."""
        self.plain_failures += 1
        self.plain_held = now + min(MAX_BACKOFF_MS, self.interval_ms * 2**self.plain_failures)
        self.errors += 1
        self.last_error = error
        if not quiet:
            log.warning("cannot settle plain messages yet (attempt %d): %s", self.plain_failures, error)

    def _forget(self, message_id: str) -> None:
        for table in (self.failures, self.held, self.polls):
            table.pop(message_id, None)
        if self.chain is not None:
            self.chain.forget(message_id)

    # -- checks -----------------------------------------------------------------------------------

    def _payments(self, messages: list[Message], now: int) -> dict[str, Outcome]:
        if not messages or self.chain is None:
            return {}
        try:
            return self.chain.check(messages, now)
        except Exception as exc:  # down, garbage the checks did not expect, or a bug: all of them back off
            return {m.id: Outcome(error=f"chain: {exc}") for m in messages}

    def _attested(self, messages: list[Message], now: int) -> dict[str, Outcome]:
        def ask(m: Message) -> tuple[str, Outcome]:
            try:
                return m.id, self.xmtp.check(m, now)
            except Exception as exc:  # as above, per message
                return m.id, Outcome(error=f"XMTP: {exc}")

        return dict(self.pool.imap_unordered(ask, messages))

    def _apply(
        self, due: list[Message], outcomes: dict[str, Outcome], chats: dict[str, int], now: int
    ) -> ApiError | None:
        """Write every change and every chat's confirmation at once (one group commit); a message that changed
        meanwhile waits for the next round."""
        changes = []
        confirms = [
            (chat_id, self.writes.spawn(self.store.confirm_through, chat_id, through))
            for chat_id, through in chats.items()
        ]
        for m in due:
            outcome = outcomes.get(m.id, WAIT)
            if outcome.error is not None:
                self._failed(m, outcome.error, now)
                continue
            self.failures.pop(m.id, None)
            self.held.pop(m.id, None)
            if outcome.fields is None:
                self._defer(m, self._next_check(m, now))
            else:  # a stored change schedules the message again by itself, if it is still provisional
                changes.append((m, self.writes.spawn(self.store.change, m.id, _unless_changed(m, outcome.fields))))
        gevent.joinall([greenlet for _, greenlet in changes + confirms])
        away: ApiError | None = None
        for m, greenlet in changes:
            if (exc := greenlet.exception) is None:
                continue
            if _not_found(exc):
                self._forget(m.id)  # erased meanwhile (its chat's last member left): nothing to settle
                continue
            if _store_away(exc):
                away = exc
            self._failed(m, f"settling could not be stored: {exc}", now, quiet=exc is away)
        refused = [exc for _, g in confirms if (exc := g.exception) is not None and not _not_found(exc)]
        if refused:  # the plain ones back off together, once (they wait on the store alone)
            away = away or next((exc for exc in refused if _store_away(exc)), None)
            self._plain_failed(f"settling could not be stored: {refused[0]}", now, quiet=_store_away(refused[0]))
        elif confirms:
            self.plain_failures = 0
        return away


def _store_away(exc: BaseException | None) -> TypeGuard[ApiError]:
    return isinstance(exc, ApiError) and exc.code == "unavailable"


def _not_found(exc: BaseException) -> bool:
    """Erased meanwhile (its chat's last member left): nothing to settle."""
    return isinstance(exc, ApiError) and exc.code == "not_found"


def _unless_changed(seen: Message, fields: dict[str, Any]) -> Any:
    """The change, applied only if the message is still as the verifier saw it (settled ones never change); of a
    deleted one only what settling says (never text back)."""
    if seen.deleted:
        fields = {name: value for name, value in fields.items() if name in SETTLEMENT_FIELDS}
    return lambda current: fields if current.rev == seen.rev and current.status == "provisional" else None
