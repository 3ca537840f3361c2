"""Sending and attesting: the checks in front of the store's durable append."""
from __future__ import annotations

from typing import Any

from . import validation as v
from .chats import Chats
from .config import Config
from .errors import ApiError
from .models import Message
from .ratelimit import RateLimiter
from .store import NewMessage, Store


class Messaging:
    def __init__(self, config: Config, store: Store, chats: Chats) -> None:
        self.config = config
        self.store = store
        self.chats = chats
        self.limiter = RateLimiter(config.rate_per_s, config.rate_burst)

    def send(self, sender: str, payload: Any) -> Message:
        """Rate-limit every attempt, validate, then append (idempotent on sender + client_id)."""
        self.limiter.take(sender)
        payload = v.obj(payload)
        chat_id = v.chat_id(payload)
        new = NewMessage(
            chat_id=chat_id,
            sender=sender,
            client_id=v.client_id(payload),
            body=v.body(payload, self.config.max_body_chars),
            tx=v.tx(payload, self.config.chain_id),
            xmtp_id=v.xmtp_id(payload),
        )
        v.optional_bool(payload, "keyed")
        self.chats.require_member(sender, chat_id)
        earlier = self.store.find(sender, new.client_id)
        if earlier is not None:
            return earlier
        message, _ = self.store.append(new)
        return message

    def attest(self, sender: str, payload: Any) -> Message:
        """Record the XMTP id of the sender's own message (settling it is the reconciler's job)."""
        payload = v.obj(payload)
        chat_id = v.chat_id(payload)
        message_id = v.string(payload, "message_id", v.MESSAGE_ID, "a message id as the server gave it")
        xmtp_id = v.xmtp_id(payload, required=True)
        v.optional_bool(payload, "keyed")
        self.chats.require_member(sender, chat_id)
        message = self.store.message(message_id)
        if message is None or message.chat_id != chat_id:
            raise ApiError("not_found", f"no message {message_id!r} in chat {chat_id!r}")
        if message.sender != sender:
            raise ApiError("forbidden", "only the sender of a message may attest its XMTP id")
        return self.store.change(message_id, lambda m: None if m.xmtp_id == xmtp_id else {"xmtp_id": xmtp_id})
