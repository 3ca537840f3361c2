"""A Farcaster hub's word on app keys: the fid's active signers (`GET /v1/onChainSignersByFid`)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import requests
import urllib3

from ..errors import ApiError

log = logging.getLogger(__name__)
MAX_ANSWER_BYTES = 1024 * 1024  # an fid's signers: far below this


class Hub:
    """Asks the configured hub (operator-chosen, so not held to the notification host rule)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def is_app_key(self, fid: int, key: str) -> bool:
        """Whether `key` is an active Ed25519 app key of `fid`; `unavailable` when the hub cannot say."""
        try:
            with self.session.get(
                f"{self.url}/v1/onChainSignersByFid",
                params={"fid": fid},
                timeout=self.timeout_s,
                allow_redirects=False,
                stream=True,
            ) as answer:
                raw = answer.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            log.warning("farcaster hub unreachable: %s", exc)
            raise ApiError("unavailable", "the Farcaster hub cannot be reached; try again") from None
        if answer.status_code == 404:  # no such fid: it has no keys
            return False
        if answer.status_code != 200 or len(raw) > MAX_ANSWER_BYTES:
            raise ApiError("unavailable", f"the Farcaster hub answered {answer.status_code}; try again")
        try:
            events = _events(raw)
        except ValueError:
            raise ApiError("unavailable", "the Farcaster hub's answer is not JSON; try again") from None
        return any(_active(event, fid, key) for event in events)


def _events(raw: bytes) -> list[Any]:
    """The answer's `events` list; ValueError when it has none."""
    body = orjson.loads(raw)
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise ValueError("no events")
    return events


def _active(event: Any, fid: int, key: str) -> bool:
    """A signer add event of this fid for this Ed25519 key (keyType 1); the hub lists only active ones."""
    if not isinstance(event, dict) or event.get("fid") != fid:
        return False
    body = event.get("signerEventBody")
    return (
        isinstance(body, dict)
        and isinstance(body.get("key"), str)
        and body["key"].lower() == key
        and body.get("keyType") == 1
        and body.get("eventType") == "SIGNER_EVENT_TYPE_ADD"
    )
