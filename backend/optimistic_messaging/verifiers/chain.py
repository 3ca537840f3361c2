"""The chain: payment claims checked against finalized, canonical receipts over JSON-RPC (web3.py)."""

from __future__ import annotations

import logging
from typing import Any

from eth_utils import to_checksum_address

from ..models import Message
from . import WAIT, Outcome, VerifierDown
from .rpc import JsonRpc, RpcError, quantity, result

log = logging.getLogger(__name__)


def _address(value: Any) -> str | None:
    return None if value is None else to_checksum_address(value)


TRANSFER_TOPIC = (
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"  # Transfer(address,address,uint256)
)


class ChainVerifier:
    """Settles messages with a `tx` once the chain has finalized (and still holds) their transaction."""

    def __init__(self, rpc_url: str, confirmations: int, tx_timeout_ms: int, timeout_s: float = 5.0) -> None:
        self.rpc = JsonRpc(rpc_url, timeout_s)
        self.confirmations = confirmations
        self.tx_timeout_ms = tx_timeout_ms
        self.has_finalized_tag = True
        # message id -> (block, receipt, transaction) seen while not final: the settling round only re-checks the hash
        self.waiting_for: dict[str, tuple[int, dict[str, Any], dict[str, Any]]] = {}

    def final_head(self) -> int:
        """The highest block that counts as final: the `finalized` tag, or CONFIRMATIONS deep without one."""
        if self.has_finalized_tag:
            response = self._request("eth_getBlockByNumber", ["finalized", False])
            if isinstance(response, dict) and "error" in response:
                log.warning(
                    "node has no 'finalized' block tag (%s); counting %d confirmations instead",
                    response["error"],
                    self.confirmations,
                )
                self.has_finalized_tag = False
            else:
                block = result(response)
                if block is not None:
                    return quantity(block["number"])
                return -1
        return quantity(result(self._request("eth_blockNumber", []))) - self.confirmations + 1

    def check(self, messages: list[Message], now: int) -> dict[str, Outcome]:
        """One head call, then one batch of receipts and transactions, then one batch of canonical block hashes."""
        try:
            head = self.final_head()
        except (RpcError, KeyError, TypeError, ValueError) as exc:
            raise VerifierDown(f"chain head: {exc}") from None
        outcomes: dict[str, Outcome] = {}
        asked: list[Message] = []
        final: list[tuple[Message, dict[str, Any], dict[str, Any]]] = []
        for m in messages:
            seen = self.waiting_for.get(m.id)
            if seen is None:
                asked.append(m)
            elif seen[0] > head:
                outcomes[m.id] = WAIT  # its receipt is known and not final yet: nothing to ask
            else:
                final.append((m, seen[1], seen[2]))
        if asked:
            answers = self._batch(
                [
                    req
                    for m in asked
                    for req in (
                        ("eth_getTransactionReceipt", [_claim(m)["hash"]]),
                        ("eth_getTransactionByHash", [_claim(m)["hash"]]),
                    )
                ]
            )
            for i, m in enumerate(asked):
                try:
                    receipt, tx = result(answers[2 * i]), result(answers[2 * i + 1])
                    if receipt is None or tx is None:
                        outcomes[m.id] = self._missing(m, now)
                    elif quantity(receipt["blockNumber"]) > head:
                        self.waiting_for[m.id] = (quantity(receipt["blockNumber"]), receipt, tx)
                        outcomes[m.id] = WAIT
                    else:
                        final.append((m, receipt, tx))
                except (RpcError, KeyError, TypeError, ValueError) as exc:
                    outcomes[m.id] = Outcome(error=f"chain answer unusable: {exc}")
        outcomes.update(self._settle_final(final, now))
        return outcomes

    def became_final(self) -> bool:
        """Between rounds: has a block that waiting payments are in become final? One head call, only if any wait."""
        if not self.waiting_for:
            return False
        try:
            head = self.final_head()
        except (VerifierDown, RpcError, KeyError, TypeError, ValueError):
            return False
        return any(block <= head for block, _, _ in self.waiting_for.values())

    def waiting_on_block(self, message_id: str) -> bool:
        """Its receipt is known and waits for finality: checking it again costs nothing but the round's head call."""
        return message_id in self.waiting_for

    def forget(self, message_id: str) -> None:
        """Drop what was remembered about a message: settled, or backing off."""
        self.waiting_for.pop(message_id, None)

    def _settle_final(
        self, final: list[tuple[Message, dict[str, Any], dict[str, Any]]], now: int
    ) -> dict[str, Outcome]:
        """Only a receipt whose block is still the canonical one at its height settles (else: reorged, wait)."""
        if not final:
            return {}
        heights = sorted({receipt["blockNumber"] for _, receipt, _ in final})
        blocks = self._batch([("eth_getBlockByNumber", [h, False]) for h in heights])
        canonical = {}
        for height, answer in zip(heights, blocks, strict=True):
            try:
                block = result(answer)
                canonical[height] = block.get("hash") if isinstance(block, dict) else None
            except RpcError:
                canonical[height] = None
        outcomes = {}
        for m, receipt, tx in final:
            self.waiting_for.pop(m.id, None)  # settled, or reorged away: either way ask afresh if it comes back
            block_hash = receipt.get("blockHash")
            if block_hash is None or canonical.get(receipt["blockNumber"]) != block_hash:
                outcomes[m.id] = self._missing(m, now)
                continue
            try:
                outcomes[m.id] = self.judge(m, receipt, tx)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                outcomes[m.id] = Outcome(error=f"chain answer unusable: {exc}")
        return outcomes

    def _missing(self, m: Message, now: int) -> Outcome:
        """No (canonical) receipt: wait, until TX_TIMEOUT_S after it was sent (a reorg does not restart that)."""
        if now - m.sent_at >= self.tx_timeout_ms:
            return Outcome({"status": "retracted", "source": "chain", "reason": "dropped"})
        return WAIT

    @staticmethod
    def judge(m: Message, receipt: dict[str, Any], tx: dict[str, Any]) -> Outcome:
        """A final, canonical transaction against the claim: confirmed, corrected, or retracted."""
        if quantity(receipt["status"]) != 1:
            return Outcome({"status": "retracted", "source": "chain", "reason": "reverted"})
        if to_checksum_address(tx["from"]) != m.sender:
            return Outcome({"status": "retracted", "source": "chain", "reason": "not_sender"})
        claim = _claim(m)
        actual = _payment(receipt, tx, m.sender, claim.get("token"))
        for field, reason in (("token", "token_mismatch"), ("to", "recipient_mismatch"), ("value", "amount_mismatch")):
            if actual[field] != claim[field]:
                return Outcome(
                    {
                        "status": "corrected",
                        "source": "chain",
                        "reason": reason,
                        "tx": {**claim, **actual},
                        "original": {"body": m.body, "tx": claim},
                    }
                )
        return Outcome({"status": "confirmed", "source": "chain"})

    @property
    def calls(self) -> int:
        """JSON-RPC requests sent (a batch counts once): the benchmark reports it per round."""
        return self.rpc.calls

    def _request(self, method: str, params: list[Any]) -> Any:
        return self.rpc.request(method, params)

    def _batch(self, requests: list[tuple[str, list[Any]]]) -> list[Any]:
        return self.rpc.batch(requests)


def _claim(m: Message) -> dict[str, Any]:
    """The payment a message claims (only payments are checked against the chain)."""
    if m.tx is None:
        raise ValueError(f"{m.id} claims no payment")
    return m.tx


def _payment(receipt: dict[str, Any], tx: dict[str, Any], sender: str, claimed_token: str | None) -> dict[str, Any]:
    """What the transaction paid: an ERC-20 Transfer from the sender (the claimed token's first), else native value."""
    transfers = [
        log_
        for log_ in receipt.get("logs") or []
        if len(log_.get("topics") or []) == 3
        and log_["topics"][0].lower() == TRANSFER_TOPIC
        and _address("0x" + log_["topics"][1][-40:]) == sender
    ]
    transfers.sort(key=lambda log_: _address(log_["address"]) != claimed_token)
    if transfers:
        t = transfers[0]
        return {
            "token": _address(t["address"]),
            "to": _address("0x" + t["topics"][2][-40:]),
            "value": str(int(t["data"], 16)),
        }
    return {"token": None, "to": _address(tx.get("to")), "value": str(quantity(tx["value"]))}
