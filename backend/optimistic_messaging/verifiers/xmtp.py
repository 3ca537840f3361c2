"""XMTP: content binding of message ids, and settling attested messages (by attestation or through a gateway)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import requests

from ..models import Message
from . import WAIT, Outcome, VerifierDown

XMTP_GROUP_ID = re.compile(r"[0-9a-fA-F]{32}")
MAX_ANSWER_BYTES = 64 * 1024  # a sender and a text of at most MAX_BODY_CHARS: anything longer is not an answer
_TEXT_CONTENT_TYPE = bytes.fromhex("0a12") + b"\x0a\x08xmtp.org" + b"\x12\x04text" + b"\x18\x01"
_UTF8_PARAMETER = bytes.fromhex("1211") + b"\x0a\x08encoding" + b"\x12\x05UTF-8"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encoded_text(text: str) -> bytes:
    """The protobuf EncodedContent of a plain XMTP text, byte for byte as libxmtp builds it."""
    content = text.encode()
    return _TEXT_CONTENT_TYPE + _UTF8_PARAMETER + (b"\x22" + _varint(len(content)) + content if content else b"")


def xmtp_message_id(group_id: str, idempotency_key: str, text: str) -> str:
    """XMTP's id of a text sent with an idempotency key: sha256(group ‖ \\t ‖ key ‖ \\t ‖ EncodedContent)."""
    digest = hashlib.sha256(bytes.fromhex(group_id) + b"\t" + idempotency_key.encode() + b"\t" + encoded_text(text))
    return digest.hexdigest()


def bindable(chat_id: str) -> bool:
    """Only a chat registered under its XMTP conversation (group) id can bind ids to content."""
    return XMTP_GROUP_ID.fullmatch(chat_id) is not None


class XmtpVerifier:
    """Settles messages that carry an xmtp_id: on the attestation alone, or by asking an XMTP gateway."""

    def __init__(self, gateway_url: str | None, grace_ms: int, timeout_s: float = 5.0) -> None:
        self.gateway_url = gateway_url.rstrip("/") if gateway_url else None
        self.grace_ms = grace_ms
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def check(self, message: Message, now: int) -> Outcome:
        if self.gateway_url is None:
            return Outcome({"status": "confirmed", "source": "xmtp"})
        found = self._lookup(message)
        if found is None:  # not (yet) on XMTP
            if now - message.sent_at < self.grace_ms:
                return WAIT
            return Outcome({"xmtp_id": None, "xmtp_bound": False, "status": "confirmed", "source": "fallback"})
        sender, content = found
        if sender.lower() != message.sender.lower():  # a false attestation: drop it, the message falls back
            return Outcome({"xmtp_id": None, "xmtp_bound": False})
        if content == message.body:
            return Outcome({"status": "confirmed", "source": "xmtp"})
        return Outcome(
            {
                "status": "corrected",
                "source": "xmtp",
                "reason": "xmtp_mismatch",
                "body": content,
                "original": {"body": message.body, "tx": message.tx},
            }
        )

    def _lookup(self, message: Message) -> tuple[str, str] | None:
        """GET {gateway}/conversations/{chat_id}/messages/{xmtp_id} → (sender, content), or None for 404."""
        url = f"{self.gateway_url}/conversations/{message.chat_id}/messages/{message.xmtp_id}"
        try:
            with self.session.get(url, timeout=self.timeout_s, stream=True) as r:
                if r.status_code == 404:
                    return None
                if r.status_code != 200:
                    raise VerifierDown(f"XMTP gateway answered {r.status_code}")
                raw = r.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        except requests.RequestException as exc:
            raise VerifierDown(f"XMTP gateway unreachable: {exc}") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise VerifierDown(f"XMTP gateway answered more than {MAX_ANSWER_BYTES} bytes")
        try:
            body: Any = orjson.loads(raw)  # orjson: a nesting limit, where the json module would recurse without one
            sender, content = body["sender"], body["content"]
        except (ValueError, KeyError, TypeError):
            raise VerifierDown("XMTP gateway answered something that is not {sender, content}") from None
        if not isinstance(sender, str) or not isinstance(content, str):
            raise VerifierDown("XMTP gateway answered non-string sender or content")
        if "\x00" in content:  # no message body holds one (validation refuses it; PostgreSQL text cannot)
            raise VerifierDown("XMTP gateway answered content holding U+0000")
        return sender, content
