"""The Store interface: reads are of committed data, writes return only once durable, and every commit is announced."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import Conflict, Invalid
from ..models import (
    SETTLERS,
    Chat,
    ChatView,
    FarcasterToken,
    Message,
    NewMessage,
    Position,
    PositionMoved,
    Settings,
    Settler,
)
from ..notify.subscriptions import PushSubscription, Reachable
from ..reactions import Reaction
from ..stats import StoreStats


@dataclass(frozen=True, slots=True)
class Stored:
    """A message as a commit left it: `new`, or changed (a `message:update`); `settled` when this change settled it
    (provisional before): what a payment's push follows. Only the committing node's own listeners are told it."""

    message: Message
    new: bool
    settled: bool = False
    json: bytes | None = None  # the message as orjson encodes it, when the store already did (its frame reuses it)


@dataclass(frozen=True, slots=True)
class ChatChanged:
    """A chat created (every member `added`) or whose members changed, as the commit left it; with the first seq the
    added see, so delivery knows without a read (None: another node's notice could not say, and it is read)."""

    chat: Chat
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    visible_from: int | None = 1


@dataclass(frozen=True, slots=True)
class Revoked:
    """A session signed out: its tokens are refused until `until` (ms), when none of them can be valid anyway."""

    session: str
    until: int


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A chat's plain messages confirmed by the fallback's clock in one write (`chat:confirmed`): every one that was
    provisional (`models.waits_for_clock`) with seq up to `through_seq`, at revs `first_rev`..`rev` in seq order (one
    rev each, so catch-up by rev stays exact), `updated_at` `at`."""

    chat_id: str
    through_seq: int
    first_rev: int
    rev: int
    at: int

    def event(self) -> dict[str, Any]:
        """The `chat:confirmed` payload."""
        return {
            "chat_id": self.chat_id,
            "through_seq": self.through_seq,
            "first_rev": self.first_rev,
            "rev": self.rev,
            "updated_at": self.at,
        }


@dataclass(frozen=True, slots=True)
class Commit:
    """One durable batch: its messages and chat changes, each in commit order; sessions signed out; the positions
    marks moved (a send's move is not among them: the message itself says its sender has read up to it); and the
    chats whose plain messages the clock confirmed (their messages are not in `messages`)."""

    messages: tuple[Stored, ...] = ()
    chats: tuple[ChatChanged, ...] = ()
    revoked: tuple[Revoked, ...] = ()
    positions: tuple[PositionMoved, ...] = ()
    confirmed: tuple[Confirmed, ...] = ()


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A provisional message as the reconciler schedules it: a few fields, so 100,000 waiting are not 100,000
    messages in memory."""

    id: str
    rev: int
    sent_at: int
    kind: Settler  # what settles it (models.settled_by)


def repeat_of(earlier: Message, new: NewMessage, first: int) -> Message:
    """The first message of a (sender, client_id), for a repeat of it: only in the chat it was sent to and from where
    the sender sees it (`first`), so a client that reuses an id elsewhere, or from before it left and came back, is
    told (`conflict`) instead of getting a message that is not theirs to see as its answer."""
    if earlier.chat_id != new.chat_id:
        raise Conflict("this client_id was used for a message in another chat; choose a new one")
    if earlier.seq < first:
        raise Conflict("this client_id was used for a message from before you were added; choose a new one")
    return earlier


def check_reply(new: NewMessage, first: int, exists: Callable[[int], bool]) -> None:
    """A reply names a message of its own chat that exists and that the sender sees (`first` on), else `invalid`."""
    if new.reply_to is None:
        return
    chat_id, _, seq = new.reply_to.rpartition("/")
    if chat_id != new.chat_id or not seq.isdigit() or int(seq) < first or not exists(int(seq)):
        raise Invalid(f"'reply_to' names no message {new.reply_to!r} of this chat that you can see")


class Pending(Protocol):
    """A write on its way to durability (gevent's AsyncResult): its answer, or a callback once it has one."""

    def get(self) -> Any: ...

    def ready(self) -> bool: ...

    def rawlink(self, callback: Callable[[Any], None]) -> None: ...


Appended = tuple[Message, bool, bytes | None]
"""A send's answer: the message, whether this call created it, and its JSON when the store encoded it already (the
log's line: the ack sends it as it is)."""

Listener = Callable[[Commit], None]
"""Called once per durable batch, in commit order."""

Change = Callable[[Message], dict[str, Any] | None]
"""Given a message's current state, the fields to change (None: leave it as it is)."""


class Store(Protocol):
    """What the server needs of storage: the JSON-lines log in one process, or PostgreSQL shared by several."""

    stats: StoreStats  # its group commits, for /metrics

    def start(self) -> None:
        """Load or connect, and begin accepting writes."""

    def close(self) -> None: ...

    def subscribe(self, listener: Listener) -> None:
        """Hear of every commit this store makes, after it is durable."""

    def healthy(self) -> bool:
        """False while writes cannot be made durable (a failed disk, the database away)."""

    # Reads: committed (durable) data only.
    def chat(self, chat_id: str) -> Chat | None: ...

    def is_member(self, chat_id: str, address: str) -> bool: ...

    def visible_from(self, chat_id: str, address: str) -> int | None:
        """The first seq of the chat the member may see (1: all of it); None for someone who is not a member."""

    def late_members(self, chat_id: str) -> dict[str, int]:
        """The members who may not see all of the chat, and the first seq each may see: what live delivery skips."""

    def versions(self, chat_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        """(rev, members version) of each of these chats that exists: what a node checks it has not missed anything
        of (the members version goes up with every member change)."""

    def chats_of(self, address: str, before: int | None, limit: int) -> tuple[list[ChatView], int | None]:
        """The address's chats as it sees them, latest activity first, below the cursor `before`; and the next page's
        cursor. From counters and positions: no chat's history is read."""

    def view(self, chat_id: str, address: str) -> ChatView | None:
        """The chat as this address sees it (None: no such chat); for one who is not a member, no message and
        positions 0."""

    def receipts(self, chat_id: str, caller: str) -> dict[str, Position]:
        """The positions `join` shows the caller: of the members who share receipts and have marked or sent at least
        once, and the caller's own."""

    def settings(self, address: str) -> Settings:
        """The address's settings (the defaults until it puts some)."""

    def chat_ids_of(self, address: str) -> dict[str, tuple[int, int]]:
        """Every chat of the address, by id: the first seq it sees there and the chat's `last_seq` (what its sockets
        follow by feed, in one read)."""

    def message(self, message_id: str) -> Message | None: ...

    def messages(self, message_ids: Iterable[str]) -> dict[str, Message]:
        """The ones of these that exist, by id, in one read."""

    def find(self, sender: str, client_id: str) -> Message | None: ...

    def page(
        self, chat_id: str, before: int | None, after: int | None, limit: int, first: int = 1
    ) -> tuple[list[Message], bool]:
        """Messages from seq `first` on, ascending by seq, and whether more lie beyond the page in the direction of
        travel."""

    def changes(self, chat_id: str, since_rev: int, limit: int, first: int = 1) -> tuple[list[Message], bool]:
        """Messages from seq `first` on created or changed after `since_rev`, in rev order."""

    def unsettled(self, kinds: Iterable[str] = SETTLERS) -> list[Unsettled]:
        """Every message not settled yet of these kinds, oldest first (what the reconciler asks an outside source
        about, after a restart or a takeover)."""

    def due_chats(self, sent_by: int, limit: int) -> dict[str, int]:
        """The chats with plain messages (neither a payment nor an XMTP copy) still provisional and sent at or before
        `sent_by` (ms), each with the highest seq of those, oldest first, counting at most `limit` messages: what the
        fallback's clock confirms now, one write per chat. The store is their schedule, so the reconciler keeps
        nothing in memory per waiting message."""

    def unsettled_by_kind(self) -> dict[str, int]:
        """How many wait on each kind of settlement (every kind named, zero or not)."""

    # Writes: block the calling greenlet until durable; raise Unavailable (errors.py) when not.
    def create_chat(self, chat_id: str, members: list[str], title: str | None, created_by: str) -> tuple[Chat, bool]:
        """Create the chat, or return the existing one (False) if the id is taken. An id whose chat was erased is
        free: the new chat's seq and rev go on after the erased one's."""

    def add_members(self, chat_id: str, members: list[str], limit: int, share_from: str | None = None) -> Chat:
        """Add the new ones, who see the chat from its next message on, or from where the member `share_from` does;
        `invalid` if the chat would then have more than `limit` members."""

    def remove_member(self, chat_id: str, address: str) -> Chat:
        """Remove one member; `not_found` if it is not one. The last one's leaving erases the chat and everything
        in it (the answer: the chat as it was, without members); only its seq, rev and members version stay."""

    def append(self, new: NewMessage) -> tuple[Message, bool]:
        """Store a new provisional message, or return the sender's earlier one with that client_id (False)."""

    def append_later(self, new: NewMessage) -> Pending:
        """The same as `append`, without waiting: queued now, in order, and its `Appended` comes later."""

    def change(self, message_id: str, change: Change) -> Message:
        """Apply `change` to the message's current state, bumping its chat's rev if anything changed. A change that
        deletes it (`deleted` becomes true) drops its reactors too."""

    def confirm_through(self, chat_id: str, through_seq: int) -> Confirmed | None:
        """Confirm by the fallback every plain message of the chat still provisional with seq up to `through_seq`, in
        one write, each at the chat's next rev in seq order (announced as one `Confirmed`, not per message); None
        when there was none (nothing is written). `not_found` for no such chat."""

    def react(self, message_id: str, reaction: Reaction) -> Message:
        """Add or remove one reactor, as `reactions.react` decides against every reactor kept; a change bumps the
        chat's rev, a repeat answers the message as it is."""

    def mark(
        self, chat_id: str, address: str, read_seq: int | None, delivered_seq: int | None
    ) -> tuple[Position, bool]:
        """Move a member's positions forward (never back; past `last_seq` taken as it; delivered at least read); the
        positions after, and whether they moved (then the commit announces it). `forbidden` for a non-member."""

    def put_settings(self, address: str, changes: dict[str, bool]) -> Settings:
        """Durably change the named settings, keeping the others; the whole settings after."""

    # Farcaster notification tokens (v1.2), each the latest one its client (fid and app key) registered.
    def put_farcaster_token(self, token: FarcasterToken) -> None:
        """Durably keep the token, replacing the one its client registered before."""

    def drop_farcaster_tokens(self, fid: int, app_key: str) -> None:
        """Durably forget the token that client registered (none: nothing changes)."""

    def farcaster_tokens(self, fid: int) -> list[FarcasterToken]:
        """Every token the fid's clients registered, by app key."""

    def link_farcaster(self, address: str, fid: int) -> None:
        """Durably tie the address to the fid (its latest link); the fid's notifications then go to the address."""

    def farcaster_fid(self, address: str) -> int | None:
        """The fid the address last linked, if any."""

    # Web Push subscriptions: each endpoint belongs to one address, at most MAX_PER_ADDRESS per address.
    def put_push_subscription(self, subscription: PushSubscription) -> bool:
        """Durably register it for its address (moving the endpoint from any other, dropping the address's oldest
        past the limit); True when the address did not have that endpoint yet."""

    def drop_push_subscriptions(
        self, endpoint: str | None = None, address: str | None = None, session: str | None = None
    ) -> None:
        """Durably end the subscriptions matching every one given (an endpoint; an address's; a session's)."""

    def push_subscriptions(self, address: str) -> list[PushSubscription]:
        """The address's subscriptions, oldest first."""

    def reachable(self, chat_id: str) -> list[Reachable]:
        """The chat's members that have a push subscription or Farcaster tokens (by their linked fid), by address, with
        their previews setting, in one read: whom a notification of the chat may go to (most members have neither)."""

    # Sign-outs: kept until each session's maximum age has passed, then dropped.
    def revoke_session(self, session: str, until: int) -> None:
        """Durably sign a session out until `until` (ms); announced to every node as a commit's `revoked`."""

    def revoked_sessions(self) -> dict[str, int]:
        """Every session signed out whose `until` has not passed yet, with it: what a node refuses from its start."""
