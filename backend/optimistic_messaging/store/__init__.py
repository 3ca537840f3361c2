"""Storage behind one interface: the JSON-lines log (store/jsonl.py) or PostgreSQL (store/postgres/)."""

from __future__ import annotations

from .base import ChatChanged, Commit, Confirmed, Listener, NewMessage, Pending, Revoked, Store, Stored, Unsettled

__all__ = [
    "ChatChanged",
    "Commit",
    "Confirmed",
    "Listener",
    "NewMessage",
    "Pending",
    "Revoked",
    "Store",
    "Stored",
    "Unsettled",
]
