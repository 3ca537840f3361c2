"""Farcaster's limits per notification token: one per 30 s (what comes inside waits, counted), 100 a day."""

from __future__ import annotations

from dataclasses import dataclass, replace

WINDOW_S = 30.0
PER_DAY = 100
DAY_S = 86400


@dataclass(frozen=True, slots=True)
class Notice:
    """What one notification says: the latest message, and how many it stands for (itself included)."""

    message_id: str
    chat_id: str
    title: str
    text: str | None  # None: previews are off, the body says only how many
    count: int = 1


@dataclass(slots=True)
class _Token:
    next_at: float = 0.0  # when the window ends
    waiting: Notice | None = None
    day: int = -1
    sent_today: int = 0


class Pacer:
    """Per token: a notice goes now, waits for the window's end, or (the day's budget spent) is dropped."""

    def __init__(self) -> None:
        self.tokens: dict[str, _Token] = {}

    def offer(self, token: str, notice: Notice, now: float) -> Notice | None:
        """The notice to send now, or None: it waits (merged into the one already waiting) or the day is spent."""
        state = self.tokens.setdefault(token, _Token())
        if state.waiting is not None:
            notice = replace(notice, count=state.waiting.count + notice.count)
        if now < state.next_at:
            state.waiting = notice
            return None
        state.waiting = None
        return notice if self._spend(state, now) else None

    def due(self, now: float) -> list[tuple[str, Notice]]:
        """The waiting notices whose window has ended, each now counted as sent."""
        ready = []
        for token, state in self.tokens.items():
            if state.waiting is not None and now >= state.next_at:
                notice, state.waiting = state.waiting, None
                if self._spend(state, now):
                    ready.append((token, notice))
        return ready

    def retry(self, token: str, notice: Notice, after_s: float, now: float) -> None:
        """A notice the client refused for its rate: it waits again (merging anything newer) and does not count."""
        state = self.tokens.setdefault(token, _Token())
        state.sent_today = max(0, state.sent_today - 1)
        state.next_at = max(state.next_at, now + after_s)
        newer = state.waiting
        state.waiting = replace(newer, count=newer.count + notice.count) if newer else notice

    def forget(self, token: str) -> None:
        self.tokens.pop(token, None)

    @staticmethod
    def _spend(state: _Token, now: float) -> bool:
        day = int(now // DAY_S)
        if day != state.day:
            state.day, state.sent_today = day, 0
        if state.sent_today >= PER_DAY:
            return False
        state.sent_today += 1
        state.next_at = now + WINDOW_S
        return True
