"""The Store contract: every behaviour the server relies on, asked of both stores — the JSON-lines log and PostgreSQL —
in this process, through the Store interface only."""
from __future__ import annotations

import resource
from pathlib import Path
from typing import Callable, Iterator

import gevent
import pytest

from optimistic_messaging.broker.notify import announce
from optimistic_messaging.errors import CODES, ApiError, Forbidden, Invalid, NotFound
from optimistic_messaging.fanout import Fanout
from optimistic_messaging.models import FarcasterToken, Message, Position, PositionMoved, Settings, settled_by
from optimistic_messaging.notify.subscriptions import PushSubscription, Reachable
from optimistic_messaging.reactions import Reaction, deleted_fields
from optimistic_messaging.store import ChatChanged, Commit, Confirmed, NewMessage, Store, Unsettled
from optimistic_messaging.store.jsonl import JsonlStore
from optimistic_messaging.store.postgres import PgStore

from cluster import PrivatePostgres
from support import FakeClock, fresh_database

pytestmark = pytest.mark.own_store  # both stores, every time

ALICE, BOB, CAROL = ("0x" + c * 40 for c in "abc")


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres().init()
    yield pg
    pg.remove()


class Opened:
    """A store of one kind, opened (and reopened, as after a restart) on the same data."""

    def __init__(self, kind: str, tmp_path: Path, private_pg: PrivatePostgres) -> None:
        self.kind = kind
        self.clock = FakeClock()
        self.path = tmp_path / "messages.json"
        self.pg = private_pg
        self.url = private_pg.database() if kind == "postgres" else ""
        self.opened: list[Store] = []

    def open(self) -> Store:
        # The log holds only each chat's two latest messages in memory here: every read also takes the disk path.
        store: Store = (JsonlStore(self.path, clock=self.clock, recent=2) if self.kind == "jsonl"
                        else PgStore(self.url, self.clock, announce("contract")))
        store.start()
        self.opened.append(store)
        return store

    def close(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(params=["jsonl", "postgres"])
def kind(request, tmp_path, private_pg) -> Iterator[Opened]:
    opened = Opened(request.param, tmp_path, private_pg)
    yield opened
    opened.close()


@pytest.fixture
def store(kind) -> Store:
    s = kind.open()
    s.create_chat("c", [ALICE, BOB], "title", ALICE)
    return s


def send(store: Store, client_id: str, body: str = "hi", chat: str = "c", sender: str = ALICE) -> Message:
    return store.append(NewMessage(chat, sender, client_id, body))[0]


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def concurrently(*calls: Callable[[], object]) -> list[object]:
    greenlets = [gevent.spawn(call) for call in calls]
    gevent.joinall(greenlets, raise_error=True)
    return [g.value for g in greenlets]


# -- chats and members ---------------------------------------------------------------------------------------------

def test_a_chat_is_created_once_and_given_back_after(store):
    chat, created = store.create_chat("d", [ALICE], None, ALICE)
    again, created_again = store.create_chat("d", [BOB], "other", BOB)
    assert (created, created_again) == (True, False) and again == chat == store.chat("d")
    assert (chat.members, chat.created_by, chat.last_seq, chat.rev) == ([ALICE], ALICE, 0, 0)
    assert store.chat("none") is None


def test_members_are_added_once_in_order_and_within_the_limit(store):
    assert store.add_members("c", [CAROL, ALICE], 10).members == [ALICE, BOB, CAROL]
    assert store.is_member("c", CAROL) and not store.is_member("c", "0x" + "d" * 40)
    assert refused(lambda: store.add_members("c", ["0x" + "d" * 40], 3)).code == "invalid"
    assert refused(lambda: store.add_members("none", [CAROL], 10)).code == "not_found"


def test_a_member_is_removed_and_removing_one_who_is_not_is_not_found(store):
    assert store.remove_member("c", BOB).members == [ALICE]
    assert not store.is_member("c", BOB)
    assert refused(lambda: store.remove_member("c", BOB)).code == "not_found"


def test_a_member_removed_and_added_back_at_once_is_a_member_last_and_nobody_elses_write_fails(kind, store):
    store.add_members("c", [CAROL], 10)
    _, added, sent = concurrently(lambda: store.remove_member("c", BOB), lambda: store.add_members("c", [BOB], 10),
                                        lambda: send(store, "meanwhile"))  # likely one group commit for all three
    assert added.members == [ALICE, CAROL, BOB] and sent.body == "hi"
    assert store.chat("c").members == [ALICE, CAROL, BOB]
    store.close()
    assert kind.open().chat("c").members == [ALICE, CAROL, BOB]


def test_members_added_later_see_from_the_next_seq_on_or_from_where_the_adder_does(kind, store):
    DAVE, EVE = "0x" + "d" * 40, "0x" + "e" * 40
    send(store, "a")
    send(store, "b")
    store.add_members("c", [CAROL], 10)
    store.add_members("c", [DAVE], 10, share_from=CAROL)
    store.add_members("c", [EVE], 10, share_from=BOB)
    starts = {a: store.visible_from("c", a) for a in (ALICE, BOB, CAROL, DAVE, EVE)}
    assert starts == {ALICE: 1, BOB: 1, CAROL: 3, DAVE: 3, EVE: 1} and store.visible_from("c", "0x" + "f" * 40) is None
    assert store.late_members("c") == {CAROL: 3, DAVE: 3}
    m = send(store, "c")
    assert store.page("c", None, None, 10, 3) == ([m], False) and store.page("c", None, 0, 10, 3) == ([m], False)
    assert store.page("c", 3, None, 10, 3) == ([], False) and store.changes("c", 0, 10, 3) == ([m], False)
    assert [x.seq for x in store.page("c", None, None, 10)[0]] == [1, 2, 3]
    store.remove_member("c", CAROL)
    store.add_members("c", [CAROL], 10, share_from=ALICE)  # shared: all of it again
    send(store, "dave's", sender=DAVE)
    store.remove_member("c", DAVE)
    store.add_members("c", [DAVE], 10)  # back, from the chat's next message on
    assert refused(lambda: send(store, "dave's", sender=DAVE)).code == "conflict"  # not its earlier message
    store.close()
    again = kind.open()
    assert again.late_members("c") == {DAVE: 5} and again.visible_from("c", CAROL) == 1


def test_the_last_member_leaving_erases_the_chat_and_its_id_starts_again_after_it(kind, store):
    commits: list[Commit] = []
    store.subscribe(commits.append)
    a, b = send(store, "a", "secret"), send(store, "b", "secret", sender=BOB)
    store.change(a.id, lambda current: {"status": "confirmed"})  # b stays provisional
    store.remove_member("c", BOB)
    erased = store.remove_member("c", ALICE)
    assert (erased.id, erased.members, erased.last_seq, erased.rev) == ("c", [], 2, 3)
    assert commits[-1].chats[-1].chat == erased and commits[-1].chats[-1].removed == (ALICE,)
    assert store.chat("c") is None and not store.is_member("c", ALICE) and store.versions(["c"]) == {}
    assert store.message(a.id) is None and store.messages([a.id, b.id]) == {} and store.find(BOB, "b") is None
    assert store.unsettled() == [] and store.unsettled_by_kind() == {"payment": 0, "xmtp": 0, "plain": 0}
    assert store.chats_of(ALICE, None, 10) == ([], None)
    assert refused(lambda: store.change(b.id, lambda current: {"status": "confirmed"})).code == "not_found"
    assert refused(lambda: send(store, "late")).code == "not_found"

    def continues(s: Store) -> None:
        chat, created = s.create_chat("c", [CAROL], None, CAROL)
        assert created and (chat.members, chat.last_seq, chat.rev) == ([CAROL], 2, 3)
        assert s.page("c", None, None, 10) == ([], False) and s.changes("c", 0, 10) == ([], False)
        m = s.append(NewMessage("c", CAROL, "b", "new"))[0]  # an erased key, free again
        assert (m.seq, m.rev, m.id) == (3, 4, "c/3") and s.message(b.id) is None
        assert s.page("c", None, 0, 10) == ([m], False) and s.versions(["c"])["c"][1] > 0

    store.close()
    again = kind.open()
    continues(again)
    again.close()
    assert kind.open().page("c", None, None, 10)[0][0].body == "new"
    if kind.kind == "jsonl":
        assert b"secret" not in kind.path.read_bytes()


def test_a_chat_erased_and_registered_again_in_one_commit_has_versions_past_the_erased_ones(kind, store):
    """A node that missed both tells the change at resync by the versions alone: they must differ from the old ones."""
    send(store, "a")
    store.remove_member("c", BOB)
    before = store.versions(["c"])["c"]
    commits: list[Commit] = []
    store.subscribe(commits.append)
    _, (chat, created) = concurrently(lambda: store.remove_member("c", ALICE),
                                      lambda: store.create_chat("c", [CAROL], None, CAROL))
    assert len(commits) == 1 and [c.chat.members for c in commits[0].chats] == [[], [CAROL]]  # one commit
    assert created and (chat.members, chat.last_seq, chat.rev) == ([CAROL], 1, 1)
    for s in (store, kind.open()):
        rev, version = s.versions(["c"])["c"]
        assert rev >= before[0] and version > before[1], (before, (rev, version))
        assert s.chat("c").members == [CAROL] and not s.is_member("c", ALICE)


def test_a_chat_created_and_added_to_at_once_keeps_every_member(kind, store):
    concurrently(lambda: store.create_chat("d", [ALICE], None, ALICE), lambda: store.add_members("d", [BOB], 10))
    assert store.chat("d").members == [ALICE, BOB]
    store.close()
    assert kind.open().chat("d").members == [ALICE, BOB]


def test_an_addresss_chats_come_latest_activity_first_in_pages(store):
    for chat_id in ("d", "e", "f"):
        store.create_chat(chat_id, [ALICE], None, ALICE)
    send(store, "1", chat="d")
    first, cursor = store.chats_of(ALICE, None, 2)
    rest, end = store.chats_of(ALICE, cursor, 10)
    assert [c.id for c in first + rest] == ["d", "f", "e", "c"] and end is None
    assert [c.id for c in store.chats_of(BOB, None, 10)[0]] == ["c"]


def test_an_addresss_chat_ids_say_where_it_begins_and_how_far_each_chat_is(store):
    store.create_chat("d", [ALICE, BOB], None, ALICE)
    send(store, "1")
    send(store, "2")
    store.add_members("c", [CAROL], 10)
    assert store.chat_ids_of(ALICE) == {"c": (1, 2), "d": (1, 0)}
    assert store.chat_ids_of(CAROL) == {"c": (3, 2)} and store.chat_ids_of("0x" + "f" * 40) == {}
    store.remove_member("d", BOB)
    assert store.chat_ids_of(BOB) == {"c": (1, 2)}


def test_versions_count_revs_and_member_changes(store):
    before = store.versions(["c", "none"])
    send(store, "1")
    store.add_members("c", [CAROL], 10)
    after = store.versions(["c"])
    assert list(before) == ["c"] and after["c"][0] == before["c"][0] + 1 and after["c"][1] > before["c"][1]


# -- messages ------------------------------------------------------------------------------------------------------

def test_an_append_is_a_provisional_message_at_the_next_seq_and_rev(store, kind):
    first, second = send(store, "a", "one"), send(store, "b", "two")
    assert (first.id, first.seq, first.rev, second.seq, second.rev) == ("c/1", 1, 1, 2, 2)
    assert (first.status, first.source, first.sender, first.body) == ("provisional", "fallback", ALICE, "one")
    assert first.sent_at == first.updated_at == kind.clock.ms
    assert store.chat("c").last_seq == 2 and store.chat("c").rev == 2


def test_an_append_by_a_non_member_is_forbidden_and_to_no_chat_not_found(store):
    assert refused(lambda: send(store, "x", sender=CAROL)).code == "forbidden"
    assert refused(lambda: send(store, "y", chat="none")).code == "not_found"
    assert store.chat("c").last_seq == 0


def test_a_repeated_client_id_gives_back_the_first_message_in_its_current_state(store):
    first = send(store, "same", "first")
    changed = store.change(first.id, lambda m: {"xmtp_id": "x1"})
    again, created = store.append(NewMessage("c", ALICE, "same", "other body"))
    assert created is False and again == changed
    assert send(store, "same", sender=BOB).id != first.id, "the key is the sender's"


def test_concurrent_appends_commit_together_in_order(store):
    commits: list[Commit] = []
    store.subscribe(commits.append)
    stored = concurrently(*(lambda i=i: send(store, f"k{i}", str(i)) for i in range(20)))
    assert sorted(m.seq for m in stored) == list(range(1, 21))
    announced = [s.message for commit in commits for s in commit.messages]
    assert [m.seq for m in announced] == list(range(1, 21)) and len(commits) < 20, "fewer commits than writes"


def test_a_client_id_used_in_another_chat_is_a_conflict_and_stores_nothing(store):
    store.create_chat("d", [ALICE, BOB], None, ALICE)
    send(store, "k", "in c")
    assert refused(lambda: send(store, "k", "in d", chat="d")).code == "conflict"
    assert store.chat("d").last_seq == 0 and send(store, "k", "again in c").body == "in c"


def test_a_change_bumps_the_rev_and_no_change_bumps_nothing(store):
    m = send(store, "a")
    same = store.change(m.id, lambda current: None)
    changed = store.change(m.id, lambda current: {"status": "confirmed", "source": "xmtp"})
    assert same == m
    assert (changed.rev, changed.status, changed.seq) == (2, "confirmed", 1) and store.chat("c").rev == 2
    assert store.message(m.id) == changed
    assert refused(lambda: store.change("c/9", lambda current: {"status": "confirmed"})).code == "not_found"


def test_pages_of_history_go_up_or_down_by_seq(store):
    for i in range(1, 8):
        send(store, f"m{i}")
    seqs = lambda page: ([m.seq for m in page[0]], page[1])  # noqa: E731
    assert seqs(store.page("c", None, None, 3)) == ([5, 6, 7], True)
    assert seqs(store.page("c", 5, None, 3)) == ([2, 3, 4], True)
    assert seqs(store.page("c", 3, None, 3)) == ([1, 2], False)
    assert seqs(store.page("c", None, 5, 3)) == ([6, 7], False)
    assert seqs(store.page("c", 6, 1, 10)) == ([2, 3, 4, 5], False)


def test_changes_since_a_rev_come_in_rev_order_each_in_its_latest_state(store):
    a, b, c = send(store, "a"), send(store, "b"), send(store, "c")
    changed = store.change(a.id, lambda m: {"status": "confirmed"})
    found, more = store.changes("c", 1, 10)
    assert [m.id for m in found] == [b.id, c.id, a.id] and found[-1] == changed and not more
    page, more = store.changes("c", 0, 2)
    assert [m.id for m in page] == [b.id, c.id] and more


def test_provisional_messages_are_the_unsettled_ones(store):
    a, b = send(store, "a"), send(store, "b")
    store.change(a.id, lambda m: {"status": "confirmed"})
    assert store.unsettled() == [Unsettled(b.id, b.rev, b.sent_at, "plain")]
    assert store.unsettled_by_kind() == {"payment": 0, "xmtp": 0, "plain": 1}


def test_unsettled_messages_come_oldest_first_with_what_settles_each(store, kind):
    tx = {"hash": "0x" + "1" * 64, "chain_id": 42220, "to": BOB, "amount": "1", "token": "CELO"}
    paid = store.append(NewMessage("c", ALICE, "t", "paid", tx=tx))[0]
    kind.clock.advance(1)
    copied = store.append(NewMessage("c", BOB, "x", "copied", xmtp_id="xmtp-1"))[0]
    kind.clock.advance(1)
    plain = send(store, "p")
    assert [(u.id, u.kind) for u in store.unsettled()] == [(paid.id, "payment"), (copied.id, "xmtp"), (plain.id, "plain")]
    assert store.unsettled_by_kind() == {"payment": 1, "xmtp": 1, "plain": 1}


def test_unsettled_messages_of_some_kinds_only(store, kind):
    tx = {"hash": "0x" + "1" * 64, "chain_id": 42220, "to": BOB, "amount": "1", "token": "CELO"}
    paid = store.append(NewMessage("c", ALICE, "t", "paid", tx=tx))[0]
    copied = store.append(NewMessage("c", BOB, "x", "copied", xmtp_id="xmtp-1"))[0]
    send(store, "p")
    assert [u.id for u in store.unsettled(("payment", "xmtp"))] == [paid.id, copied.id]
    assert [u.id for u in store.unsettled(("xmtp",))] == [copied.id]


def test_plain_messages_come_due_by_the_time_they_were_sent_oldest_first_a_few_at_a_time(store, kind):
    tx = {"hash": "0x" + "1" * 64, "chain_id": 42220, "to": BOB, "amount": "1", "token": "CELO"}
    store.append(NewMessage("c", ALICE, "t", "paid", tx=tx))
    a = send(store, "a")
    store.append(NewMessage("c", BOB, "x", "copied", xmtp_id="xmtp-1"))
    b, settled = send(store, "b"), send(store, "settled")
    store.change(settled.id, lambda m: {"status": "confirmed"})
    kind.clock.advance(1)
    late = send(store, "late")
    other = send(store, "other", chat="d") if store.create_chat("d", [ALICE], None, ALICE) else None
    assert store.due_chats(a.sent_at - 1, 10) == {}
    assert store.due_chats(b.sent_at, 10) == {"c": b.seq}
    assert store.due_chats(late.sent_at, 2) == {"c": b.seq}, "at most `limit` messages counted"
    assert list(store.due_chats(other.sent_at, 10).items()) == [("c", late.seq), ("d", other.seq)], "oldest first"


def test_a_chat_is_confirmed_through_a_seq_in_one_commit_one_rev_per_message_in_seq_order(store, kind):
    tx = {"hash": "0x" + "1" * 64, "chain_id": 42220, "to": BOB, "amount": "1", "token": "CELO"}
    a = send(store, "a")
    paid = store.append(NewMessage("c", ALICE, "t", "paid", tx=tx))[0]
    copied = store.append(NewMessage("c", BOB, "x", "copied", xmtp_id="xmtp-1"))[0]
    b, settled = send(store, "b"), send(store, "settled")
    store.change(settled.id, lambda m: {"status": "corrected"})
    after = send(store, "after")
    commits: list[Commit] = []
    store.subscribe(commits.append)
    kind.clock.advance(5)
    rev = store.chat("c").rev
    confirmed = store.confirm_through("c", settled.seq)
    assert confirmed == Confirmed("c", settled.seq, rev + 1, rev + 2, kind.clock.now_ms())
    assert [(c.messages, c.confirmed) for c in commits] == [((), (confirmed,))], "one event, no message:update each"
    for current in (store, kind.open()):  # and so after a restart
        assert current.chat("c").rev == rev + 2
        changes, more = current.changes("c", rev, 10)
        assert [(m.id, m.rev, m.status, m.source, m.updated_at) for m in changes] == [
            (a.id, rev + 1, "confirmed", "fallback", confirmed.at), (b.id, rev + 2, "confirmed", "fallback", confirmed.at)]
        assert not more and current.page("c", None, None, 10)[0][:2] == [changes[0], current.message(paid.id)]
        assert [current.message(m.id).status for m in (paid, copied, after)] == ["provisional"] * 3
        assert current.due_chats(after.sent_at, 10) == {"c": after.seq}
    assert store.confirm_through("c", settled.seq) is None and len(commits) == 1, "nothing left: nothing written"
    assert refused(lambda: store.confirm_through("none", 1)).code == "not_found"


def test_a_confirmation_sees_the_changes_before_it_and_later_changes_see_it(store, kind):
    reacted, attested, dropped = send(store, "r"), send(store, "a"), store.append(
        NewMessage("c", ALICE, "d", "copied", xmtp_id="xmtp-2"))[0]
    results = concurrently(  # one batch, in this order
        lambda: react(store, reacted, BOB),
        lambda: store.change(attested.id, lambda m: {"xmtp_id": "xmtp-3"}),
        lambda: store.change(dropped.id, lambda m: {"xmtp_id": None}),
        lambda: store.confirm_through("c", dropped.seq),
        lambda: store.change(reacted.id, lambda m: {"body": "edited"}),
    )
    confirmed, edited = results[3], results[4]
    assert isinstance(confirmed, Confirmed) and confirmed.rev - confirmed.first_rev == 1, "the reacted and the dropped"
    for current in (store, kind.open()):
        r, a, d = (current.message(m.id) for m in (reacted, attested, dropped))
        assert (r.status, r.reactions, r.body, r.rev) == ("confirmed", {"👍": [BOB]}, "edited", edited.rev)
        assert (a.status, d.status, d.rev) == ("provisional", "confirmed", confirmed.rev)
        assert edited.rev == confirmed.rev + 1 == current.chat("c").rev


def test_a_change_later_in_the_batch_of_a_confirmation_starts_from_what_the_clock_made_the_message(store, kind):
    sent = [send(store, f"m{i}") for i in range(4)]  # the first two past what the log keeps whole here
    confirmed, deleted, edited = concurrently(  # one batch, in this order
        lambda: store.confirm_through("c", sent[-1].seq),
        lambda: store.change(sent[0].id, lambda m: deleted_fields()),
        lambda: store.change(sent[3].id, lambda m: {"body": "edited"}),
    )
    assert isinstance(confirmed, Confirmed) and (deleted.rev, edited.rev) == (confirmed.rev + 1, confirmed.rev + 2)
    for current in (store, kind.open()):
        d, e = current.message(sent[0].id), current.message(sent[3].id)
        assert (d.status, d.source, d.deleted, d.rev) == ("confirmed", "fallback", True, deleted.rev)
        assert (e.status, e.source, e.body, e.rev) == ("confirmed", "fallback", "edited", edited.rev)
        assert current.changes("c", confirmed.rev, 10) == ([d, e], False)


def test_a_chat_confirmed_twice_in_one_batch_confirms_each_message_once(store, kind):
    sent = [send(store, f"m{i}") for i in range(3)]
    first, again = concurrently(lambda: store.confirm_through("c", 3), lambda: store.confirm_through("c", 3))
    assert (first.first_rev, first.rev, again) == (sent[-1].rev + 1, sent[-1].rev + 3, None)
    assert [m.rev for m in kind.open().changes("c", sent[-1].rev, 10)[0]] == [first.rev - 2, first.rev - 1, first.rev]


def test_a_message_plain_again_before_a_seq_its_chat_was_confirmed_through_is_confirmed_by_the_next(store, kind):
    """A confirmation need not look again below the seqs it confirmed, but one made plain since (its XMTP copy no
    longer compared) is found there; far from the two messages the log keeps whole here."""
    copied = store.append(NewMessage("c", ALICE, "x", "copied", xmtp_id="xmtp-1"))[0]
    plain = send(store, "p")
    first = store.confirm_through("c", plain.seq)
    assert (first.first_rev, first.rev) == (plain.rev + 1, plain.rev + 1), "the copy waits on XMTP"
    later = [send(store, f"later {i}") for i in range(3)]
    again = store.change(copied.id, lambda m: deleted_fields())  # its text gone: the clock settles it now
    assert store.unsettled_by_kind() == {"payment": 0, "xmtp": 0, "plain": 4}
    kind.clock.advance(7)
    second = store.confirm_through("c", plain.seq)
    assert second == Confirmed("c", plain.seq, again.rev + 1, again.rev + 1, kind.clock.now_ms())
    for current in (store, kind.open()):
        m = current.message(copied.id)
        assert (m.status, m.source, m.rev, m.updated_at, m.deleted) == (
            "confirmed", "fallback", second.rev, second.at, True)
        assert current.due_chats(later[-1].sent_at, 10) == {"c": later[-1].seq}
        assert current.unsettled_by_kind() == {"payment": 0, "xmtp": 0, "plain": 3}


def test_what_settles_a_message_is_decided_by_models_settled_by_in_both_stores(store):
    tx = {"hash": "0x" + "2" * 64, "chain_id": 42220, "to": BOB, "amount": "1", "token": "CELO"}
    sent = [
        store.append(NewMessage("c", ALICE, "both", "paid, with a copy", tx=tx, xmtp_id="xmtp-2"))[0],
        store.append(NewMessage("c", ALICE, "copy", "copied", xmtp_id="xmtp-3"))[0],
        send(store, "plain"),
    ]
    kinds = {u.id: u.kind for u in store.unsettled()}  # on PostgreSQL, the SQL built by settled_by_sql
    assert [kinds[m.id] for m in sent] == [settled_by(m) for m in sent] == ["payment", "xmtp", "plain"]


def test_store_refusals_are_domain_errors_the_edge_names(store):
    assert isinstance(refused(lambda: send(store, "x", chat="none")), NotFound)
    assert isinstance(refused(lambda: send(store, "y", sender=CAROL)), Forbidden)
    assert isinstance(refused(lambda: store.add_members("c", ["0x" + "d" * 40], 2)), Invalid)
    assert [CODES[NotFound], CODES[Forbidden], CODES[Invalid]] == ["not_found", "forbidden", "invalid"]


def test_messages_are_read_many_at_once_and_found_by_their_key(store):
    a, b = send(store, "a"), send(store, "b")
    assert store.messages([a.id, b.id, "c/99", "none/1"]) == {a.id: a, b.id: b}
    assert store.find(ALICE, "b") == b and store.find(BOB, "b") is None


def test_old_messages_come_back_in_their_current_state_by_page_rev_id_and_key_also_after_a_restart(kind, store):
    """Far more messages than the log keeps whole in memory here (two a chat): the old ones, changed after newer ones
    were sent, are read from disk wherever they are asked for."""
    sent = [send(store, f"m{i}", f"body {i}", sender=(ALICE, BOB)[i % 2]) for i in range(1, 13)]
    rev = store.chat("c").rev
    store.change(sent[1].id, lambda m: {"xmtp_id": "x"})
    store.react(sent[2].id, Reaction(BOB, "🎉", True))
    store.change(sent[3].id, lambda m: deleted_fields())
    store.change(sent[0].id, lambda m: {"status": "confirmed"})
    current = store.messages([m.id for m in sent])
    assert [m.rev for m in (current[sent[i].id] for i in (1, 2, 3, 0))] == [rev + 1, rev + 2, rev + 3, rev + 4]

    def same(s: Store) -> None:
        assert s.page("c", None, None, 12) == ([current[m.id] for m in sent], False)
        assert s.page("c", 6, None, 3) == ([current[m.id] for m in sent[2:5]], True)
        assert s.page("c", None, 2, 4) == ([current[m.id] for m in sent[2:6]], True)
        assert s.changes("c", rev, 10) == ([current[sent[i].id] for i in (1, 2, 3, 0)], False)
        assert s.changes("c", 0, 3) == ([current[m.id] for m in sent[4:7]], True)
        assert all(s.message(m.id) == current[m.id] for m in sent)
        assert s.find(BOB, "m3") == current[sent[2].id] and s.find(ALICE, "m3") is None
        assert s.append(NewMessage("c", ALICE, "m2", "again"))[0] == current[sent[1].id]  # a repeat: as it is now
        assert refused(lambda: s.append(NewMessage("d", ALICE, "m2", "elsewhere"))).code == "conflict"
        assert {u.id for u in s.unsettled()} == {m.id for m in sent[1:]}
        assert s.due_chats(sent[-1].sent_at, 3) == {"c": sent[4].seq}  # m2 waits on XMTP: m3..m5 are the first due

    store.create_chat("d", [ALICE, BOB], None, ALICE)
    same(store)
    store.close()
    same(kind.open())


def test_commits_announce_new_and_changed_messages_and_chat_changes(store):
    commits: list[Commit] = []
    store.subscribe(commits.append)
    m = send(store, "a")
    store.change(m.id, lambda current: {"status": "retracted", "reason": "dropped"})
    store.add_members("c", [CAROL], 10)
    store.remove_member("c", BOB)
    assert [(s.message.rev, s.new) for c in commits for s in c.messages] == [(1, True), (2, False)]
    changes = [change for c in commits for change in c.chats]
    assert [(ch.added, ch.removed, ch.visible_from) for ch in changes] == [((CAROL,), (), 2), ((), (BOB,), 1)]
    assert all(isinstance(ch, ChatChanged) for ch in changes) and changes[-1].chat.members == [ALICE, CAROL]


def test_delivery_learns_where_added_members_begin_from_the_commit_without_a_read(store, kind):
    """The commit says it: the writer, which hands commits on, never waits on a read (nor fails for want of one)."""
    fanout = Fanout(store, lambda stored: None, lambda chat: None, lambda chat_id: False)
    fanout.serve("c")
    commits: list[Commit] = []
    store.subscribe(commits.append)
    send(store, "a")
    store.add_members("c", [CAROL], 10)
    with storage_down(kind):  # nothing can be read now
        for commit in commits:
            fanout.publish(commit)
        assert fanout.late("c") == {CAROL: 2}


def test_a_sign_out_is_announced_kept_across_a_restart_and_forgotten_past_its_until(store, kind):
    commits: list[Commit] = []
    store.subscribe(commits.append)
    now = kind.clock.now_ms()
    store.revoke_session("brief", now + 1_000)
    store.revoke_session("long", now + 100_000)
    store.revoke_session("long", now + 50_000)  # a repeat never shortens it
    assert [(r.session, r.until) for c in commits for r in c.revoked][:2] == [("brief", now + 1_000),
                                                                             ("long", now + 100_000)]
    assert all(not c.messages and not c.chats for c in commits)
    assert store.revoked_sessions() == {"brief": now + 1_000, "long": now + 100_000}
    kind.clock.advance(1_000)
    assert store.revoked_sessions() == {"long": now + 100_000}
    store.close()
    again = kind.open()
    assert again.revoked_sessions() == {"long": now + 100_000}
    kind.clock.advance(99_000)
    assert again.revoked_sessions() == {}


def test_everything_is_there_again_after_a_restart(store, kind):
    m = send(store, "a", "kept")
    store.change(m.id, lambda current: {"xmtp_id": "x"})
    store.remove_member("c", BOB)
    chat, history = store.chat("c"), store.page("c", None, None, 10)
    store.close()
    again = kind.open()
    assert again.chat("c") == chat and again.page("c", None, None, 10) == history
    assert send(again, "b").seq == 2 and again.find(ALICE, "a").xmtp_id == "x"


def test_when_storage_fails_a_write_is_answered_unavailable_and_stores_nothing(store, kind):
    send(store, "before")
    with storage_down(kind):
        error = refused(lambda: send(store, "during", "x" * 4000))
    assert error.code == "unavailable"
    assert [m.client_id for m in store.page("c", None, None, 10)[0]] == ["before"]
    kind.clock.advance(60_000)  # whatever a store waits before trying storage again
    assert send(store, "after").seq == 2, "and it takes writes again once storage is back"


# -- read and delivered positions, settings (v1.2) -------------------------------------------------------------------

def positions(store: Store, address: str, chat: str = "c") -> tuple[int, int]:
    view = store.view(chat, address)
    return view.read_seq, view.delivered_seq


def test_a_mark_moves_positions_forward_only_clamped_to_last_seq_delivered_at_least_read(store):
    for client_id in "abc":
        send(store, client_id, sender=BOB)
    assert positions(store, ALICE) == (0, 0), "a chat's first members start at 0"
    assert store.mark("c", ALICE, None, 2) == (Position(0, 2, True), True)
    assert store.mark("c", ALICE, 1, None) == (Position(1, 2, True), True)
    assert store.mark("c", ALICE, 0, 1)[1] is False, "never back: a mark that moves nothing is no change"
    assert store.mark("c", ALICE, 99, None) == (Position(3, 3, True), True), "above last_seq: taken as last_seq"
    assert positions(store, ALICE) == (3, 3)
    assert refused(lambda: store.mark("c", CAROL, 1, None)).code == "forbidden"
    assert refused(lambda: store.mark("nope", ALICE, 1, None)).code == "not_found"


def test_the_chat_as_a_member_sees_it_has_its_last_message_positions_and_unread(store):
    for client_id in "abcd":
        send(store, client_id, sender=BOB)
    store.mark("c", ALICE, 1, None)
    view = store.view("c", ALICE)
    assert (view.last_message.client_id, view.read_seq, view.delivered_seq, view.unread) == ("d", 1, 1, 3)
    assert store.chats_of(ALICE, None, 10)[0] == [view]
    assert store.view("c", BOB).unread == 0, "a send moves its sender's positions to it: its own are never unread"
    outsider = store.view("c", CAROL)
    assert (outsider.last_message, outsider.read_seq, outsider.unread) == (None, 0, 0)


def test_a_send_moves_its_senders_positions_to_at_least_its_seq(store):
    send(store, "a", sender=BOB)
    store.mark("c", ALICE, None, 1)
    m = send(store, "b")
    assert positions(store, ALICE) == (m.seq, m.seq)
    both = concurrently(lambda: send(store, "c"), lambda: store.mark("c", ALICE, 1, 1))  # one commit, likely
    assert both[1][1] is False, "whether planned before the send or after it, the mark moves nothing"
    assert positions(store, ALICE) == (3, 3), "a mark in the same commit as a send never takes it back"


def test_a_member_added_later_starts_at_last_seq_with_nothing_of_before(store):
    send(store, "a")
    send(store, "b")
    store.add_members("c", [CAROL], 10, share_from=ALICE)
    view = store.view("c", CAROL)
    assert (view.read_seq, view.delivered_seq, view.unread) == (2, 2, 0)
    assert store.mark("c", CAROL, 1, None) == (Position(2, 2), False), "below its start reads as its start"
    store.add_members("c", ["0x" + "d" * 40], 10)
    late = store.view("c", "0x" + "d" * 40)
    assert late.last_message is None and late.last_seq == 2, "no message of before reaches a late member"
    send(store, "c", sender=BOB)
    assert store.view("c", "0x" + "d" * 40).last_message.client_id == "c" and store.view("c", CAROL).unread == 1


def test_deleted_messages_after_read_seq_are_not_unread_also_after_a_restart(store, kind):
    sent = [send(store, client_id, sender=BOB) for client_id in "abcde"]
    store.mark("c", ALICE, 2, None)
    for m in (sent[0], sent[2], sent[4]):  # one at or below read_seq, two after it
        store.change(m.id, lambda current: deleted_fields())
    view = store.view("c", ALICE)
    assert (view.unread, view.last_message.deleted) == (5 - 2 - 2, True)
    assert [c.unread for c in store.chats_of(ALICE, None, 10)[0]] == [1]
    store.close()
    assert kind.open().view("c", ALICE).unread == 1


def test_join_receipts_list_those_who_share_and_marked_or_sent_and_the_caller(store):
    store.add_members("c", [CAROL], 10)
    send(store, "a", sender=BOB)
    assert store.receipts("c", ALICE) == {ALICE: Position(0, 0), BOB: Position(1, 1, True)}
    store.mark("c", CAROL, None, 1)
    store.put_settings(BOB, {"read_receipts": False})
    assert store.receipts("c", ALICE) == {ALICE: Position(0, 0), CAROL: Position(0, 1, True)}
    assert store.receipts("c", BOB)[BOB] == Position(1, 1, True), "one's own, shared or not"


def test_settings_change_what_a_put_names_and_keep_the_rest(store):
    assert store.settings(ALICE) == Settings(read_receipts=True, push_previews=True)
    assert store.put_settings(ALICE, {"push_previews": False}) == Settings(True, False)
    assert store.put_settings(ALICE, {"read_receipts": False}) == Settings(False, False)
    assert store.settings(ALICE) == Settings(False, False) and store.settings(BOB) == Settings()


def test_a_mark_that_moves_is_announced_with_where_its_receipt_goes_and_one_that_does_not_is_not(store):
    commits: list[Commit] = []
    send(store, "a", sender=BOB)
    store.put_settings(ALICE, {"read_receipts": False})
    store.subscribe(commits.append)
    store.mark("c", ALICE, 1, None)
    store.mark("c", ALICE, 1, None)
    store.mark("c", BOB, None, 1)
    assert [p for c in commits for p in c.positions] == [PositionMoved("c", ALICE, 1, 1, False, 2)]


def test_positions_and_settings_are_there_again_after_a_restart(store, kind):
    send(store, "a", sender=BOB)
    send(store, "b", sender=BOB)
    store.mark("c", ALICE, 1, 2)
    store.add_members("c", [CAROL], 10)
    store.put_settings(CAROL, {"read_receipts": False})
    store.close()
    again = kind.open()
    assert positions(again, ALICE) == (1, 2) and positions(again, BOB) == (2, 2) and positions(again, CAROL) == (2, 2)
    assert again.receipts("c", ALICE) == {ALICE: Position(1, 2, True), BOB: Position(2, 2, True)}
    assert again.settings(CAROL) == Settings(read_receipts=False)


class storage_down:
    """The store's storage refuses writes: the log's file may not grow (RLIMIT_FSIZE), or PostgreSQL is stopped."""

    def __init__(self, kind: Opened) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        if self.kind.kind == "jsonl":
            self.limit = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.kind.path.stat().st_size + 100, self.limit[1]))
        else:
            self.kind.pg.stop("immediate")

    def __exit__(self, *exc: object) -> None:
        if self.kind.kind == "jsonl":
            resource.setrlimit(resource.RLIMIT_FSIZE, self.limit)
        else:
            self.kind.pg.start()
            for store in self.kind.opened:  # and each store has found it back (it refuses at once until then)
                assert store.answering(10)


# -- replies, reactions, deletion (v1.2) ------------------------------------------------------------------------------

def reply(store: Store, client_id: str, reply_to: str, sender: str = ALICE) -> Message:
    return store.append(NewMessage("c", sender, client_id, "re", reply_to=reply_to))[0]


def react(store: Store, m: Message, address: str, emoji: str = "👍", added: bool = True) -> Message:
    return store.react(m.id, Reaction(address, emoji, added))


def test_a_reply_names_a_message_of_its_chat_that_the_sender_sees(kind, store):
    first = send(store, "a")
    assert reply(store, "r", first.id).reply_to == first.id
    both = concurrently(lambda: send(store, "b"), lambda: reply(store, "rb", "c/3"))  # one commit: b is 3
    assert both[1].reply_to == "c/3"
    store.create_chat("d", [ALICE], None, ALICE)
    other = send(store, "d1", chat="d")
    for bad in ("c/99", other.id):
        assert refused(lambda: reply(store, "bad", bad)).code == "invalid"
    store.add_members("c", [CAROL], 10)  # sees from seq 5 on
    assert refused(lambda: reply(store, "late", first.id, sender=CAROL)).code == "invalid"
    assert reply(store, "r", "c/99") == reply(store, "r", first.id)  # a repeat: the first message, not checked again
    assert kind.open().message("c/2").reply_to == first.id
    assert send(store, "plain").reply_to is None


def test_a_reaction_is_state_on_the_message_a_change_bumps_rev_and_a_repeat_changes_nothing(kind, store):
    commits: list[Commit] = []
    store.subscribe(commits.append)
    m = send(store, "a")
    liked = react(store, m, BOB)
    assert (liked.reactions, liked.reaction_counts, liked.rev) == ({"👍": [BOB]}, {"👍": 1}, m.rev + 1)
    assert commits[-1].messages[-1].message == liked and not commits[-1].messages[-1].new
    assert react(store, m, BOB) == liked and store.chat("c").rev == liked.rev  # nothing changed: no bump
    both = react(store, m, ALICE)
    assert both.reactions == {"👍": sorted([ALICE, BOB], key=str.lower)} and both.reaction_counts == {"👍": 2}
    assert react(store, m, CAROL, added=False) == both
    assert store.changes("c", liked.rev, 10)[0] == [both]
    again = kind.open()
    assert again.message(m.id) == both
    gone = again.react(m.id, Reaction(BOB, "👍", False))
    gone = again.react(m.id, Reaction(ALICE, "👍", False))
    assert (gone.reactions, gone.reaction_counts) == ({}, {})  # the last reactor's removal: the emoji leaves the map


def test_a_message_shows_the_50_latest_reactors_per_emoji_and_counts_them_all(kind, store):
    m = send(store, "a")
    reactors = ["0x" + f"{i:040x}" for i in range(1, 53)]
    for address in reactors:
        shown = react(store, m, address)
    assert shown.reaction_counts == {"👍": 52} and shown.reactions["👍"] == sorted(reactors[2:], key=str.lower)
    again = kind.open()  # every reactor was kept: removing one of the shown brings the one before back
    fewer = again.react(m.id, Reaction(reactors[-1], "👍", False))
    assert fewer.reaction_counts == {"👍": 51} and fewer.reactions["👍"] == sorted(reactors[1:-1], key=str.lower)


def test_a_message_takes_at_most_20_distinct_emoji(store):
    m = send(store, "a")
    for i in range(20):
        m = react(store, m, BOB, chr(0x1F600 + i))
    assert refused(lambda: react(store, m, BOB, "🚀")).code == "invalid"
    assert react(store, m, ALICE, chr(0x1F600)).reaction_counts[chr(0x1F600)] == 2  # one of the 20: fine


def test_a_deleted_message_keeps_its_place_loses_its_text_and_reactions_and_takes_none_again(kind, store):
    first = send(store, "a")
    m = reply(store, "r", first.id)
    react(store, m, BOB)
    deleted = store.change(m.id, lambda current: deleted_fields())
    assert (deleted.deleted, deleted.body, deleted.original, deleted.reactions, deleted.reaction_counts) == (
        True, "", None, {}, {})
    assert (deleted.seq, deleted.sender, deleted.sent_at, deleted.reply_to) == (m.seq, m.sender, m.sent_at, first.id)
    assert refused(lambda: react(store, m, BOB, "🎉")).code == "invalid"
    again = kind.open()
    assert again.message(m.id) == deleted and again.find(ALICE, "r") == deleted
    if kind.kind == "postgres":  # overwritten in place, its reactors gone with it
        import psycopg
        with psycopg.connect(kind.url) as conn:
            assert conn.execute("SELECT body, original FROM messages WHERE chat_id = 'c' AND seq = 2").fetchone() == (
                "", None)
            assert conn.execute("SELECT count(*) FROM reactions WHERE seq = 2").fetchone() == (0,)


def test_a_deleted_xmtp_copy_is_settled_by_the_clock_and_a_deleted_payment_by_the_chain(store, kind):
    tx = {"hash": "0x" + "3" * 64, "chain_id": 42220, "to": BOB, "amount": "1", "token": "CELO"}
    paid = store.append(NewMessage("c", ALICE, "t", "paid", tx=tx))[0]
    copied = store.append(NewMessage("c", ALICE, "x", "copied", xmtp_id="xmtp-9"))[0]
    for m in (paid, copied):
        store.change(m.id, lambda current: deleted_fields())
    assert {u.id: u.kind for u in store.unsettled()} == {paid.id: "payment", copied.id: "plain"}
    assert store.due_chats(copied.sent_at, 10) == {"c": copied.seq}
    assert settled_by(store.message(copied.id)) == "plain"


def test_a_plain_message_that_waited_on_its_xmtp_copy_and_is_plain_again_comes_due_once(store, kind):
    m = send(store, "a")
    store.change(m.id, lambda current: {"xmtp_id": "xmtp-5"})  # now its XMTP copy settles it
    assert store.due_chats(m.sent_at, 10) == {} and store.unsettled_by_kind()["xmtp"] == 1
    again = store.change(m.id, lambda current: deleted_fields())  # its text gone: the clock settles it again
    for s in (store, kind.open()):
        assert s.due_chats(m.sent_at, 10) == {"c": again.seq} and [u.id for u in s.unsettled()] == [m.id]
        assert s.unsettled_by_kind() == {"payment": 0, "xmtp": 0, "plain": 1}


def test_a_chat_erased_as_its_last_member_leaves_takes_its_reactors_with_it(kind, store):
    m = send(store, "a")
    react(store, m, BOB)
    store.remove_member("c", BOB)
    store.remove_member("c", ALICE)
    if kind.kind == "postgres":
        import psycopg
        with psycopg.connect(kind.url) as conn:
            assert conn.execute("SELECT count(*) FROM reactions WHERE chat_id = 'c'").fetchone() == (0,)
    else:
        assert kind.open().state.reactors == {} and store.state.reactions == 0


# -- Farcaster notification tokens and links (v1.2) -------------------------------------------------------------------

KEY_1, KEY_2 = "0x" + "1" * 64, "0x" + "2" * 64


def test_farcaster_tokens_are_one_per_client_dropped_by_client_and_there_again_after_a_restart(kind):
    store = kind.open()
    store.put_farcaster_token(FarcasterToken(7, KEY_1, "https://a.example/n", "old"))
    store.put_farcaster_token(FarcasterToken(7, KEY_1, "https://a.example/n", "new"))  # the client's latest replaces
    store.put_farcaster_token(FarcasterToken(7, KEY_2, "https://b.example/n", "other"))
    store.put_farcaster_token(FarcasterToken(8, KEY_1, "https://a.example/n", "fid 8"))
    store.drop_farcaster_tokens(8, KEY_1)
    store.drop_farcaster_tokens(9, KEY_1)  # none: nothing changes
    store.link_farcaster(ALICE, 7)
    store.link_farcaster(BOB, 8)
    store.link_farcaster(BOB, 7)  # the latest link
    store.close()
    again = kind.open()
    assert again.farcaster_tokens(7) == [FarcasterToken(7, KEY_1, "https://a.example/n", "new"),
                                         FarcasterToken(7, KEY_2, "https://b.example/n", "other")]
    assert again.farcaster_tokens(8) == []
    assert (again.farcaster_fid(ALICE), again.farcaster_fid(BOB), again.farcaster_fid(CAROL)) == (7, 7, None)
    again.drop_farcaster_tokens(7, KEY_2)
    assert again.farcaster_tokens(7) == [FarcasterToken(7, KEY_1, "https://a.example/n", "new")]
# -- Web Push subscriptions (v1.2) -------------------------------------------------------------------------------------

def sub(n: int, address: str = ALICE, session: str = "s1", auth: str = "a") -> PushSubscription:
    return PushSubscription(f"https://push.example/{n}", address, "p", auth, session)


def endpoints(store: Store, address: str) -> list[str]:
    return [s.endpoint.rsplit("/", 1)[1] for s in store.push_subscriptions(address)]


def test_a_subscription_is_created_once_then_kept_and_renewed(store):
    assert store.put_push_subscription(sub(1)) is True
    assert store.put_push_subscription(sub(1, auth="b")) is False
    assert store.push_subscriptions(ALICE) == [sub(1, auth="b")] and store.push_subscriptions(BOB) == []


def test_an_eleventh_subscription_drops_the_addresss_oldest(store):
    for n in range(11):
        store.put_push_subscription(sub(n))
    store.put_push_subscription(sub(99, address=BOB))
    assert endpoints(store, ALICE) == [str(n) for n in range(1, 11)] and endpoints(store, BOB) == ["99"]


def test_registering_an_endpoint_again_moves_it_to_that_address(store):
    store.put_push_subscription(sub(1))
    store.put_push_subscription(sub(2))
    assert store.put_push_subscription(sub(1, address=BOB)) is True
    assert endpoints(store, ALICE) == ["2"] and endpoints(store, BOB) == ["1"]


def test_subscriptions_end_by_endpoint_by_address_and_by_session(store):
    store.put_push_subscription(sub(1))
    store.put_push_subscription(sub(2, session="s2"))
    store.put_push_subscription(sub(3, address=BOB, session="s1"))
    store.drop_push_subscriptions(endpoint="https://push.example/3", address=ALICE)  # not Alice's: kept
    assert endpoints(store, BOB) == ["3"]
    store.drop_push_subscriptions(address=ALICE, session="s1")
    assert endpoints(store, ALICE) == ["2"] and endpoints(store, BOB) == ["3"]
    store.drop_push_subscriptions(endpoint="https://push.example/3")
    assert endpoints(store, BOB) == []


def test_subscriptions_are_there_again_after_a_restart(store, kind):
    for n in range(3):
        store.put_push_subscription(sub(n))
    store.put_push_subscription(sub(0, address=BOB))
    store.drop_push_subscriptions(endpoint="https://push.example/1")
    store.close()
    again = kind.open()
    assert endpoints(again, ALICE) == ["2"] and again.push_subscriptions(BOB) == [sub(0, address=BOB)]


def test_reachable_is_the_chats_members_with_subscriptions_or_tokens_and_their_previews(store):
    dave, erin = "0x" + "d" * 40, "0x" + "e" * 40
    store.create_chat("r", [ALICE, BOB, CAROL, dave], None, ALICE)
    assert store.reachable("r") == [] and store.reachable("no such chat") == []
    store.put_push_subscription(sub(2, address=BOB))
    store.put_push_subscription(sub(1, address=BOB))
    store.put_push_subscription(sub(3, address=erin))  # not a member
    store.put_settings(BOB, {"push_previews": False})
    store.put_farcaster_token(FarcasterToken(7, KEY_1, "https://a.example/n", "t"))
    store.link_farcaster(CAROL, 7)
    store.link_farcaster(dave, 8)  # linked, but no client of fid 8 registered a token
    store.put_push_subscription(sub(4, address=CAROL))
    assert store.reachable("r") == [
        Reachable(BOB, False, (sub(2, address=BOB), sub(1, address=BOB))),
        Reachable(CAROL, True, (sub(4, address=CAROL),), (FarcasterToken(7, KEY_1, "https://a.example/n", "t"),)),
    ]
    store.remove_member("r", BOB)
    assert [r.address for r in store.reachable("r")] == [CAROL]


def test_a_commit_says_which_change_settled_a_message(store):
    commits: list[Commit] = []
    store.subscribe(commits.append)
    m = send(store, "settle")
    store.change(m.id, lambda current: {"xmtp_id": "x"})  # a change that leaves it provisional
    store.change(m.id, lambda current: {"status": "confirmed", "source": "fallback"})
    store.react(m.id, Reaction(BOB, "👍", True))  # a change of a settled one
    heard = [(s.new, s.settled) for commit in commits for s in commit.messages]
    assert heard == [(True, False), (False, False), (False, True), (False, False)]
