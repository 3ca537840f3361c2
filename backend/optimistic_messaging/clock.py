"""Time, passed in: the server reads the clock through one object, so tests can hold it still or move it on."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock time, Unix epoch milliseconds (the contract's only time unit)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back: for intervals, deadlines and rates."""


class SystemClock:
    """The real clock."""

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    @staticmethod
    def monotonic() -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()
