"""Reactions as state on a message: every reactor is kept by the store, a message shows the latest few per emoji."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, Invalid
from .models import Message

MAX_EMOJI = 20  # distinct emoji on one message
SHOWN = 50  # reactors listed per emoji; `reaction_counts` has the totals
MAX_EMOJI_CHARS = 32


@dataclass(frozen=True, slots=True)
class Reaction:
    """One reactor adding or removing one emoji on one message."""

    address: str
    emoji: str
    added: bool


def emoji(value: Any) -> str:
    """1..32 Unicode code points, none of them a control character (category Cc)."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_EMOJI_CHARS
        or any(unicodedata.category(c) == "Cc" for c in value)
    ):
        raise ApiError(
            "invalid", f"'emoji' must be 1 to {MAX_EMOJI_CHARS} characters, none of them a control character"
        )
    return value


def deleted_fields() -> dict[str, Any]:
    """What deleting a message changes: its text and reactions go (each message its own empty maps)."""
    return {"deleted": True, "body": "", "original": None, "reactions": {}, "reaction_counts": {}}


def react(message: Message, reactors: list[str], reaction: Reaction) -> tuple[dict[str, Any], list[str]] | None:
    """The message's new fields and the emoji's reactors (oldest first) after the reaction; None: nothing changes."""
    if message.deleted:
        raise Invalid("this message was deleted: it takes no reactions")
    if reaction.added == (reaction.address in reactors):
        return None
    if reaction.added:
        if reaction.emoji not in message.reaction_counts and len(message.reaction_counts) >= MAX_EMOJI:
            raise Invalid(f"a message takes at most {MAX_EMOJI} distinct emoji")
        after = [*reactors, reaction.address]
    else:
        after = [a for a in reactors if a != reaction.address]
    reactions = {e: r for e, r in message.reactions.items() if e != reaction.emoji}
    counts = {e: n for e, n in message.reaction_counts.items() if e != reaction.emoji}
    if after:
        reactions[reaction.emoji] = sorted(after[-SHOWN:], key=str.lower)
        counts[reaction.emoji] = len(after)
    return {"reactions": reactions, "reaction_counts": counts}, after
