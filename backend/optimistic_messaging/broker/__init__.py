"""How commits reach every node's readers (fan-out, the reconciler): in one process, straight from the store; with
several nodes, through PostgreSQL's notifications. The store assigns the order; the broker is only a hint: readers
detect what they missed by rev and read it back from the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..store import Listener, Store

Resync = Callable[[], None]
"""Called when commits may have been missed (a lost connection, a start): readers read back what they hold."""


class Broker(Protocol):
    def subscribe(self, listener: Listener) -> None:
        """Hear of every commit of every node, each chat's in rev order as announced (gaps are possible)."""

    def on_resync(self, callback: Resync) -> None: ...

    def start(self) -> None: ...

    def close(self) -> None: ...

    def healthy(self) -> bool: ...


class LocalBroker:
    """One process: the store's own commits are all there are, announced in order and never missed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def subscribe(self, listener: Listener) -> None:
        self._store.subscribe(listener)

    def on_resync(self, callback: Resync) -> None:
        """Nothing is ever missed here."""

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def healthy() -> bool:
        return True
