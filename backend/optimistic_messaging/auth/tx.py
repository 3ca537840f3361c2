"""Sign-in by transaction, for wallets that cannot sign messages (MiniPay): the wallet sends a zero-value transaction
to itself whose data names the domain and a nonce; the transaction's signature, which the node checked, proves the key.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.event import AsyncResult, Event

from ..clock import Clock
from ..errors import ApiError
from ..verifiers import VerifierDown
from ..verifiers.rpc import JsonRpc, RpcError, quantity, result

PREFIX = "optimistic-messaging sign-in "
_DATA = re.compile(r"optimistic-messaging sign-in (\S+) (\S+)")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
MAX_DATA_BYTES = 512
BATCH = 256  # hashes per JSON-RPC batch: well under the batch limits public nodes set


@dataclass(frozen=True)
class SignInTx:
    """What a sign-in transaction says, read from the node."""

    sender: str
    to: str | None
    value: int
    chain_id: int | None
    text: str | None  # the data as UTF-8; None when it is not


def sign_in_text(domain: str, nonce: str) -> str:
    """The data a sign-in transaction carries, as UTF-8."""
    return f"{PREFIX}{domain} {nonce}"


def parse_text(text: str) -> tuple[str, str] | None:
    """(domain, nonce) of a sign-in text, or None when it is not one."""
    match = _DATA.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


class TxLookup:
    """Reads sign-in transactions from CHAIN_RPC_URL, waiting up to `wait_s` for the node to know them. One poller
    asks the node for a new hash at once (with the others new since its last request) and for every waiting hash in
    one batch per `poll_s`, one request at a time: thousands can wait (`max_waiting`) for the price of a few requests.
    A client (by its address) holds at most `per_client` of them, so no one can hold them all."""

    def __init__(
        self,
        rpc: JsonRpc,
        clock: Clock,
        wait_s: float = 30.0,
        poll_s: float = 0.5,
        max_waiting: int = 4096,
        per_client: int = 16,
    ) -> None:
        self.rpc = rpc
        self.clock = clock
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.max_waiting = max_waiting
        self.per_client = per_client
        self._waiting: dict[str, AsyncResult] = {}  # hash -> its answer, shared by everyone asking for it
        self._askers: Counter[str] = Counter()  # hash -> how many wait for it
        self._clients: Counter[str] = Counter()  # client -> how many look-ups it has waiting
        self._count = 0  # look-ups waiting, all clients together
        self._fresh: dict[str, None] = {}  # hashes not asked for yet, in arrival order
        self._wake = Event()  # set when a hash is new
        self._poller: gevent.Greenlet | None = None
        self._last_round = -math.inf
        self._closed = False

    def close(self) -> None:
        """The server is shutting down: the poller stops, and no look-up starts another."""
        self._closed = True
        if self._poller is not None:
            self._poller.kill()

    def fetch(self, tx_hash: str, client: str) -> SignInTx:
        """The transaction, once the node knows it; `client` (the asker's network address) spends one of its share
        while it waits."""
        if self._closed:
            raise _unavailable("the server is shutting down")
        if self._count >= self.max_waiting or self._clients[client] >= self.per_client:
            raise ApiError(
                "rate_limited",
                "too many sign-ins by transaction are waiting for the node; retry soon",
                retry_after_ms=int(self.poll_s * 1000),
            )
        if tx_hash not in self._waiting:
            self._waiting[tx_hash] = AsyncResult()
            self._fresh[tx_hash] = None
            self._wake.set()
        answer = self._waiting[tx_hash]
        self._askers[tx_hash] += 1
        self._clients[client] += 1
        self._count += 1
        if self._poller is None or self._poller.dead:
            self._poller = gevent.spawn(self._poll)
        try:
            answer.wait(self.wait_s)
            if not answer.ready():
                raise ApiError(
                    "unauthorized", f"transaction {tx_hash} is not known to the chain's node (waited {self.wait_s:g} s)"
                )
            return _read(answer.get())
        finally:
            self._count -= 1
            _drop(self._clients, client)
            if not _drop(self._askers, tx_hash) and self._waiting.get(tx_hash) is answer:
                del self._waiting[tx_hash]

    def _poll(self) -> None:
        """While anything waits: every waiting hash once per `poll_s`, and between those rounds the new ones as soon
        as the request before is answered (so a busy node sees one request at a time from here, never a flood)."""
        while self._waiting:
            now = self.clock.monotonic()
            if now >= self._last_round + self.poll_s:
                self._last_round = now
                self._fresh.clear()
                self._ask_all(list(self._waiting))
            elif self._fresh:
                fresh = [tx_hash for tx_hash in self._fresh if tx_hash in self._waiting]
                self._fresh.clear()
                self._ask_all(fresh)
            else:
                self._wake.clear()
                self._wake.wait(self._last_round + self.poll_s - now)

    def _ask_all(self, hashes: list[str]) -> None:
        for start in range(0, len(hashes), BATCH):
            self._ask(hashes[start : start + BATCH])

    def _ask(self, hashes: list[str]) -> None:
        """One batch: a known transaction answers its waiters; a node that cannot be asked answers `unavailable`."""
        try:
            answers = self.rpc.batch([("eth_getTransactionByHash", [h]) for h in hashes])
        except VerifierDown as exc:
            for tx_hash in hashes:
                self._settle(tx_hash, _unavailable(f"could not be asked for the transaction: {exc}"))
            return
        for tx_hash, raw in zip(hashes, answers, strict=True):
            try:
                tx = result(raw)
            except RpcError as exc:
                self._settle(tx_hash, _unavailable(f"could not be asked for the transaction: {exc}"))
                continue
            if isinstance(tx, dict):
                self._settle(tx_hash, tx)
            elif tx is not None:
                self._settle(tx_hash, _unavailable("answered something that is not a transaction"))

    def _settle(self, tx_hash: str, outcome: dict[str, Any] | ApiError) -> None:
        answer = self._waiting.pop(tx_hash, None)
        if answer is None:
            return  # its waiters gave up during the round
        if isinstance(outcome, ApiError):
            answer.set_exception(outcome)
        else:
            answer.set(outcome)


def _unavailable(why: str) -> ApiError:
    return ApiError("unavailable", f"the chain's node {why}")


def _drop(counts: Counter[str], key: str) -> int:
    """One fewer for `key`, forgetting it at zero (a counter per client must not grow with every client ever seen)."""
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]
        return 0
    return counts[key]


def _read(tx: dict[str, Any]) -> SignInTx:
    try:
        return SignInTx(
            tx["from"], tx.get("to"), quantity(tx["value"]), _chain_id(tx), _text(tx.get("input") or tx.get("data"))
        )
    except (KeyError, RpcError, TypeError, ValueError) as exc:
        raise ApiError("unavailable", f"the chain's node answered an unusable transaction: {exc}") from None


def _text(data: Any) -> str | None:
    """The data as UTF-8 text, or None when it is not hex, too long for a sign-in, or not UTF-8."""
    if not isinstance(data, str) or len(data) > 2 + 2 * MAX_DATA_BYTES or not _HEX.fullmatch(data):
        return None
    try:
        return bytes.fromhex(data[2:]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _chain_id(tx: dict[str, Any]) -> int | None:
    """The chain a transaction is signed for: its `chainId`, or EIP-155's `v` of a legacy one; None if unbound."""
    if tx.get("chainId") is not None:
        return quantity(tx["chainId"])
    v = quantity(tx["v"]) if tx.get("v") is not None else 0
    return (v - 35) // 2 if v >= 35 else None
