"""Coalescing windows (PUSH_COALESCE_S per subscription and chat, Farcaster's 30 s per token) and daily budgets: per
key, the first item goes at once and opens a window; what comes inside it is kept, and goes as one at its end. Kept in
this process (`LocalWindows`), or shared by every node (coalesce/redis.py): a chat's messages committed on two nodes
still make one push per window, and the node that takes a window's items is the one that sends them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..clock import Clock


@dataclass(frozen=True, slots=True)
class Taken:
    """What `take` found: the window's items, oldest first (the next window then opened); or, the window not ended
    yet, how long it has left (`left_s` > 0); or neither, the window closed."""

    items: tuple[str, ...] = ()
    left_s: float = 0.0


class Windows(Protocol):
    def add(self, key: str, item: str, window_s: float) -> bool:
        """True when no window was open: one opens now, and the caller sends `item` at once (it is not kept). False:
        kept in the open window, for its end."""

    def keep(self, key: str, items: Sequence[str], window_s: float) -> None:
        """Keep `items` (older than any kept) for the window's end, opening one if none is: a retry, sent later."""

    def take(self, key: str, window_s: float) -> Taken:
        """At or after the window's end: its items, and the next window (of `window_s`) opens if there were any, else
        the window closes. Atomic: of nodes taking at once, one gets the items."""

    def close(self, key: str) -> None:
        """Close the window unless something was kept in it: after a take whose items all went, nothing was sent, so
        the next item goes at once."""

    def spend(self, key: str, limit: int, period_s: float) -> bool:
        """Spend one of `limit` per `period_s` (from the first spent); False when none is left."""


@dataclass(slots=True)
class _Window:
    until: float
    items: list[str] = field(default_factory=list)


class LocalWindows:
    """The windows in this process's memory; a window goes when taken empty, a budget when its period ends."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.windows: dict[str, _Window] = {}
        self.budgets: dict[str, tuple[int, float]] = {}  # key -> (spent, until)

    def add(self, key: str, item: str, window_s: float) -> bool:
        window = self.windows.get(key)
        now = self.clock.monotonic()
        if window is None or (now >= window.until and not window.items):
            self.windows[key] = _Window(now + window_s)
            return True
        window.items.append(item)
        return False

    def keep(self, key: str, items: Sequence[str], window_s: float) -> None:
        window = self.windows.setdefault(key, _Window(self.clock.monotonic() + window_s))
        window.items[:0] = items

    def take(self, key: str, window_s: float) -> Taken:
        window = self.windows.get(key)
        now = self.clock.monotonic()
        if window is None:
            return Taken()
        if now < window.until:
            return Taken(left_s=window.until - now)
        if not window.items:
            del self.windows[key]
            return Taken()
        self.windows[key] = _Window(now + window_s)
        return Taken(tuple(window.items))

    def close(self, key: str) -> None:
        window = self.windows.get(key)
        if window is not None and not window.items:
            del self.windows[key]

    def spend(self, key: str, limit: int, period_s: float) -> bool:
        now = self.clock.monotonic()
        if len(self.budgets) > 10_000:  # forget the budgets whose period ended, so memory follows the active
            self.budgets = {k: b for k, b in self.budgets.items() if b[1] > now}
        spent, until = self.budgets.get(key, (0, now + period_s))
        if now >= until:
            spent, until = 0, now + period_s
        if spent >= limit:
            return False
        self.budgets[key] = (spent + 1, until)
        return True
