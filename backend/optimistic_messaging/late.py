"""Members added to a chat later (without its history): which of the chat's sockets see a message, and how."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .connections import Connections
from .models import Message, message_seq


def unseen(
    message: Message, late: dict[str, int], sids: Callable[[], Iterable[str]], connections: Connections
) -> tuple[set[str], set[str]]:
    """Of the sockets `sids()` names, by the first seq each late member sees (`late`): those added after the message
    (it is not theirs), and those added after the message it replies to (they get it with `reply_to` null:
    `seen_from`). The sockets are listed only when some member's first seq is above what the message names."""
    seq = message.seq
    target = seq if message.reply_to is None else message_seq(message.reply_to)
    hidden: set[str] = set()
    blind: set[str] = set()
    if not late or target >= max(late.values()):
        return hidden, blind
    for sid in sids():
        first = late.get(conn.address, 1) if (conn := connections.get(sid)) is not None else 1
        if first > seq:
            hidden.add(sid)
        elif first > target:
            blind.add(sid)
    return hidden, blind
