"""The reconciler: settles every provisional message against its source of truth, in the background."""
from __future__ import annotations

import heapq
import logging
import time
from typing import Any

import gevent
from gevent.pool import Pool

from .config import Config
from .models import Message, now_ms
from .store import Store
from .verifiers import WAIT, Outcome, VerifierDown
from .verifiers.chain import ChainVerifier
from .verifiers.xmtp import XmtpVerifier

log = logging.getLogger(__name__)

MAX_BACKOFF_MS = 60_000
HEAD_WATCH_S = 0.25  # between rounds, while payments wait on a known block: how often to look at the final head


class Reconciler:
    """Each round: the provisional messages that are due, oldest first, to the chain, to XMTP, or to the fallback clock.

    What is due comes from a schedule, not from a scan of every provisional message: each message is put on it when
    it is stored or changes (the store tells every listener), so a round costs what is due, not what is waiting.
    """

    def __init__(self, config: Config, store: Store) -> None:
        self.store = store
        self.interval_s = config.reconcile_interval_s
        self.grace_ms = config.xmtp_grace_s * 1000
        self.chain = (ChainVerifier(config.chain_rpc_url, config.confirmations, config.tx_timeout_s * 1000)
                      if config.chain_rpc_url else None)
        self.xmtp = XmtpVerifier(config.xmtp_gateway_url, self.grace_ms)
        self.pool = Pool(16)  # XMTP gateway look-ups in flight at once
        # (not before ms, message id, its rev then): an entry for an older rev is stale, the newer one stands for it
        self.schedule: list[tuple[int, str, int]] = []
        self.failures: dict[str, int] = {}  # message id -> errors in a row (backoff)
        self.rounds = 0
        self.errors = 0  # checks that failed (source of truth down or answering garbage), ever
        self.last_error: str | None = None
        store.subscribe(self._noticed)
        self._noticed([("message", m) for m in store.provisional()])  # what a restart finds still provisional

    def run(self) -> None:
        """Forever, one round per RECONCILE_INTERVAL_S; a failing round is logged and the next one comes.

        While payments wait on a known block, the final head is watched in between, and the next round starts
        as soon as that block is final: settlement follows finality closely, not the round clock.
        """
        while True:
            started = time.monotonic()
            try:
                self.round()
            except Exception:
                log.exception("reconcile round failed")
            self.rounds += 1
            next_round = started + self.interval_s
            while (left := next_round - time.monotonic()) > 0:
                gevent.sleep(min(left, HEAD_WATCH_S))
                if self.chain is not None and time.monotonic() < next_round and self.chain.became_final():
                    break

    def status(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "provisional": self.store.provisional_count(),
                "chain": "configured" if self.chain else "not configured",
                "rpc_calls": self.chain.calls if self.chain else 0,
                "xmtp": "gateway" if self.xmtp.gateway_url else "attestation",
                "errors": self.errors, "last_error": self.last_error}

    def _noticed(self, records: list[tuple[str, Any]]) -> None:
        """Store listener: a message stored or changed is (re)scheduled while provisional, forgotten once settled."""
        for _, m in records:
            if not isinstance(m, Message):
                continue
            if m.status == "provisional":
                self._defer(m, self._next_check(m, 0))
            else:
                self.failures.pop(m.id, None)
                if self.chain is not None:
                    self.chain.forget(m.id)

    def _next_check(self, m: Message, now: int) -> int:
        """A payment or an XMTP copy: ask its source of truth again next round; else: when the grace is over."""
        return now if m.tx or m.xmtp_id else m.sent_at + self.grace_ms

    def _defer(self, m: Message, until_ms: int) -> None:
        heapq.heappush(self.schedule, (until_ms, m.id, m.rev))

    def _take_due(self, now: int) -> list[Message]:
        """The provisional messages due now, each once, in their current state, oldest first."""
        due: dict[str, Message] = {}
        while self.schedule and self.schedule[0][0] <= now:
            _, message_id, rev = heapq.heappop(self.schedule)
            m = self.store.message(message_id)
            if m is not None and m.status == "provisional" and m.rev == rev:
                due[message_id] = m
        return sorted(due.values(), key=lambda m: (m.sent_at, m.chat_id, m.seq))

    def round(self) -> None:
        now = now_ms()
        due = self._take_due(now)
        outcomes = {**self._payments([m for m in due if m.tx], now),
                    **self._attested([m for m in due if not m.tx and m.xmtp_id], now),
                    **self._plain([m for m in due if not m.tx and not m.xmtp_id], now)}
        self._apply(due, outcomes, now)

    def _payments(self, messages: list[Message], now: int) -> dict[str, Outcome]:
        if not messages or self.chain is None:
            return {}  # without CHAIN_RPC_URL a payment claim cannot be settled: it stays provisional
        try:
            return self.chain.check(messages, now)
        except VerifierDown as exc:
            return {m.id: Outcome(error=str(exc)) for m in messages}

    def _attested(self, messages: list[Message], now: int) -> dict[str, Outcome]:
        def ask(m: Message) -> tuple[str, Outcome]:
            try:
                return m.id, self.xmtp.check(m, now)
            except VerifierDown as exc:
                return m.id, Outcome(error=str(exc))

        return dict(self.pool.imap_unordered(ask, messages))

    def _plain(self, messages: list[Message], now: int) -> dict[str, Outcome]:
        """Neither a payment nor an XMTP copy: confirmed by the fallback once XMTP_GRACE_S has passed."""
        return {m.id: Outcome({"status": "confirmed", "source": "fallback"})
                for m in messages if now - m.sent_at >= self.grace_ms}

    def _apply(self, due: list[Message], outcomes: dict[str, Outcome], now: int) -> None:
        """Write every change at once (one group commit); a message that changed meanwhile waits for the next round."""
        changes = []
        for m in due:
            outcome = outcomes.get(m.id, WAIT)
            if outcome.fields is None and outcome.error is None:  # not final, not on XMTP, or in its grace yet
                self.failures.pop(m.id, None)
                self._defer(m, self._next_check(m, now))
            elif outcome.error is not None:
                failures = self.failures[m.id] = self.failures.get(m.id, 0) + 1
                self._defer(m, now + min(MAX_BACKOFF_MS, int(self.interval_s * 1000) * 2 ** failures))
                self.errors += 1
                self.last_error = outcome.error
                log.warning("cannot settle %s yet (attempt %d): %s", m.id, failures, outcome.error)
            else:
                self.failures.pop(m.id, None)
                changes.append((m, gevent.spawn(self.store.change, m.id, _unless_changed(m, outcome.fields))))
        gevent.joinall([greenlet for _, greenlet in changes])
        for m, greenlet in changes:  # a stored change reschedules the message by itself; a failed one must be retried
            if greenlet.exception is not None:
                log.warning("settling %s failed, will retry: %s", m.id, greenlet.exception)
                self._defer(m, now + int(self.interval_s * 1000))


def _unless_changed(seen: Message, fields: dict[str, Any]) -> Any:
    """The change, applied only if the message is still as the verifier saw it (settled ones never change)."""
    return lambda current: fields if current.rev == seen.rev and current.status == "provisional" else None
