"""PostgreSQL's commit notifications: what a node tells the others of a member change, and reads of older nodes."""
from __future__ import annotations

import ast

from optimistic_messaging.broker.notify import MAX_PAYLOAD, decode_notification, encode_heartbeat, encode_notifications
from optimistic_messaging.models import Chat, PositionMoved
from optimistic_messaging.store import ChatChanged, Confirmed
from support import ROOT

ALICE, CAROL = "0x" + "a" * 40, "0x" + "c" * 40


def chat(*members: str) -> Chat:
    return Chat("c", list(members), None, ALICE, 0, 5, 9)


def test_a_member_change_says_who_was_added_and_from_which_seq():
    change = ChatChanged(chat(ALICE, CAROL), added=(CAROL,), visible_from=6)
    (payload,) = encode_notifications("node", [], [change, ChatChanged(chat(CAROL), removed=(ALICE,))])
    assert decode_notification(payload).chats == [("c", (), None, ((CAROL,), 6)), ("c", (ALICE,), None, ((), 1))]


def test_too_many_added_to_carry_are_left_for_the_node_to_read():
    many = tuple("0x" + f"{i:040x}" for i in range(1000))
    (payload,) = encode_notifications("node", [], [ChatChanged(chat(*many), added=many, visible_from=6)])
    assert len(payload.encode()) < MAX_PAYLOAD and decode_notification(payload).chats == [("c", (), None, None)]


def test_a_notice_of_a_node_from_before_starts_were_carried_is_read_as_not_saying():
    notice = decode_notification('{"n":"old","c":[["c",[]],["c",["' + ALICE + '"]]]}')
    assert notice.chats == [("c", (), None, None), ("c", (ALICE,), None, None)]


def test_moved_positions_travel_with_where_their_receipts_go_split_across_payloads_within_the_limit():
    moved = [PositionMoved(f"chat-{i:04d}", ALICE, i, i + 1, i % 2 == 0, 3) for i in range(200)]
    payloads = list(encode_notifications("node", [], [], moved))
    assert len(payloads) > 1 and all(len(p.encode()) < MAX_PAYLOAD for p in payloads)
    assert [p for payload in payloads for p in decode_notification(payload).positions] == moved


def test_chats_confirmed_by_the_clock_travel_as_small_units_within_the_limit_and_older_notices_have_none():
    confirmed = [Confirmed(f"chat-{i:04d}", 10 * i, 100 * i + 1, 100 * i + 7, 1_000 + i) for i in range(300)]
    payloads = list(encode_notifications("node", [], [], (), confirmed))
    assert len(payloads) > 1 and all(len(p.encode()) < MAX_PAYLOAD for p in payloads)
    assert [k for payload in payloads for k in decode_notification(payload).confirmed] == confirmed
    assert decode_notification('{"n":"old","q":[]}').confirmed == []


def test_a_heartbeat_is_a_notice_of_its_node_that_carries_nothing():
    notice = decode_notification(encode_heartbeat("node"))
    assert (notice.node, notice.stored, notice.pointers, notice.chats, notice.revoked) == ("node", [], [], [], [])


def test_the_store_depends_on_no_broker():
    """The broker reads the store; the store announces through what backends hands it (store.postgres.Announce)."""
    imported = {
        node.module or ""
        for path in (ROOT / "backend/optimistic_messaging/store").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
    }
    assert imported and not [module for module in imported if "broker" in module]
