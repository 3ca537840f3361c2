"""The signed-in sockets of this node: by socket, by address, and by when their sessions end, within the quota of
sockets one address may hold (quota/)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from .errors import ApiError
from .quota import SocketQuota


@dataclass(eq=False, slots=True)
class Connection:
    """One authenticated socket: whose it is, until when its token holds, its session (what a sign-out ends), the
    protocol extensions it opted into at connect, which chats it joined, and whether it was closed (a join still under
    way then undoes itself)."""

    sid: str
    address: str
    expires_at: int
    session: str
    features: frozenset[str] = frozenset()
    chats: set[str] = field(default_factory=set)
    closed: bool = False


class Connections:
    """Opened at connect, closed at disconnect; an address holds at most its quota's limit of sockets at once."""

    def __init__(self, quota: SocketQuota) -> None:
        self.quota = quota
        self._by_sid: dict[str, Connection] = {}
        self._by_address: dict[str, dict[str, Connection]] = {}
        self._by_session: dict[str, dict[str, Connection]] = {}
        self._expiry: list[tuple[int, str]] = []  # (expires_at, sid); entries of closed sockets are skipped

    def __len__(self) -> int:
        return len(self._by_sid)

    def open(
        self, sid: str, address: str, expires_at: int, session: str, features: frozenset[str] = frozenset()
    ) -> Connection:
        if not self.quota.acquire(address):
            raise ApiError("rate_limited", f"this address already holds {self.quota.limit} sockets")
        conn = self._by_sid[sid] = Connection(sid, address, expires_at, session, features)
        self._by_address.setdefault(address, {})[sid] = conn
        self._by_session.setdefault(session, {})[sid] = conn
        heapq.heappush(self._expiry, (expires_at, sid))
        return conn

    def close(self, sid: str) -> Connection | None:
        conn = self._by_sid.pop(sid, None)
        if conn is not None:
            conn.closed = True
            self.quota.release(conn.address)
            _drop(self._by_address, conn.address, sid)
            _drop(self._by_session, conn.session, sid)
            if len(self._expiry) > 2 * len(self._by_sid) + 64:  # mostly closed sockets' entries: keep them bounded
                self._expiry = [entry for entry in self._expiry if entry[1] in self._by_sid]
                heapq.heapify(self._expiry)
        return conn

    def get(self, sid: str) -> Connection | None:
        return self._by_sid.get(sid)

    def of(self, address: str) -> list[Connection]:
        return list(self._by_address.get(address, {}).values())

    def of_session(self, session: str) -> list[Connection]:
        return list(self._by_session.get(session, {}).values())

    def next_expiry(self) -> int | None:
        """When the next open socket's session ends (ms), if any is open."""
        while self._expiry and self._expiry[0][1] not in self._by_sid:
            heapq.heappop(self._expiry)
        return self._expiry[0][0] if self._expiry else None

    def expired(self, now_ms: int) -> list[Connection]:
        """Open sockets whose sessions have ended by `now_ms`, each once."""
        found = []
        while self._expiry and self._expiry[0][0] <= now_ms:
            _, sid = heapq.heappop(self._expiry)
            conn = self._by_sid.get(sid)
            if conn is not None and conn.expires_at <= now_ms:
                found.append(conn)
        return found


def _drop(index: dict[str, dict[str, Connection]], key: str, sid: str) -> None:
    mine = index[key]
    del mine[sid]
    if not mine:
        del index[key]
