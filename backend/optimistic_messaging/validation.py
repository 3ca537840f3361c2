"""Checks for every field that crosses the wire; each failure names the field."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from eth_utils import to_checksum_address

from .errors import ApiError
from .models import SETTINGS_FIELDS

CHAT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
XMTP_ID = re.compile(r"[A-Za-z0-9._:-]{1,256}")
MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}/[1-9][0-9]{0,15}")
DECIMAL = re.compile(r"(0|[1-9][0-9]{0,77})")


def obj(payload: Any, what: str = "payload") -> dict[str, Any]:
    """The payload must be a JSON object."""
    if not isinstance(payload, dict):
        raise ApiError("invalid", f"{what} must be a JSON object")
    return payload


def string(payload: dict[str, Any], name: str, pattern: re.Pattern[str], hint: str) -> str:
    """A required string field that must match `pattern`."""
    value = payload.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ApiError("invalid", f"'{name}' must be {hint}")
    return value


def chat_id(payload: dict[str, Any], name: str = "chat_id") -> str:
    return string(payload, name, CHAT_ID, "a chat id matching ^[A-Za-z0-9._:-]{1,128}$")


def client_id(payload: dict[str, Any]) -> str:
    return string(payload, "client_id", CLIENT_ID, "a string matching ^[A-Za-z0-9_-]{1,64}$")


@lru_cache(maxsize=65536)
def _checksum(value: str) -> str:
    return to_checksum_address(value)


def address(value: Any, name: str = "address") -> str:
    """Any case in, EIP-55 out; an invalid address is `invalid`."""
    if not isinstance(value, str) or not ADDRESS.fullmatch(value):
        raise ApiError("invalid", f"'{name}' must be a 0x-prefixed 20-byte hex address")
    return _checksum(value)


def addresses(payload: dict[str, Any], name: str = "members", limit: int = 1000) -> list[str]:
    """A list of addresses, de-duplicated in order."""
    value = payload.get(name)
    if not isinstance(value, list) or len(value) > limit:
        raise ApiError("invalid", f"'{name}' must be a list of at most {limit} addresses")
    return list(dict.fromkeys(address(item, name) for item in value))


def optional_int(payload: dict[str, Any], name: str, low: int = 0, high: int = 2**53) -> int | None:
    """An optional integer within [low, high]; booleans are not integers here."""
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError("invalid", f"'{name}' must be an integer from {low} to {high}")
    return value


def optional_message_id(payload: dict[str, Any], name: str) -> str | None:
    """An optional message id, as the server gave it."""
    if payload.get(name) is None:
        return None
    return string(payload, name, MESSAGE_ID, "a message id as the server gave it, or null")


def optional_bool(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name, False)
    if not isinstance(value, bool):
        raise ApiError("invalid", f"'{name}' must be true or false")
    return value


def body(payload: dict[str, Any], max_chars: int) -> str:
    """Message text: 1..max_chars characters; longer is `too_large`."""
    value = payload.get("body")
    if not isinstance(value, str) or not value:
        raise ApiError("invalid", "'body' must be a non-empty string")
    if len(value) > max_chars:
        raise ApiError("too_large", f"'body' is over the limit of {max_chars} characters")
    if "\x00" in value:
        raise ApiError("invalid", "'body' must not contain U+0000 (NUL)")
    return value


def title(payload: dict[str, Any]) -> str | None:
    value = payload.get("title")
    if value is not None and (not isinstance(value, str) or len(value) > 200 or "\x00" in value):
        raise ApiError("invalid", "'title' must be a string of at most 200 characters, without U+0000 (NUL)")
    return value


def xmtp_id(payload: dict[str, Any]) -> str:
    return string(payload, "xmtp_id", XMTP_ID, "a string matching ^[A-Za-z0-9._:-]{1,256}$")


def optional_xmtp_id(payload: dict[str, Any]) -> str | None:
    return None if payload.get("xmtp_id") is None else xmtp_id(payload)


def tx(payload: dict[str, Any], chain_id: int) -> dict[str, Any] | None:
    """A payment claim: chain, hash, recipient, amount in base units, optional ERC-20 token."""
    value = payload.get("tx")
    if value is None:
        return None
    value = obj(value, "'tx'")
    claimed_chain = value.get("chain_id")
    if isinstance(claimed_chain, bool) or not isinstance(claimed_chain, int):
        raise ApiError("invalid", "'tx.chain_id' must be an integer")
    if claimed_chain != chain_id:
        raise ApiError("invalid", f"'tx.chain_id' {claimed_chain} is not this server's chain {chain_id}")
    tx_hash = value.get("hash")
    if not isinstance(tx_hash, str) or not TX_HASH.fullmatch(tx_hash):
        raise ApiError("invalid", "'tx.hash' must be 0x followed by 64 hex characters")
    amount = value.get("value")
    if not isinstance(amount, str) or not DECIMAL.fullmatch(amount):
        raise ApiError("invalid", "'tx.value' must be a decimal string of base units")
    token = value.get("token")
    return {
        "chain_id": claimed_chain,
        "hash": tx_hash.lower(),
        "to": address(value.get("to"), "tx.to"),
        "value": amount,
        "token": None if token is None else address(token, "tx.token"),
    }


def settings(payload: dict[str, Any]) -> dict[str, bool]:
    """The settings a PUT names: known fields only, each a boolean."""
    unknown = sorted(set(payload) - set(SETTINGS_FIELDS))
    if unknown:
        raise ApiError("invalid", f"unknown setting {unknown[0][:64]!r}; the settings are {', '.join(SETTINGS_FIELDS)}")
    for name, value in payload.items():
        if not isinstance(value, bool):
            raise ApiError("invalid", f"'{name}' must be true or false")
    return dict(payload)


FEATURES = frozenset({"chat:confirmed"})  # the extensions a socket may opt into (docs/protocol.md)
_SHARED_FEATURES: dict[frozenset[str], frozenset[str]] = {}  # one set per choice (2^len(FEATURES)), not per socket


def features(auth: dict[str, Any]) -> frozenset[str]:
    """The extensions a socket opts into in its connect `auth`: a list of names, unknown ones ignored (a client may
    ask for more than this server has)."""
    value = auth.get("features", [])
    if not isinstance(value, list) or len(value) > 32 or not all(isinstance(name, str) for name in value):
        raise ApiError("invalid", "'features' must be a list of at most 32 extension names")
    chosen = FEATURES.intersection(value)
    return _SHARED_FEATURES.setdefault(chosen, chosen)
