"""How many sockets one address may hold at once (MAX_SOCKETS_PER_ADDRESS): counted in this process
(`LocalSocketQuota`), or across every living node (quota/redis.py)."""

from __future__ import annotations

from typing import Protocol


class SocketQuota(Protocol):
    limit: int

    def acquire(self, address: str) -> bool:
        """Count one more socket of the address, unless it already holds `limit`."""

    def release(self, address: str) -> None: ...


class LocalSocketQuota:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        held = self._held.get(address, 0)
        if held >= self.limit:
            return False
        self._held[address] = held + 1
        return True

    def release(self, address: str) -> None:
        held = self._held.get(address, 0) - 1
        if held > 0:
            self._held[address] = held
        else:
            self._held.pop(address, None)
