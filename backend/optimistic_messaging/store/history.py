"""Messages read back from the JSON-lines log by offset: history past each chat's recent window lives only on disk."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import orjson

from ..models import Message

GUESS = 4096  # bytes read for one record at first; a longer one is read again, whole
SPAN = 256 * 1024  # records this close together come in one read


class History:
    """A read-only descriptor on the log; the offsets come from the store's index, so every one starts a record."""

    def __init__(self) -> None:
        self._fd = -1

    def open(self, path: Path) -> None:
        """Read from the file at `path` from now on (after a rewrite, the new log)."""
        fd = os.open(path, os.O_RDONLY)
        self.close()
        self._fd = fd

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def read(self, offsets: Sequence[int]) -> list[Message]:
        """The messages whose current records start at these offsets, in the same order: neighbours in one read."""
        if not offsets:
            return []
        found: dict[int, Message] = {}
        ordered = sorted(set(offsets))
        start = 0
        while start < len(ordered):
            end = start + 1
            while end < len(ordered) and ordered[end] - ordered[start] <= SPAN:
                end += 1
            low = ordered[start]
            data = os.pread(self._fd, ordered[end - 1] - low + GUESS, low)
            view = memoryview(data)
            for at in ordered[start:end]:
                stop = data.find(b"\n", at - low)
                found[at] = _decode(view[at - low : stop]) if stop >= 0 else self._one(at)
            start = end
        return [found[at] for at in offsets]

    def _one(self, at: int) -> Message:
        """One record longer than what a read brought along with it."""
        size = GUESS
        while True:
            data = os.pread(self._fd, size, at)
            stop = data.find(b"\n")
            if stop >= 0:
                return _decode(memoryview(data)[:stop])
            if len(data) < size:
                raise OSError(f"the record at offset {at} of the log has no end")
            size *= 4


def _decode(line: memoryview) -> Message:
    """A "message" or "update" record's message (the store wrote it: a bad one is damage, and raises)."""
    return Message(**orjson.loads(line)["m"])
