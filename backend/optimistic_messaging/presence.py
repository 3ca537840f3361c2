"""Who is in which chat right now: sockets per address (presence) and expiring typing flags."""
from __future__ import annotations

from .clock import Clock

TYPING_TTL_S = 5.0


class Presence:
    """Counts joined sockets per address per chat; only the first join and the last leave are news."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sockets: dict[str, dict[str, set[str]]] = {}  # chat id -> address -> sids
        self._typing: dict[tuple[str, str], float] = {}  # (chat id, address) -> monotonic deadline

    def join(self, chat_id: str, address: str, sid: str) -> bool:
        """Add a socket; True when it is the address's first in the chat (it came online)."""
        sids = self._sockets.setdefault(chat_id, {}).setdefault(address, set())
        if sid in sids:
            return False
        sids.add(sid)
        return len(sids) == 1

    def leave(self, chat_id: str, address: str, sid: str) -> bool:
        """Remove a socket; True when it was the address's last in the chat (it went offline)."""
        by_address = self._sockets.get(chat_id, {})
        sids = by_address.get(address)
        if sids is None or sid not in sids:
            return False
        sids.discard(sid)
        if sids:
            return False
        del by_address[address]
        if not by_address:
            del self._sockets[chat_id]
        return True

    def online(self, chat_id: str) -> list[str]:
        return sorted(self._sockets.get(chat_id, {}))

    def sids(self, chat_id: str, address: str) -> list[str]:
        return list(self._sockets.get(chat_id, {}).get(address, ()))

    def typing(self, chat_id: str, address: str, typing: bool) -> bool:
        """Record a typing flag; True when others need to hear of it (every renewal, or a stop while on)."""
        key = (chat_id, address)
        if typing:
            self._typing[key] = self._clock.monotonic() + TYPING_TTL_S
            return True
        return self._typing.pop(key, None) is not None

    def expired_typing(self) -> list[tuple[str, str]]:
        """Typing flags not renewed within TYPING_TTL_S, removed as they are returned."""
        now = self._clock.monotonic()
        expired = [key for key, deadline in self._typing.items() if deadline <= now]
        for key in expired:
            del self._typing[key]
        return expired
