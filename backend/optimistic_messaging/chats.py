"""Chats and membership: who may see what, DM ids, registered ids that nobody can squat, joining and leaving."""

from __future__ import annotations

import secrets

from .errors import ApiError
from .limits import RateLimiter
from .models import Chat, ChatView, Message, seen_from
from .store import Store

MAX_CHANGES = 500
MAX_CHANGES_CHARS = 1_000_000  # a catch-up page stops early past this much text: bounded frames and responses


def dm_id(a: str, b: str) -> str:
    """The same two addresses, in either order, always name the same DM."""
    low, high = sorted((a.lower(), b.lower()))
    return f"dm:{low}:{high}"


def is_dm(chat_id: str) -> bool:
    return chat_id.startswith("dm:")


class Chats:
    def __init__(self, store: Store, max_members: int, limiter: RateLimiter) -> None:
        self.store = store
        self.max_members = max_members
        self.limiter = limiter  # chat creations and member changes, per address (CHAT_RATE_PER_MIN)

    def require_member(self, caller: str, chat_id: str) -> int:
        """The first seq the caller may see of the chat (added later, the messages before it are not theirs);
        `not_found` for no such chat, `forbidden` for a chat the caller is not in."""
        first = self.store.visible_from(chat_id, caller)
        if first is None:
            if self.store.chat(chat_id) is None:
                raise ApiError("not_found", f"no chat {chat_id!r}")
            raise ApiError("forbidden", f"you are not a member of chat {chat_id!r}")
        return first

    def seen(self, caller: str, chat: Chat) -> ChatView:
        """A chat a write left, as the caller sees it (one erased as its last member left: with nothing of theirs)."""
        return self.store.view(chat.id, caller) or ChatView.of(chat)

    def create(self, caller: str, members: list[str], chat_id: str | None, title: str | None) -> tuple[ChatView, bool]:
        """A DM, a new group, or a registered id (e.g. an XMTP conversation id): the first registration wins, and a
        later one gets it back only when it asks for exactly the chat's members, so nobody is put in a chat with
        people they did not choose."""
        if caller not in members:
            members = [caller, *members]
        if len(members) > self.max_members:
            raise ApiError("invalid", f"'members' would make more than {self.max_members} members")
        if chat_id is not None and is_dm(chat_id):
            raise ApiError("invalid", "'id' must not start with 'dm:', which is reserved for direct messages")
        if chat_id is None:
            chat_id = dm_id(*members) if len(members) == 2 else f"grp:{secrets.token_hex(10)}"
        chat, created = self.store.create_chat(chat_id, members, title, caller)
        if created:
            return self.seen(caller, chat), True
        if caller not in chat.members:
            raise ApiError("conflict", f"chat id {chat_id!r} is already registered by others")
        if set(members) != set(chat.members):
            raise ApiError(
                "conflict",
                f"chat {chat_id!r} exists with other members than those asked for; "
                "add members through POST /api/chats/<id>/members",
                members=chat.members,
            )
        return self.seen(caller, chat), False

    def attempt(self, caller: str) -> None:
        """Spend from the caller's budget for chat creations and member changes: every attempt counts, a malformed
        one too (`rate_limited` before anything else is looked at)."""
        self.limiter.take(caller)

    def add_members(self, caller: str, chat_id: str, members: list[str], share_history: bool = False) -> ChatView:
        """New members see the chat from its next message on (as in XMTP/MLS groups), or, when the caller shares
        its history, as much of it as the caller sees."""
        self.require_member(caller, chat_id)
        if is_dm(chat_id):
            raise ApiError("invalid", "a DM keeps its two members; create a group to add people")
        chat = self.store.add_members(chat_id, members, self.max_members, caller if share_history else None)
        return self.seen(caller, chat)

    def remove_member(self, caller: str, chat_id: str, address: str) -> ChatView:
        """A member leaves a group; its creator may remove others. A DM keeps its two members. When the last one
        leaves, the chat is erased and its id free (the answer: the chat without members)."""
        self.require_member(caller, chat_id)
        if is_dm(chat_id):
            raise ApiError("invalid", "a DM keeps its two members; nobody can be removed from it")
        if address != caller:
            chat = self.store.chat(chat_id)
            if chat is None or chat.created_by != caller:
                raise ApiError("forbidden", "only a group's creator may remove others; anyone may remove themselves")
        return self.seen(caller, self.store.remove_member(chat_id, address))

    def get(self, caller: str, chat_id: str) -> ChatView:
        self.require_member(caller, chat_id)
        chat = self.store.view(chat_id, caller)
        if chat is None:  # removed between the check and the read
            raise ApiError("not_found", f"no chat {chat_id!r}")
        return chat

    def of(self, caller: str, before: int | None, limit: int) -> tuple[list[ChatView], int | None]:
        return self.store.chats_of(caller, before, limit)

    def history(
        self, caller: str, chat_id: str, before: int | None, after: int | None, limit: int
    ) -> tuple[list[Message], bool]:
        return self.page_from(chat_id, before, after, limit, self.require_member(caller, chat_id))

    def page_from(
        self, chat_id: str, before: int | None, after: int | None, limit: int, first: int
    ) -> tuple[list[Message], bool]:
        """The same for a member already checked (who sees from seq `first` on), as they see each message."""
        found, has_more = self.store.page(chat_id, before, after, limit, first)
        return [seen_from(m, first) for m in found], has_more

    def changes(
        self, caller: str, chat_id: str, since_rev: int, limit: int = MAX_CHANGES
    ) -> tuple[list[Message], bool]:
        """Changes after `since_rev` in rev order: at most `limit` messages and about MAX_CHANGES_CHARS of text."""
        return self.changes_from(chat_id, since_rev, self.require_member(caller, chat_id), limit)

    def changes_from(
        self, chat_id: str, since_rev: int, first: int, limit: int = MAX_CHANGES
    ) -> tuple[list[Message], bool]:
        """The same for a member already checked (who sees from seq `first` on), as they see each message."""
        found, has_more = self.store.changes(chat_id, since_rev, limit, first)
        found = [seen_from(m, first) for m in found]
        chars = 0
        for i, message in enumerate(found):
            chars += len(message.body)
            if chars > MAX_CHANGES_CHARS and i > 0:
                return found[:i], True
        return found, has_more
