"""Storage behind one interface: `open_store` picks the implementation the configuration asks for."""
from __future__ import annotations

from ..clock import Clock
from ..config import Config
from .base import ChatChanged, Commit, Listener, NewMessage, Store, Stored
from .jsonl import JsonlStore

__all__ = ["ChatChanged", "Commit", "Listener", "NewMessage", "Store", "Stored", "open_store"]


def open_store(config: Config, clock: Clock) -> Store:
    """The JSON-lines log at DATA_FILE."""
    return JsonlStore(config.data_file, fsync=config.fsync, clock=clock)
