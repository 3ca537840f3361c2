"""Storage behind one interface: `open_store` picks the implementation the configuration asks for."""
from __future__ import annotations

from ..config import Config
from .base import NewMessage, Store
from .jsonl import JsonlStore

__all__ = ["NewMessage", "Store", "open_store"]


def open_store(config: Config) -> Store:
    """The JSON-lines log at DATA_FILE (the only store so far; PostgreSQL comes with scale-out)."""
    return JsonlStore(config.data_file, fsync=config.fsync)
