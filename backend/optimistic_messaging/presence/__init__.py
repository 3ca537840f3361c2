"""Who is in which chat right now (presence), who is typing, and the signals that tell other sockets so.

`Presence` counts sockets per address per chat: only an address's first socket in and its last one out are news.
In one process that is all there is (`LocalPresence`); with several nodes an address is online while any node
holds a socket of it (presence/redis.py). `Signals` carries typing and presence events to every node's
sockets following the chat (`LocalSignals` here; presence/redis.py between nodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..clock import Clock

TYPING_TTL_S = 5.0

Deliver = Callable[[str, str, dict[str, Any], str], None]
"""(chat id, event, payload, address whose own sockets are skipped): to this node's sockets following the chat."""


class Presence(Protocol):
    def join(self, chat_id: str, address: str, sid: str) -> bool:
        """Add a socket; True when the address came online in the chat (its first socket anywhere)."""

    def leave(self, chat_id: str, address: str, sid: str) -> bool:
        """Remove a socket; True when the address went offline in the chat (its last socket anywhere)."""

    def online(self, chat_id: str) -> list[str]:
        """The addresses with a socket joined to the chat, sorted."""

    def sids(self, chat_id: str, address: str) -> list[str]:
        """The address's sockets on this node joined to the chat."""

    def typing(self, chat_id: str, address: str, typing: bool) -> bool:
        """Record a typing flag; True when others need to hear of it (every renewal, or a stop while on)."""

    def expired_typing(self) -> list[tuple[str, str]]:
        """Typing flags not renewed within TYPING_TTL_S, removed as they are returned."""


class Signals(Protocol):
    def send(self, chat_id: str, event: str, data: dict[str, Any], skip: str) -> None:
        """To the sockets following the chat on every node, but the address `skip`'s own."""

    def listen(self, deliver: Deliver) -> None:
        """Where signals for this node's sockets go."""


class LocalPresence:
    """Presence and typing in this process's memory."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sockets: dict[str, dict[str, set[str]]] = {}  # chat id -> address -> sids
        self._typing: dict[tuple[str, str], float] = {}  # (chat id, address) -> monotonic deadline

    def join(self, chat_id: str, address: str, sid: str) -> bool:
        sids = self._sockets.setdefault(chat_id, {}).setdefault(address, set())
        if sid in sids:
            return False
        sids.add(sid)
        return len(sids) == 1

    def leave(self, chat_id: str, address: str, sid: str) -> bool:
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

    def held(self) -> list[tuple[str, str]]:
        """Every (chat id, address) with a socket here: what this node asserts to the others."""
        return [(chat_id, address) for chat_id, by_address in self._sockets.items() for address in by_address]

    def typing(self, chat_id: str, address: str, typing: bool) -> bool:
        key = (chat_id, address)
        if typing:
            self._typing[key] = self._clock.monotonic() + TYPING_TTL_S
            return True
        return self._typing.pop(key, None) is not None

    def expired_typing(self) -> list[tuple[str, str]]:
        now = self._clock.monotonic()
        expired = [key for key, deadline in self._typing.items() if deadline <= now]
        for key in expired:
            del self._typing[key]
        return expired


class LocalSignals:
    """One process: a signal goes straight to this node's sockets."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    def listen(self, deliver: Deliver) -> None:
        self._deliver = deliver

    def send(self, chat_id: str, event: str, data: dict[str, Any], skip: str) -> None:
        if self._deliver is not None:
            self._deliver(chat_id, event, data, skip)
