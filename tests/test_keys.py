"""KeyIndex on its own: every location of a key comes back, oldest first, from a bucket shared with many others."""

from __future__ import annotations

import pytest

from optimistic_messaging.store import keys
from optimistic_messaging.store.keys import KeyIndex


@pytest.mark.parametrize("buckets", [1, keys.BUCKETS])
def test_each_key_finds_its_own_locations_oldest_first_and_no_other(monkeypatch, buckets):
    monkeypatch.setattr(keys, "BUCKETS", buckets)  # 1: every entry in one bucket, scanned past all the others
    index = KeyIndex()
    for n in range(2000):
        index.add(f"0x{n % 7}", f"client-{n}", n << 32 | n)
    index.add("0x1", "client-1", 99)  # the same key again (a chat erased and registered anew): both come back
    assert index.get("0x1", "client-1") == [1 << 32 | 1, 99]
    assert index.get("0x4", "client-1999") == [1999 << 32 | 1999]
    assert index.get("0x2", "client-1") == [] and index.get("0x1", "never") == []


def test_a_location_whose_bytes_spell_a_keys_hash_is_not_taken_for_it(monkeypatch):
    monkeypatch.setattr(keys, "BUCKETS", 1)
    index = KeyIndex()
    hashed = hash(("0xa", "c"))
    index.add("0xb", "other", hashed)  # its location is, byte for byte, the hash of ("0xa", "c"), in the same bucket
    index.add("0xa", "c", 7)
    assert index.get("0xa", "c") == [7]
