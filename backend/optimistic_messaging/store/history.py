"""Records read back from the JSON-lines log by offset: history past each chat's recent window lives only on disk."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson

from ..models import Message

FIELDS = tuple(f.name for f in fields(Message))  # in the order orjson writes a Message's
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
        """The messages whose current records start at these offsets, in the same order."""
        return [decode_message(orjson.loads(line)["m"]) for line in self.lines(offsets)]

    def lines(self, offsets: Sequence[int]) -> list[bytes]:
        """The records that start at these offsets, without their newlines, in the same order: neighbours in one
        read."""
        if not offsets:
            return []
        found: dict[int, bytes] = {}
        ordered = sorted(set(offsets))
        start = 0
        while start < len(ordered):
            end = start + 1
            while end < len(ordered) and ordered[end] - ordered[start] <= SPAN:
                end += 1
            low = ordered[start]
            data = os.pread(self._fd, ordered[end - 1] - low + GUESS, low)
            for at in ordered[start:end]:
                stop = data.find(b"\n", at - low)
                found[at] = data[at - low : stop] if stop >= 0 else self._one(at)
            start = end
        return [found[at] for at in offsets]

    def _one(self, at: int) -> bytes:
        """One record longer than what a read brought along with it."""
        size = GUESS
        while True:
            data = os.pread(self._fd, size, at)
            stop = data.find(b"\n")
            if stop >= 0:
                return data[:stop]
            if len(data) < size:
                raise OSError(f"the record at offset {at} of the log has no end")
            size *= 4


def decode_message(data: dict[str, Any]) -> Message:
    """A Message from its JSON object: by position when it holds every field in order, as this store writes them (under
    half the cost of keywords, and replay makes a million), else by name (a record from before a field was added)."""
    return Message(*data.values()) if tuple(data) == FIELDS else Message(**data)
