"""Farcaster notifications: the POST a client's notification URL takes, for every token of an fid, within its limits."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from itertools import groupby
from typing import Any
from urllib.parse import quote

import orjson
import requests

from ..errors import ApiError
from ..models import FarcasterToken
from ..notify.hosts import safe_addresses
from ..store import Store
from .pacing import WINDOW_S, Notice, Pacer

log = logging.getLogger(__name__)
TITLE_CHARS, BODY_CHARS, ID_CHARS, TOKENS_PER_POST = 32, 128, 128, 100
MAX_ANSWER_BYTES = 64 * 1024


def notification_id(message_id: str) -> str:
    """Farcaster dedupes by it (at most 128 characters): the message id, or its SHA-256 hex when longer."""
    return message_id if len(message_id) <= ID_CHARS else hashlib.sha256(message_id.encode()).hexdigest()


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload(notice: Notice, app_url: str, tokens: list[str]) -> dict[str, Any]:
    """Farcaster's sendNotification request: the body names how many when it stands for more than one message."""
    many = f"{notice.count} new messages" if notice.count > 1 else None
    body = ": ".join(part for part in (many, notice.text) if part) or "New message"
    return {
        "notificationId": notification_id(notice.message_id),
        "title": clip(notice.title, TITLE_CHARS),
        "body": clip(body, BODY_CHARS),
        "targetUrl": f"{app_url.rstrip('/')}/chats/{quote(notice.chat_id, safe='')}",
        "tokens": tokens,
    }


class FarcasterSender:
    """Sends from one greenlet (the caller's queue): `notify` for a new notice, `flush` for those whose window ended."""

    def __init__(
        self,
        store: Store,
        app_url: str,
        allow_hosts: tuple[str, ...],
        clock: Callable[[], float] = time.time,
        timeout_s: float = 5.0,
    ) -> None:
        self.store, self.app_url, self.allow_hosts = store, app_url, allow_hosts
        self.clock, self.timeout_s = clock, timeout_s
        self.pacer = Pacer()
        self.clients: dict[str, FarcasterToken] = {}  # token value -> where it was registered, as last read
        self.session = requests.Session()

    def notify(self, fid: int, notice: Notice) -> None:
        now = self.clock()
        ready = []
        for token in self.store.farcaster_tokens(fid):
            self.clients[token.token] = token
            paced = self.pacer.offer(token.token, notice, now)
            if paced is not None:
                ready.append((token, paced))
        self._send(ready)

    def flush(self) -> None:
        """Send the waiting notices whose window has ended (call it every few seconds from the sending greenlet), to
        the tokens still registered: a client that turned notifications off since gets nothing."""
        due = self.pacer.due(self.clock())
        fids = {self.clients[value].fid for value, _ in due}
        stored = {token.token: token for fid in fids for token in self.store.farcaster_tokens(fid)}
        self._send([(stored[value], notice) for value, notice in due if value in stored])

    def _send(self, ready: list[tuple[FarcasterToken, Notice]]) -> None:
        """One POST per URL and notice (tokens of a client share neither, but several clients may share a URL)."""
        key: Callable[[tuple[FarcasterToken, Notice]], tuple[str, Notice]] = lambda pair: (pair[0].url, pair[1])
        for (url, notice), group in groupby(sorted(ready, key=lambda p: (p[0].url, p[1].message_id)), key):
            tokens = [token for token, _ in group]
            for start in range(0, len(tokens), TOKENS_PER_POST):
                self._post(url, notice, tokens[start : start + TOKENS_PER_POST])

    def _post(self, url: str, notice: Notice, tokens: list[FarcasterToken]) -> None:
        by_value = {token.token: token for token in tokens}
        try:
            safe_addresses(url, self.allow_hosts)  # at every request: what a host resolves to may have changed
            answer = self.session.post(
                url,
                data=orjson.dumps(payload(notice, self.app_url, list(by_value))),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout_s,
                allow_redirects=False,
            )
            invalid, limited = _refused(answer)
        except (ApiError, requests.RequestException) as exc:
            log.warning("farcaster notification to %s failed: %s", url, exc)
            return
        for value in invalid & by_value.keys():
            self.store.drop_farcaster_tokens(by_value[value].fid, by_value[value].app_key)
            self.pacer.forget(value)
            self.clients.pop(value, None)
        for value in limited & by_value.keys():
            self.pacer.retry(value, notice, WINDOW_S, self.clock())


def _refused(answer: requests.Response) -> tuple[set[str], set[str]]:
    """The tokens the client names invalid and rate-limited; none from an answer that is not Farcaster's shape."""
    try:
        result = orjson.loads(answer.content[:MAX_ANSWER_BYTES])["result"] if answer.ok else {}
        invalid, limited = result.get("invalidTokens", []), result.get("rateLimitedTokens", [])
        return {t for t in invalid if isinstance(t, str)}, {t for t in limited if isinstance(t, str)}
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        log.warning("a farcaster notification answer of %d is not Farcaster's shape", answer.status_code)
        return set(), set()
