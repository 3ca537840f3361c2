"""Sign-in by transaction, for wallets that cannot sign messages (MiniPay): the wallet sends a zero-value transaction
to itself whose data names the domain and a nonce; the transaction's signature, which the node checked, proves the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.lock import BoundedSemaphore

from ..clock import Clock
from ..errors import ApiError
from ..verifiers import VerifierDown
from ..verifiers.rpc import JsonRpc, RpcError, quantity

PREFIX = "optimistic-messaging sign-in "
_DATA = re.compile(r"optimistic-messaging sign-in (\S+) (\S+)")
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
MAX_DATA_BYTES = 512


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
    """Reads a transaction from CHAIN_RPC_URL, waiting up to `wait_s` for the node to know it; at most `max_waiting`
    look-ups wait at once, so unknown hashes cannot tie up the server's greenlets or the node."""

    def __init__(
        self, rpc: JsonRpc, clock: Clock, wait_s: float = 30.0, poll_s: float = 0.5, max_waiting: int = 64
    ) -> None:
        self.rpc = rpc
        self.clock = clock
        self.wait_s = wait_s
        self.poll_s = poll_s
        self._slots = BoundedSemaphore(max_waiting)

    def fetch(self, tx_hash: str) -> SignInTx:
        if not self._slots.acquire(blocking=False):
            raise ApiError(
                "rate_limited",
                "too many sign-ins by transaction are waiting for the node; retry soon",
                retry_after_ms=int(self.poll_s * 1000),
            )
        try:
            deadline = self.clock.monotonic() + self.wait_s
            while True:
                tx = self._ask(tx_hash)
                if tx is not None:
                    return _read(tx)
                if self.clock.monotonic() >= deadline:
                    raise ApiError(
                        "unauthorized",
                        f"transaction {tx_hash} is not known to the chain's node (waited {self.wait_s:g} s)",
                    )
                gevent.sleep(self.poll_s)
        finally:
            self._slots.release()

    def _ask(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            tx = self.rpc.call("eth_getTransactionByHash", [tx_hash])
        except (VerifierDown, RpcError) as exc:
            raise ApiError("unavailable", f"the chain's node could not be asked for the transaction: {exc}") from None
        if tx is not None and not isinstance(tx, dict):
            raise ApiError("unavailable", "the chain's node answered something that is not a transaction")
        return tx


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
