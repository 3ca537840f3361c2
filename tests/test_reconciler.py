"""The reconciler's schedule, in process: nothing falls off it, backoffs hold, and a round costs what is due.

The sources of truth are stubbed at their edges (the chain's JSON-RPC calls, the XMTP check) and the clock is a
fake one; settlement against a real chain and a real gateway stand-in is in test_settle_chain/test_settle_xmtp.
"""
from __future__ import annotations

from typing import Any

import pytest
from eth_utils import to_checksum_address

from optimistic_messaging import reconciler as reconciler_module
from optimistic_messaging.config import Config
from optimistic_messaging.errors import ApiError
from optimistic_messaging.reconciler import MAX_POLL_MS, Reconciler
from optimistic_messaging.reactions import deleted_fields

from optimistic_messaging.store.base import NewMessage
from optimistic_messaging.store.jsonl import JsonlStore
from optimistic_messaging.verifiers import VerifierDown

from support import FakeClock

ALICE = to_checksum_address("0x" + "a" * 40)  # senders are stored checksummed, as messaging.py makes them
BOB = to_checksum_address("0x" + "b" * 40)
GRACE_S = 30
INTERVAL_MS = 1000
HASH = "0x" + "11" * 32

pytestmark = pytest.mark.jsonl  # the JSON-lines store in process; tests/test_store_contract.py covers both


@pytest.fixture
def clock() -> FakeClock:
    """The one clock of the store and the reconciler: time moves only when a test says so."""
    return FakeClock(1_000_000)


@pytest.fixture
def store(tmp_path, clock):
    s = JsonlStore(tmp_path / "messages.json", fsync=False, clock=clock)
    s.start()
    s.create_chat("c", [ALICE, BOB], None, ALICE)
    yield s
    s.close()


def reconciler(store: JsonlStore, **settings: Any) -> Reconciler:
    config = Config(secret_key="k" * 64, xmtp_grace_s=GRACE_S, reconcile_interval_s=INTERVAL_MS / 1000, **settings)
    r = Reconciler(config, store, store.clock)
    store.subscribe(r.noticed)
    r.start()
    return r


def send(store: JsonlStore, client_id: str, **fields: Any):
    return store.append(NewMessage("c", ALICE, client_id, "hi", **fields))[0]


def payment(store: JsonlStore, client_id: str = "pay"):
    return send(store, client_id, tx={"chain_id": 42220, "hash": HASH, "to": BOB, "value": "1", "token": None})


class Node:
    """What the chain node answers: a final head, and for the one transaction a receipt (or none yet)."""

    def __init__(self) -> None:
        self.head = 10
        self.receipt: dict[str, Any] | None = None
        self.block: Any = {"hash": "0xb1"}
        self.batches = 0

    def mined(self, block: int = 5) -> None:
        self.receipt = {"blockNumber": hex(block), "blockHash": "0xb1", "status": "0x1", "logs": []}

    def request(self, method: str, params: list[Any]) -> Any:
        return {"jsonrpc": "2.0", "id": 1, "result": {"number": hex(self.head)}}

    def batch(self, requests: list[tuple[str, list[Any]]]) -> list[Any]:
        self.batches += 1
        answers = {"eth_getTransactionReceipt": self.receipt,
                   "eth_getTransactionByHash": {"from": ALICE, "to": BOB, "value": "0x1"},
                   "eth_getBlockByNumber": self.block}
        return [{"jsonrpc": "2.0", "id": 1, "result": answers[method]} for method, _ in requests]


def on_chain(rec: Reconciler) -> Node:
    node = Node()
    rec.chain._request, rec.chain._batch = node.request, node.batch
    return node


def status(store: JsonlStore, message) -> str:
    return store.message(message.id).status


def test_a_round_that_fails_puts_every_message_it_took_back(store, clock, monkeypatch):
    rec = reconciler(store)
    plain = send(store, "plain")
    clock.ms += GRACE_S * 1000
    monkeypatch.setattr(rec, "_apply", lambda *args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        rec.round()
    monkeypatch.undo()
    clock.ms += reconciler_module.MAX_BACKOFF_MS
    rec.round()
    assert status(store, plain) == "confirmed" and rec.errors == 1


@pytest.mark.parametrize("garbage", ["not a block", None])
def test_garbage_from_the_chain_node_settles_nothing_and_is_asked_again_later(store, clock, garbage):
    rec = reconciler(store, chain_rpc_url="http://127.0.0.1:9")
    node = on_chain(rec)
    node.mined()
    if garbage is None:
        node.receipt.pop("blockHash")  # a receipt without its block hash
    else:
        node.block = garbage  # a block that is no block
    sent = payment(store)
    rec.round()
    assert status(store, sent) == "provisional"
    node.mined()
    node.block = {"hash": "0xb1"}
    clock.ms += reconciler_module.MAX_BACKOFF_MS
    rec.round()
    assert status(store, sent) == "confirmed"


def test_a_payment_backing_off_does_not_wake_the_head_watch(store, clock):
    rec = reconciler(store, chain_rpc_url="http://127.0.0.1:9")
    node = on_chain(rec)
    node.mined(block=12)  # known, not final yet
    sent = payment(store)
    rec.round()
    assert rec.chain.waiting_on_block(sent.id)
    node.batch = lambda requests: (_ for _ in ()).throw(VerifierDown("node down"))
    node.head = 12
    rec.round()  # final now, but the canonical check fails: it backs off
    assert not rec.chain.waiting_on_block(sent.id) and rec.chain.became_final() is False


def test_a_settling_write_that_fails_is_tried_again_after_a_backoff(store, clock, monkeypatch):
    rec = reconciler(store)
    plain = send(store, "plain")
    clock.ms += GRACE_S * 1000
    real = store.confirm_through
    monkeypatch.setattr(store, "confirm_through", lambda *a: (_ for _ in ()).throw(ApiError("unavailable", "disk full")))
    rec.round()
    monkeypatch.setattr(store, "confirm_through", real)
    rec.round()
    assert status(store, plain) == "provisional", "backing off"
    clock.ms += reconciler_module.MAX_BACKOFF_MS
    rec.round()
    assert status(store, plain) == "confirmed"


def test_a_change_during_a_backoff_does_not_cut_it_short(store, clock, monkeypatch):
    rec = reconciler(store)
    asked = []

    def down(message, now):
        asked.append(message.xmtp_id)
        raise VerifierDown("gateway down")

    monkeypatch.setattr(rec.xmtp, "check", down)
    sent = send(store, "x", xmtp_id="first")
    rec.round()
    store.change(sent.id, lambda m: {"xmtp_id": "second"})  # a new attestation, right away
    clock.ms += INTERVAL_MS
    rec.round()
    assert asked == ["first"]
    clock.ms += reconciler_module.MAX_BACKOFF_MS
    rec.round()
    assert asked == ["first", "second"]


def test_payments_cost_nothing_without_a_chain_to_ask(store, clock):
    rec = reconciler(store)
    payment(store)
    assert rec.schedule == []
    rec.round()
    assert rec.schedule == []


def test_a_payment_without_a_receipt_is_asked_less_and_less_often(store, clock):
    rec = reconciler(store, chain_rpc_url="http://127.0.0.1:9")
    node = on_chain(rec)
    sent = payment(store)
    for _ in range(60):  # a minute of rounds
        rec.round()
        clock.ms += INTERVAL_MS
    assert 4 <= node.batches <= 60 * INTERVAL_MS // MAX_POLL_MS + 6
    node.mined()
    clock.ms += MAX_POLL_MS
    rec.round()
    assert status(store, sent) == "confirmed"


def test_a_payment_without_a_receipt_is_still_dropped_at_its_timeout(store, clock):
    rec = reconciler(store, chain_rpc_url="http://127.0.0.1:9", tx_timeout_s=40)
    on_chain(rec)
    sent = payment(store)
    for _ in range(41):
        rec.round()
        clock.ms += INTERVAL_MS
    rec.round()
    assert store.message(sent.id).reason == "dropped"


def test_a_burst_coming_due_at_once_is_settled_over_several_rounds(store, clock, monkeypatch):
    monkeypatch.setattr(reconciler_module, "MAX_DUE_PER_ROUND", 10)
    rec = reconciler(store)
    burst = [send(store, f"m{i}") for i in range(25)]
    clock.ms += GRACE_S * 1000
    settled = []
    for _ in range(3):
        rec.round()
        settled.append(sum(status(store, m) == "confirmed" for m in burst))
    assert settled == [10, 20, 25]


def test_plain_messages_are_confirmed_by_one_write_and_one_announcement_per_chat(store, clock):
    store.create_chat("d", [ALICE, BOB], None, ALICE)
    rec = reconciler(store)
    waiting = [send(store, f"c{i}") for i in range(30)]
    waiting += [store.append(NewMessage("d", BOB, f"d{i}", "hi"))[0] for i in range(30)]
    copied = send(store, "copy", xmtp_id="xmtp-1")
    commits = []
    store.subscribe(commits.append)
    clock.ms += GRACE_S * 1000
    rec.round()
    confirmed = [c for commit in commits for c in commit.confirmed]
    assert [(c.chat_id, c.rev - c.first_rev + 1) for c in confirmed] == [("c", 30), ("d", 30)]
    updates = [s.message for commit in commits for s in commit.messages]
    assert [(m.id, m.source) for m in updates] == [(copied.id, "xmtp")], "an XMTP copy keeps its own update"
    assert all(store.message(m.id).source == "fallback" and status(store, m) == "confirmed" for m in waiting)


def test_messages_still_provisional_in_the_log_are_settled_after_a_restart(store, tmp_path, clock):
    payment_free = send(store, "before the restart")
    store.close()
    again = JsonlStore(tmp_path / "messages.json", fsync=False)
    again.start()
    try:
        rec = reconciler(again)
        clock.ms += GRACE_S * 1000
        rec.round()
        assert (status(again, payment_free), again.message(payment_free.id).source) == ("confirmed", "fallback")
    finally:
        again.close()


def test_plain_messages_waiting_cost_the_reconciler_no_memory_each(store, clock):
    rec = reconciler(store)
    waiting = [send(store, f"w{i}") for i in range(1_000)]
    rec.round()
    rec.reseed()  # as on taking over
    assert rec.schedule == [], "the store is the schedule of plain messages"
    clock.ms += GRACE_S * 1000
    rec.round()
    assert all(status(store, m) == "confirmed" for m in waiting)


def test_a_deleted_payment_settles_by_the_chain_without_its_text_coming_back(store, clock):
    rec = reconciler(store, chain_rpc_url="http://127.0.0.1:9")
    node = on_chain(rec)
    claimed = send(store, "pay", tx={"chain_id": 42220, "hash": HASH, "to": BOB, "value": "2", "token": None})
    store.change(claimed.id, lambda m: deleted_fields())
    node.mined()
    rec.round()
    settled = store.message(claimed.id)
    assert (settled.status, settled.source, settled.reason) == ("corrected", "chain", "amount_mismatch")
    assert (settled.body, settled.original, settled.deleted) == ("", None, True) and settled.tx["value"] == "1"


def test_a_deleted_xmtp_copy_is_not_asked_of_xmtp_and_the_clock_settles_it(store, clock, monkeypatch):
    rec = reconciler(store)
    copied = send(store, "copy", xmtp_id="xmtp-1")
    store.change(copied.id, lambda m: deleted_fields())
    monkeypatch.setattr(rec.xmtp, "check", lambda m, now: pytest.fail("a deleted message was compared with XMTP"))
    clock.ms += GRACE_S * 1000
    rec.round()
    settled = store.message(copied.id)
    assert (settled.status, settled.source, settled.body) == ("confirmed", "fallback", "")
