"""Sending, attesting, reacting and deleting: the checks in front of the store's durable writes."""

from __future__ import annotations

from typing import Any

from . import validation as v
from .chats import Chats
from .config import Config
from .errors import ApiError
from .limits import RateLimiter
from .models import Message, seen_from
from .reactions import Reaction, deleted_fields, emoji
from .store import NewMessage, Pending, Store
from .verifiers.xmtp import bindable, xmtp_message_id


class Messaging:
    def __init__(self, config: Config, store: Store, chats: Chats, limiter: RateLimiter) -> None:
        self.config = config
        self.store = store
        self.chats = chats
        self.limiter = limiter  # every send attempt, per address (RATE_PER_S)

    def send(self, sender: str, payload: Any) -> Pending:
        """Rate-limit every attempt, validate, then queue the append (idempotent on sender + client_id): its
        (message, created) comes once durable; membership is checked as it commits."""
        self.limiter.take(sender)
        payload = v.obj(payload)
        chat_id = v.chat_id(payload)
        client_id = v.client_id(payload)
        body = v.body(payload, self.config.max_body_chars)
        xmtp_id = v.optional_xmtp_id(payload)
        keyed = v.optional_bool(payload, "keyed")
        new = NewMessage(
            chat_id=chat_id,
            sender=sender,
            client_id=client_id,
            body=body,
            tx=v.tx(payload, self.config.chain_id),
            xmtp_id=xmtp_id,
            xmtp_bound=xmtp_id is not None and bound(chat_id, client_id, body, xmtp_id, keyed),
            reply_to=v.optional_message_id(payload, "reply_to"),  # the store checks it as it commits
        )
        return self.store.append_later(new)

    def attest(self, sender: str, payload: Any) -> Message:
        """Record the XMTP id of the sender's own message; the reconciler settles it (a settled one stays settled)."""
        payload = v.obj(payload)
        xmtp_id = v.xmtp_id(payload)
        keyed = v.optional_bool(payload, "keyed")
        message, _ = self._visible(sender, payload)
        if message.sender != sender:
            raise ApiError("forbidden", "only the sender of a message may attest its XMTP id")
        if message.deleted:
            return message  # its text is gone: nothing to bind, and XMTP settles it no more
        is_bound = bound(message.chat_id, message.client_id, message.body, xmtp_id, keyed)

        def record(current: Message) -> dict[str, Any] | None:
            if current.deleted or (current.xmtp_id, current.xmtp_bound) == (xmtp_id, is_bound):
                return None  # nothing new: no rev bump, no broadcast
            return {"xmtp_id": xmtp_id, "xmtp_bound": is_bound}

        return self.store.change(message.id, record)

    def react(self, sender: str, payload: Any) -> Message:
        """Add or remove the caller's emoji on a message it sees; a repeat answers the message as it is."""
        payload = v.obj(payload)
        action = payload.get("action")
        if action not in ("added", "removed"):
            raise ApiError("invalid", '\'action\' must be "added" or "removed"')
        reaction = Reaction(sender, emoji(payload.get("emoji")), action == "added")
        message, first = self._visible(sender, payload)
        return seen_from(self.store.react(message.id, reaction), first)

    def delete(self, sender: str, payload: Any) -> Message:
        """Delete for everyone, by its sender only: its text and reactions are erased; a repeat answers it as it is."""
        message, _ = self._visible(sender, v.obj(payload))
        if message.sender != sender:
            raise ApiError("forbidden", "only the sender of a message may delete it")

        def erase(current: Message) -> dict[str, Any] | None:
            return None if current.deleted else deleted_fields()

        return self.store.change(message.id, erase)

    def _visible(self, caller: str, payload: dict[str, Any]) -> tuple[Message, int]:
        """The message `payload` names, if the caller is a member who sees it (`forbidden`, else `not_found`); and
        the first seq the caller sees."""
        chat_id = v.chat_id(payload)
        message_id = v.string(payload, "message_id", v.MESSAGE_ID, "a message id as the server gave it")
        first = self.chats.require_member(caller, chat_id)
        message = self.store.message(message_id)
        if message is None or message.chat_id != chat_id or message.seq < first:
            raise ApiError("not_found", f"no message {message_id!r} in chat {chat_id!r}")
        return message, first


def bound(chat_id: str, client_id: str, body: str, xmtp_id: str, keyed: bool) -> bool:
    """Content binding: a keyed id in an XMTP conversation must be the hash of this content (else `invalid`)."""
    if not keyed or not bindable(chat_id):
        return False
    expected = xmtp_message_id(chat_id, client_id, body)
    if xmtp_id.lower() != expected:
        raise ApiError(
            "invalid",
            f"'xmtp_id' does not match the content: with keyed=true in conversation {chat_id} "
            f"it must be sha256(group_id, client_id, EncodedContent(body)) = {expected}",
        )
    return True
