"""One JSON-RPC endpoint (an EVM node): the chain verifier and sign-in by transaction both ask it."""

from __future__ import annotations

from typing import Any

import orjson
from web3 import HTTPProvider

from . import VerifierDown


class RpcError(Exception):
    """One JSON-RPC answer was an error or not what the method returns."""


def result(response: Any) -> Any:
    """The `result` of one answer, or RpcError."""
    if not isinstance(response, dict) or "error" in response or "result" not in response:
        raise RpcError(f"bad JSON-RPC answer: {str(response)[:200]}")
    return response["result"]


def quantity(value: Any) -> int:
    """A hex QUANTITY as an int, or RpcError."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError(f"not a hex quantity: {value!r}")
    return int(value, 16)


class _Provider(HTTPProvider):
    """web3's HTTP provider, reading answers with orjson: its nesting limit keeps a node's deeply nested answer from
    exhausting the stack (the json module recurses, and py_ecc, which web3 imports, lifts Python's recursion limit)."""

    @staticmethod
    def decode_rpc_response(raw_response: bytes) -> Any:
        return orjson.loads(raw_response)


class JsonRpc:
    """Requests and batches; a node that is down or answers garbage raises VerifierDown. Counts what it sends."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self._provider = _Provider(url, request_kwargs={"timeout": timeout_s})
        self.calls = 0  # JSON-RPC requests sent (a batch counts once)

    def request(self, method: str, params: list[Any]) -> Any:
        """The raw answer (a dict with `result` or `error`)."""
        self.calls += 1
        try:
            return self._provider.make_request(method, params)
        except Exception as exc:  # web3 raises many kinds for a node that is down or answers garbage
            raise VerifierDown(f"{method}: {type(exc).__name__}: {exc}") from None

    def call(self, method: str, params: list[Any]) -> Any:
        """The `result` of one request, or RpcError / VerifierDown."""
        return result(self.request(method, params))

    def batch(self, requests: list[tuple[str, list[Any]]]) -> list[Any]:
        """The raw answers, in the order asked."""
        self.calls += 1
        try:
            answers = self._provider.make_batch_request(requests)  # type: ignore[arg-type]
        except Exception as exc:  # as above
            raise VerifierDown(f"batch of {len(requests)}: {type(exc).__name__}: {exc}") from None
        if not isinstance(answers, list) or len(answers) != len(requests):
            raise VerifierDown(f"batch of {len(requests)} answered with {str(answers)[:200]}")
        return answers
