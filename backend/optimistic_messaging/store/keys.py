"""Where each (sender, client_id) message is, in about 18 bytes an entry: idempotency without every key in memory."""

from __future__ import annotations

from array import array

BUCKETS = 4096  # a lookup scans one bucket's hashes with bytes.find: a few KB at ten million entries


def key_hash(sender: str, client_id: str) -> int:
    """The key's 64-bit hash in this process (the index is rebuilt at every start, so a per-process seed is fine)."""
    return hash((sender, client_id))


class KeyIndex:
    """Hash -> location (a chat's number and a seq), never removed from: a caller checks the message at a location
    really has the key (a hash collision, or a chat erased since), and a log rewrite builds a fresh index."""

    def __init__(self) -> None:
        self._hashes = [bytearray() for _ in range(BUCKETS)]  # each entry 8 bytes, little-endian
        self._locations = [array("q") for _ in range(BUCKETS)]

    def add(self, hashed: int, location: int) -> None:
        bucket = hashed % BUCKETS
        self._hashes[bucket] += hashed.to_bytes(8, "little", signed=True)
        self._locations[bucket].append(location)

    def get(self, hashed: int) -> list[int]:
        """Every location added with this hash, oldest first (a list: nearly always empty, so no generator)."""
        bucket = hashed % BUCKETS
        hashes, needle = self._hashes[bucket], hashed.to_bytes(8, "little", signed=True)
        at = hashes.find(needle)
        found: list[int] = []
        while at >= 0:
            if at % 8 == 0:
                found.append(self._locations[bucket][at // 8])
                at = hashes.find(needle, at + 8)
            else:  # the bytes straddle two entries
                at = hashes.find(needle, at + 1)
        return found
