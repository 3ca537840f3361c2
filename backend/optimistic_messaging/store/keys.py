"""Where each (sender, client_id) message is, in 16 bytes an entry: idempotency without every key in memory."""

from __future__ import annotations

from struct import Struct

BUCKETS = 4096  # a lookup scans one bucket's entries with bytes.find: a few KB at ten million entries
ENTRY = Struct("<qq")  # the key's hash, then its location: one bytearray per bucket, one object touched per add


class KeyIndex:
    """(sender, client_id) -> locations (a chat's number and a seq), never removed from: a caller checks the message at
    a location really has the key (a hash collision, or a chat erased since), and a log rewrite builds a fresh index.
    The hash is this process's (the index is rebuilt at every start, so a per-process seed is fine)."""

    def __init__(self) -> None:
        self._entries = [bytearray() for _ in range(BUCKETS)]

    def add(self, sender: str, client_id: str, location: int) -> None:
        hashed = hash((sender, client_id))
        self._entries[hashed % BUCKETS] += ENTRY.pack(hashed, location)

    def get(self, sender: str, client_id: str) -> list[int]:
        """Every location added with this key's hash, oldest first (a list: nearly always empty, so no generator)."""
        hashed = hash((sender, client_id))
        entries, needle = self._entries[hashed % BUCKETS], hashed.to_bytes(8, "little", signed=True)
        found: list[int] = []
        at = entries.find(needle)
        while at >= 0:
            if at % ENTRY.size == 0:
                found.append(ENTRY.unpack_from(entries, at)[1])
                at = entries.find(needle, at + ENTRY.size)
            else:  # the bytes straddle two entries, or are a location's
                at = entries.find(needle, at + 1)
        return found
