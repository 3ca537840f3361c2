"""Farcaster notifications: the POST a client's notification URL takes (Farcaster's sendNotification request), one
token at a time; pacing (one per token per 30 s, 100 a day) is the pusher's, through the shared windows."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from urllib3.exceptions import HTTPError

from ..errors import ApiError
from ..models import FarcasterToken
from ..notify.outbound import Answer, post
from ..stats import METER
from ..store import Store

log = logging.getLogger(__name__)
TITLE_CHARS, BODY_CHARS, ID_CHARS = 32, 128, 128
WINDOW_S = 30.0  # Farcaster's limits per token: one notification per 30 s, 100 a day
PER_DAY, DAY_S = 100, 86400.0


@dataclass(frozen=True, slots=True)
class Notice:
    """What one notification says: the latest message, and how many it stands for (itself included)."""

    message_id: str
    chat_id: str
    title: str
    text: str | None  # None: previews are off, the body says only how many
    count: int = 1


def notification_id(message_id: str) -> str:
    """Farcaster dedupes by it (at most 128 characters): the message id, or its SHA-256 hex when longer."""
    return message_id if len(message_id) <= ID_CHARS else hashlib.sha256(message_id.encode()).hexdigest()


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def payload(notice: Notice, app_url: str, tokens: list[str]) -> dict[str, Any]:
    """Farcaster's sendNotification request: the body names how many when it stands for more than one message, and
    says the title again when there is no text to show."""
    many = f"{notice.count} new" if notice.count > 1 else None
    body = ": ".join(part for part in (many, notice.text) if part) or notice.title
    return {
        "notificationId": notification_id(notice.message_id),
        "title": clip(notice.title, TITLE_CHARS),
        "body": clip(body, BODY_CHARS),
        "targetUrl": f"{app_url.rstrip('/')}/chats/{quote(notice.chat_id, safe='')}",
        "tokens": tokens,
    }


class FarcasterSender:
    """POSTs one notice to one token's notification URL, after the host check; a token named invalid is dropped."""

    def __init__(self, store: Store, app_url: str, allow_hosts: tuple[str, ...], timeout_s: float = 5.0) -> None:
        self.store, self.app_url, self.allow_hosts, self.timeout_s = store, app_url, allow_hosts, timeout_s

    def send(self, token: FarcasterToken, notice: Notice) -> bool:
        """False when the client asks for it again later (`rateLimitedTokens`); True otherwise (sent, or not to be
        sent: refused by the host check, failed, or the token invalid, which is then dropped)."""
        try:  # checked at every request: what a host resolves to may have changed
            body = orjson.dumps(payload(notice, self.app_url, [token.token]))
            answer = post(token.url, body, {"Content-Type": "application/json"}, self.allow_hosts, self.timeout_s)
            invalid, limited = _refused(answer)
        except (ApiError, HTTPError) as exc:
            log.warning("farcaster notification to %s failed: %s", token.url, exc)
            METER.farcaster.add("failed")
            return True
        if token.token in invalid:
            self.store.drop_farcaster_tokens(token.fid, token.app_key)
        result = "invalid" if token.token in invalid else "limited" if token.token in limited else "sent"
        METER.farcaster.add(result)
        return result != "limited"


def _refused(answer: Answer) -> tuple[set[str], set[str]]:
    """The tokens the client names invalid and rate-limited; none from an answer that is not Farcaster's shape."""
    try:
        result = orjson.loads(answer.content)["result"] if 200 <= answer.status < 300 else {}
        invalid, limited = result.get("invalidTokens", []), result.get("rateLimitedTokens", [])
        return {t for t in invalid if isinstance(t, str)}, {t for t in limited if isinstance(t, str)}
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        log.warning("a farcaster notification answer of %d is not Farcaster's shape", answer.status)
        return set(), set()
