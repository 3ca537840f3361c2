"""The JSON-lines store: group commit, nothing visible before durable, failures, replay, repair, compaction."""
from __future__ import annotations

import gc
import logging
import os


import gevent
import gevent.event
import orjson
import pytest

from optimistic_messaging.clock import SYSTEM_CLOCK
from optimistic_messaging.errors import ApiError
from optimistic_messaging.store import jsonl
from optimistic_messaging.store.aio import open_aio
from optimistic_messaging.store.base import NewMessage
from optimistic_messaging.models import FarcasterToken, Message, confirmed_by_clock
from optimistic_messaging.notify.subscriptions import PushSubscription
from optimistic_messaging.reactions import Reaction, deleted_fields
from optimistic_messaging.store.state import Room
from optimistic_messaging.store.jsonl import LOG_HEADER, JsonlStore, StoreCorrupt, encode_batch, encode_record

from support import FakeClock, wait_until

ALICE = "0x" + "a" * 40

pytestmark = pytest.mark.jsonl  # the JSON-lines store in process; tests/test_store_contract.py covers both


@pytest.fixture
def path(tmp_path):
    return tmp_path / "messages.json"


def opened(path, fsync=True, clock=SYSTEM_CLOCK) -> JsonlStore:
    store = JsonlStore(path, fsync=fsync, clock=clock, recent=2)  # all but two messages a chat read from the log
    store.start()
    return store


@pytest.fixture
def store(path):
    s = opened(path)
    s.create_chat("c", [ALICE], None, ALICE)
    yield s
    s.close()


def send(store: JsonlStore, client_id: str, body: str = "hi", chat: str = "c"):
    return store.append(NewMessage(chat, ALICE, client_id, body))[0]


def message(seq: int, client_id: str) -> Message:
    """A message of chat "c" as a log line holds it, for logs written by hand."""
    return Message(f"c/{seq}", "c", seq, seq, client_id, ALICE, "hi", None, None, False, "provisional", "fallback",
                   None, None, 1, 1)


def concurrently(*calls):
    greenlets = [gevent.spawn(call) for call in calls]
    gevent.joinall(greenlets, raise_error=True)
    return [g.value for g in greenlets]


def test_replay_restores_chats_messages_and_changes(store, path):
    first = send(store, "a")
    send(store, "b")
    changed = store.change(first.id, lambda m: {"xmtp_id": "x1"})
    store.close()
    again = opened(path)
    assert again.chat("c") == store.chat("c")
    assert again.message(first.id) == changed
    assert again.changes("c", 0, 10) == store.changes("c", 0, 10)
    assert again.find(ALICE, "b").seq == 2
    assert send(again, "c").seq == 3


def test_concurrent_writes_share_one_fsync(store, monkeypatch):
    syncs = []
    real = store._sync
    monkeypatch.setattr(store, "_sync", lambda fd, data: syncs.append(data) or real(fd, data))
    messages = concurrently(*[lambda i=i: send(store, f"m{i}") for i in range(100)])
    assert sorted(m.seq for m in messages) == list(range(1, 101))
    assert len(syncs) < 10
    assert sum(d.count(b'"op":"message"') for d in syncs) == 100


def test_the_log_is_fsynced_by_the_kernel_where_linux_has_aio_else_on_a_thread(path, monkeypatch):
    """Both ways make a write durable before it is answered; a failed fsync fails the write either way."""
    kernel = opened(path)
    assert kernel._aio is not None, "Linux AIO is there on the machines this runs on"
    kernel.create_chat("c", [ALICE], None, ALICE)
    assert send(kernel, "by the kernel").seq == 1
    kernel.close()
    monkeypatch.setattr(jsonl, "open_aio", lambda fd: None)
    threaded = opened(path)
    assert threaded._aio is None
    assert send(threaded, "on a thread").seq == 2
    monkeypatch.setattr(jsonl, "_append_and_sync", lambda fd, data: OSError(5, "Input/output error"))
    assert _try(lambda: send(threaded, "lost")).code == "unavailable"
    threaded.close()
    again = opened(path)
    assert [m.body for m in again.page("c", None, None, 50)[0]] == ["hi", "hi"]
    assert again.find(ALICE, "lost") is None


def test_a_failed_fsync_by_the_kernel_is_a_failed_write(store, monkeypatch):
    real = store._aio.fsync
    monkeypatch.setattr(store._aio, "fsync", lambda fd: real(-1))  # the kernel refuses it: EBADF
    assert _try(lambda: send(store, "lost")).code == "unavailable"
    monkeypatch.undo()
    assert send(store, "kept").seq == 1


def test_the_kernels_fsync_lets_other_greenlets_run_while_it_waits(tmp_path):
    fd = os.open(tmp_path / "big", os.O_WRONLY | os.O_CREAT)
    aio = open_aio(fd)
    assert aio is not None
    try:
        os.write(fd, b"x" * (32 << 20))  # dirty pages enough for the fsync to take a while
        order = []
        gevent.spawn(order.append, "another greenlet")
        aio.fsync(fd)
        order.append("fsynced")
        assert order == ["another greenlet", "fsynced"]
    finally:
        aio.close()
        os.close(fd)


def test_no_fsync_by_the_kernel_where_it_refuses_one_for_the_file(tmp_path):
    """A kernel before 4.18, or a file without fsync, refuses it at io_submit: the log then fsyncs on a thread."""
    read, write = os.pipe()
    try:
        assert open_aio(write) is None
    finally:
        os.close(read)
        os.close(write)


def test_nothing_is_visible_before_it_is_durable(store, monkeypatch):
    entered, release = gevent.event.Event(), gevent.event.Event()
    real = store._sync

    def blocking(fd, data):  # in the writer greenlet, as the fsync's wait is
        entered.set()
        release.wait()
        real(fd, data)

    monkeypatch.setattr(store, "_sync", blocking)
    pending = gevent.spawn(send, store, "slow")
    entered.wait(timeout=5)
    assert store.find(ALICE, "slow") is None
    assert store.chat("c").last_seq == 0 and store.page("c", None, None, 50) == ([], False)
    release.set()
    message = pending.get(timeout=5)
    assert store.find(ALICE, "slow") == message and store.chat("c").last_seq == 1


def test_failed_fsync_answers_unavailable_and_leaves_memory_and_disk_as_before(store, path, monkeypatch):
    send(store, "kept")
    size = path.stat().st_size

    def failing(fd, data):
        os.write(fd, data[: len(data) // 2])
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store, "_sync", failing)
    results = concurrently(*[lambda i=i: _try(lambda: send(store, f"lost{i}")) for i in range(5)])
    assert all(isinstance(r, ApiError) and r.code == "unavailable" for r in results)
    assert path.stat().st_size == size
    assert store.chat("c").last_seq == 1 and store.find(ALICE, "lost0") is None
    monkeypatch.undo()
    assert send(store, "next").seq == 2
    store.close()
    assert opened(path).chat("c").last_seq == 2


def test_a_log_that_cannot_be_rolled_back_stops_taking_writes(store, monkeypatch):
    monkeypatch.setattr(store, "_sync", lambda fd, data: (_ for _ in ()).throw(OSError(28, "No space")))
    monkeypatch.setattr(jsonl.os, "ftruncate", lambda fd, size: (_ for _ in ()).throw(OSError(5, "EIO")))
    assert _try(lambda: send(store, "x")).code == "unavailable"
    assert store.healthy() is False
    monkeypatch.undo()
    assert _try(lambda: send(store, "y")).code == "unavailable", "no write after a failed rollback until restart"


def test_repeated_client_id_in_one_batch_is_stored_once(store, path):
    a, b = concurrently(lambda: send(store, "dup", "one"), lambda: send(store, "dup", "two"))
    assert a == b and a.body == "one"
    assert path.read_bytes().count(b'"op":"message"') == 1


def test_a_commit_announces_each_message_with_the_json_its_log_line_holds(store, path):
    heard = []
    store.subscribe(heard.append)
    sent = send(store, "one")
    store.react(sent.id, Reaction(ALICE, "👍", True))
    (new,), (changed,) = (commit.messages for commit in heard)
    assert (new.new, changed.new) == (True, False)
    assert [s.json for s in (new, changed)] == [orjson.dumps(s.message) for s in (new, changed)]  # the frame's bytes
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()[1:]]
    assert [line["m"] for line in lines if line["op"] in ("message", "update")] == [orjson.loads(new.json),
                                                                                   orjson.loads(changed.json)]


def test_a_sends_answer_carries_the_json_of_its_own_line_and_a_repeat_the_message_as_it_is_now(store, path):
    """The ack sends that JSON as it is: in a batch of several sends, each answer must hold its own message's."""
    first = store.append_later(NewMessage("c", ALICE, "a", "one"))
    second = store.append_later(NewMessage("c", ALICE, "b", "two"))  # queued: both go in the writer's next batch
    answers = [first.get(), second.get()]
    assert [(m.body, created) for m, created, _ in answers] == [("one", True), ("two", True)]
    assert [encoded for _, _, encoded in answers] == [orjson.dumps(m) for m, _, _ in answers]
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()[1:]]
    assert [line["m"] for line in lines if line["op"] == "message"] == [orjson.loads(e) for _, _, e in answers]
    store.react(answers[0][0].id, Reaction(ALICE, "👍", True))
    again, created, encoded = store.append_later(NewMessage("c", ALICE, "a", "repeated")).get()
    assert (again, created, encoded) == (store.message(answers[0][0].id), False, None) and again.reactions


def line_of(path, needle: bytes) -> int:
    """The 1-based number of the first log line containing needle."""
    return next(n for n, line in enumerate(path.read_bytes().splitlines(), 1) if needle in line)


def test_every_batch_ends_with_a_commit_line_that_vouches_for_it(store, path):
    send(store, "one")
    lines = path.read_bytes().splitlines(keepends=True)
    assert lines[0] == LOG_HEADER
    assert b"".join(lines[1:]) == b"".join(encode_batch([r]) for r in [("chat", store.state.rooms["c"]),
                                                                       ("message", store.message("c/1"))])


def test_torn_last_line_is_truncated_with_a_warning(store, path, caplog):
    send(store, "whole")
    store.close()
    with open(path, "ab") as f:
        f.write(b'{"op":"message","m":{"id":"c/2","chat')
    caplog.set_level(logging.WARNING)
    again = opened(path)
    assert "torn tail from line 6" in caplog.text
    assert again.chat("c").last_seq == 1
    assert path.read_bytes().endswith(b"}\n")
    assert send(again, "after repair").seq == 2


def test_a_last_batch_without_its_commit_line_was_never_acknowledged_and_is_cut(store, path, caplog):
    send(store, "whole")
    size = path.stat().st_size
    store.close()
    with open(path, "ab") as f:
        f.write(encode_record(("message", message(2, "unacked"))))  # written, but the process died before its commit line
    caplog.set_level(logging.WARNING)
    again = opened(path)
    assert again.chat("c").last_seq == 1 and path.stat().st_size == size
    assert "torn tail from line 6" in caplog.text


def test_a_last_batch_damaged_in_place_by_a_power_loss_is_cut(store, path, caplog):
    send(store, "kept")
    size = path.stat().st_size
    concurrently(*[lambda i=i: send(store, f"lost{i}") for i in range(3)])  # one batch: the one being synced
    store.close()
    assert path.read_bytes().count(b'"op":"commit"') == 3, "chat, kept, and the three in one batch"
    data = bytearray(path.read_bytes())
    start = data.index(b'"client_id":"lost1"')
    data[start:start + 40] = bytes(40)  # a page that never reached the disk, though its commit line did
    path.write_bytes(bytes(data))
    caplog.set_level(logging.WARNING)
    again = opened(path)
    assert again.chat("c").last_seq == 1 and path.stat().st_size == size
    assert "torn tail" in caplog.text
    (aside,) = path.parent.glob("messages.json.torn-*")
    assert aside.read_bytes() == bytes(data[size:]), "what was cut is kept aside, in case it was not torn after all"


@pytest.mark.parametrize("damage", [
    lambda commit: commit[:-1],  # the commit line lost only its newline
    lambda commit: commit[:5] + bytes(len(commit) - 6) + b"\n",  # the commit line itself zeroed
])
def test_a_last_batch_whose_commit_line_is_torn_is_cut(store, path, damage):
    send(store, "kept")
    size = path.stat().st_size
    send(store, "lost")
    store.close()
    data = path.read_bytes()
    commit = data[data.rindex(b'{"op":"commit"'):]
    path.write_bytes(data[:-len(commit)] + damage(commit))
    assert opened(path).chat("c").last_seq == 1 and path.stat().st_size == size


def test_a_damaged_batch_with_more_after_it_stops_start_up_naming_its_lines(store, path):
    send(store, "one")
    send(store, "two")
    store.close()
    damaged = line_of(path, b'"client_id":"one"')
    data = path.read_bytes().replace(b'"body":"hi"', b'"body":"ho"', 1)  # still JSON, but not what was written
    path.write_bytes(data)
    with pytest.raises(StoreCorrupt, match=rf"messages\.json:{damaged}-{damaged + 1}: a batch fails its CRC-32"):
        opened(path)
    assert path.read_bytes() == data, "nothing is dropped"


def test_a_lost_commit_line_in_the_middle_stops_start_up(store, path):
    send(store, "one")
    send(store, "two")
    store.close()
    lines = path.read_bytes().splitlines(keepends=True)
    del lines[line_of(path, b'"client_id":"one"')]  # the commit line after it
    path.write_bytes(b"".join(lines))
    with pytest.raises(StoreCorrupt, match="a commit line before it is lost"):
        opened(path)


def test_a_record_that_breaks_the_sequence_is_corrupt(store, path):
    send(store, "one")
    store.close()
    with open(path, "ab") as f:
        f.write(encode_batch([("message", message(5, "gap"))]))  # vouched for, but seq 5 does not follow 1
    with pytest.raises(StoreCorrupt, match=r":6: unreadable record"):
        opened(path)


def test_a_log_without_commit_lines_is_read_line_by_line_and_rewritten_with_them(path):
    path.write_bytes(encode_record(("chat", Room("c", [ALICE], None, ALICE, 1)))
                     + encode_record(("message", message(1, "old"))))
    store = opened(path)
    assert store.chat("c").last_seq == 1 and path.read_bytes().startswith(LOG_HEADER)
    assert send(store, "next").seq == 2
    store.close()
    assert opened(path).chat("c").last_seq == 2


def test_a_corrupt_line_in_a_log_without_commit_lines_stops_start_up_naming_it(path):
    data = (encode_record(("chat", Room("c", [ALICE], None, ALICE, 1))) + b"garbage\n"
            + encode_record(("message", message(1, "old"))))
    path.write_bytes(data)
    with pytest.raises(StoreCorrupt, match=r"messages\.json:2"):
        opened(path)
    assert path.read_bytes() == data, "nothing is dropped"


def test_a_log_written_in_several_batches_replays_them_all(path):
    records = [("chat", Room("c", [ALICE], None, ALICE, 1))] + [("message", message(i, f"m{i}")) for i in range(1, 6)]
    data = b"".join(jsonl.encode_log(records, chunk=2))
    assert data == LOG_HEADER + b"".join(encode_batch(records[i:i + 2]) for i in range(0, 6, 2))
    path.write_bytes(data)
    assert opened(path).chat("c").last_seq == 5


def test_compaction_drops_superseded_records_and_keeps_the_state(store, path, monkeypatch):
    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 20)
    real = jsonl.encode_log
    monkeypatch.setattr(jsonl, "encode_log", lambda records, **kw: real(records, chunk=2, **kw))  # several batches
    message = send(store, "m")
    for i in range(30):
        store.change(message.id, lambda m, i=i: {"xmtp_id": f"x{i}"})
    send(store, "after")
    log = path.read_bytes()
    assert log.count(b"\n") < 1 + 1 + 30 + 1 and b'"x0"' not in log
    before = (store.chat("c"), store.changes("c", 0, 100))
    store.close()
    again = opened(path)
    assert (again.chat("c"), again.changes("c", 0, 100)) == before
    assert again.message(message.id).xmtp_id == "x29"
    assert path.read_bytes().count(b'"op":"commit"') > 1


def test_compaction_drops_sign_outs_past_their_until_and_keeps_the_others(path, monkeypatch):
    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 5)
    clock = FakeClock()
    store = opened(path, clock=clock)
    store.create_chat("c", [ALICE], None, ALICE)
    store.revoke_session("gone", clock.now_ms() + 1_000)
    store.revoke_session("kept", clock.now_ms() + 100_000)
    clock.advance(1_000)
    message = send(store, "m")
    for i in range(10):  # superseded records outnumber live ones: the store compacts
        store.change(message.id, lambda m, i=i: {"xmtp_id": f"x{i}"})
    log = path.read_bytes()
    assert b'"x0"' not in log and b'"gone"' not in log and b'"kept"' in log
    store.close()
    assert opened(path, clock=clock).revoked_sessions() == {"kept": clock.now_ms() + 99_000}


def test_compaction_keeps_the_farcaster_tokens_and_links_and_drops_the_superseded(path, monkeypatch):
    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 5)
    store = opened(path)
    key = "0x" + "1" * 64
    store.put_farcaster_token(FarcasterToken(7, "0x" + "2" * 64, "https://a.example/n", "dropped"))
    store.drop_farcaster_tokens(7, "0x" + "2" * 64)
    for i in range(10):
        store.put_farcaster_token(FarcasterToken(7, key, "https://a.example/n", f"t{i}"))
        store.link_farcaster(ALICE, 100 + i)
    for i in range(10):  # superseded records outnumber live ones: the store compacts, these settled
        store.link_farcaster("0x" + "b" * 40, i)
    log = path.read_bytes()
    assert b'"t0"' not in log and b'"dropped"' not in log and b'"t9"' in log and b'"fid":100}' not in log
    store.close()
    again = opened(path)
    assert again.farcaster_tokens(7) == [FarcasterToken(7, key, "https://a.example/n", "t9")]
    assert again.farcaster_fid(ALICE) == 109
def test_compaction_keeps_the_push_subscriptions_in_their_order_and_drops_the_ended(store, path, monkeypatch):
    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 5)
    subs = [PushSubscription(f"https://push.example/{n}", ALICE, "p", "a", "s") for n in range(3)]
    for s in (*subs, PushSubscription("https://push.example/gone", ALICE, "p", "a", "s")):
        store.put_push_subscription(s)
    store.drop_push_subscriptions(endpoint="https://push.example/gone")
    message = send(store, "m")
    for i in range(10):  # superseded records outnumber live ones: the store compacts
        store.change(message.id, lambda m, i=i: {"xmtp_id": f"x{i}"})
    assert b'"x0"' not in path.read_bytes() and b"/gone" not in path.read_bytes()
    store.close()
    assert opened(path).push_subscriptions(ALICE) == subs


def test_a_member_added_in_a_log_from_before_v1_2_sees_the_whole_chat(path):
    bob = "0x" + "b" * 40
    path.write_bytes(encode_record(("chat", Room("c", [ALICE], None, ALICE, 1)))
                     + encode_record(("message", message(1, "old")))
                     + b'{"op":"members","id":"c","added":["%s"]}\n' % bob.encode())
    store = opened(path)
    assert store.visible_from("c", bob) == 1 and store.late_members("c") == {}


def test_erased_chats_leave_the_log_at_once_then_at_most_once_a_minute_and_at_start_if_missed(path):
    clock = FakeClock()
    store = opened(path, clock=clock)
    for chat_id in ("c", "d", "e"):
        store.create_chat(chat_id, [ALICE], None, ALICE)
        send(store, f"{chat_id}1", f"secret of {chat_id}", chat=chat_id)

    def erased_from_disk(chat_id: str) -> bool:
        gevent.sleep(0.01)  # the rewrite runs on the writer, just after the erasure's commit
        return f"secret of {chat_id}".encode() not in path.read_bytes()

    store.remove_member("c", ALICE)
    assert wait_until(lambda: erased_from_disk("c"))
    store.remove_member("d", ALICE)
    send(store, "meanwhile", chat="e")
    assert not erased_from_disk("d"), "not a rewrite per erasure"
    clock.advance(int(jsonl.ERASED_COMPACT_S * 1000))
    send(store, "later", chat="e")
    assert wait_until(lambda: erased_from_disk("d"))
    store.remove_member("e", ALICE)
    store.close()  # before its rewrite was due
    assert not erased_from_disk("e")
    again = opened(path, clock=clock)
    assert wait_until(lambda: erased_from_disk("e")) and again.chat("e") is None
    assert again.create_chat("e", [ALICE], None, ALICE)[0].last_seq == 3
    again.close()


def test_a_header_of_another_format_stops_start_up(path):
    path.write_bytes(b'{"op":"log","format":3}\n')
    with pytest.raises(StoreCorrupt, match=r"messages\.json:1: unknown or damaged log header"):
        opened(path)


def test_a_log_without_commit_lines_that_cannot_be_rewritten_stops_start_up_and_stays(path, monkeypatch):
    data = encode_record(("chat", Room("c", [ALICE], None, ALICE, 1)))
    path.write_bytes(data)
    monkeypatch.setattr(JsonlStore, "_compact", lambda self: False)
    store = JsonlStore(path)
    with pytest.raises(OSError, match="could not be rewritten"):
        store.start()
    assert store._fd == -1 and path.read_bytes() == data


def test_replay_leaves_the_garbage_collector_as_it_found_it(store, path):
    send(store, "one")
    store.close()
    opened(path)
    assert gc.isenabled()


def test_chats_are_listed_in_commit_order_of_their_latest_message_across_restart_and_compaction(path, monkeypatch):
    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 3)
    store = opened(path, clock=FakeClock())  # every record in the same millisecond: no clock to sort by
    for chat in ("a", "b", "c"):
        store.create_chat(chat, [ALICE], None, ALICE)
    send(store, "1", chat="b")
    send(store, "2", chat="a")
    order = ["a", "b", "c"]
    assert [c.id for c in store.chats_of(ALICE, None, 100)[0]] == order
    message = send(store, "3", chat="c")
    for i in range(8):  # superseded records outnumber live ones: the store compacts
        store.change(message.id, lambda m, i=i: {"xmtp_id": f"x{i}"})
    send(store, "4", chat="a")
    assert b'"x0"' not in path.read_bytes()
    order = ["a", "c", "b"]
    assert [c.id for c in store.chats_of(ALICE, None, 100)[0]] == order
    store.close()
    assert [c.id for c in opened(path).chats_of(ALICE, None, 100)[0]] == order


def test_compaction_keeps_each_members_latest_position_only_where_replay_would_not_find_it(path, monkeypatch):
    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 3)
    store = opened(path, clock=FakeClock())
    bob, carol = "0x" + "b" * 40, "0x" + "c" * 40
    store.create_chat("c", [ALICE, bob], None, ALICE)
    for i in range(3):
        send(store, str(i), chat="c")
    store.add_members("c", [carol], 10)
    for seq in (1, 2, 3, 3):  # the last one moves nothing: no record
        store.mark("c", bob, seq, None)
    store.put_settings(bob, {"read_receipts": False})
    for i in range(8):  # superseded records outnumber live ones: the store compacts
        store.change("c/1", lambda m, i=i: {"xmtp_id": f"x{i}"})
    views = {a: store.view("c", a) for a in (ALICE, bob, carol)}
    assert (views[bob].read_seq, views[carol].read_seq) == (3, 3)
    assert path.read_bytes().count(b'"op":"position"') == 2, "compacted: bob's latest mark, and where carol began"
    store.close()
    again = opened(path)
    assert {a: again.view("c", a) for a in (ALICE, bob, carol)} == views
    assert set(again.receipts("c", carol)) == {ALICE, carol} and not again.settings(bob).read_receipts


def test_change_to_an_unknown_message_is_not_found(store):
    assert _try(lambda: store.change("c/9", lambda m: {"xmtp_id": "x"})).code == "not_found"


def test_append_to_an_unknown_chat_is_not_found(store):
    assert _try(lambda: send(store, "x", chat="nope")).code == "not_found"


def test_fsync_off_still_writes_every_record(path):
    s = opened(path, fsync=False)
    s.create_chat("c", [ALICE], None, ALICE)
    send(s, "a")
    s.close()
    assert opened(path).chat("c").last_seq == 1


def _try(call):
    try:
        return call()
    except ApiError as exc:
        return exc


def test_a_bug_in_one_write_fails_that_write_only(store):
    def broken(message):
        raise RuntimeError("bug")
    message = send(store, "a")
    assert _try(lambda: store.change(message.id, broken)).code == "internal"
    assert send(store, "b").seq == 2 and store.healthy()


def test_a_dead_writer_fails_writes_instead_of_hanging(store, monkeypatch):
    def explode(batch):
        raise SystemError("writer fault")
    monkeypatch.setattr(store, "_commit", explode)
    assert _try(lambda: send(store, "x")).code == "unavailable"
    assert store.healthy() is False
    assert _try(lambda: send(store, "y")).code == "unavailable"


def test_compaction_whose_rename_cannot_be_synced_stops_writes_but_keeps_the_data(store, path, monkeypatch):
    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 5)
    message = send(store, "m")
    monkeypatch.setattr(jsonl, "_fsync_dir", lambda p: (_ for _ in ()).throw(OSError(5, "EIO")))
    for i in range(5):  # the fifth superseded record triggers compaction, after that write is answered
        store.change(message.id, lambda m, i=i: {"xmtp_id": f"x{i}"})
    assert _try(lambda: store.change(message.id, lambda m: {"xmtp_id": "refused"})).code == "unavailable"
    assert store.healthy() is False
    monkeypatch.undo()
    store.close()
    assert opened(path).message(message.id).xmtp_id == "x4"


def test_a_message_from_a_log_before_v1_2_loads_as_not_replied_not_reacted_not_deleted(path):
    old = {k: v for k, v in orjson.loads(orjson.dumps(message(1, "old"))).items()
           if k not in ("reply_to", "reactions", "reaction_counts", "deleted")}
    path.write_bytes(encode_record(("chat", Room("c", [ALICE], None, ALICE, 1)))
                     + b'{"op":"message","m":' + orjson.dumps(old) + b"}\n")
    m = opened(path).message("c/1")
    assert (m.reply_to, m.reactions, m.reaction_counts, m.deleted) == (None, {}, {}, False)


def test_deleted_text_leaves_the_log_in_one_rewrite_per_half_window_and_at_start_if_missed(path):
    clock = FakeClock()
    store = JsonlStore(path, clock=clock, erase_within_s=60)
    store.start()
    store.create_chat("c", [ALICE], None, ALICE)
    a, b, c = (send(store, x, f"secret {x}") for x in "abc")
    store.react(a.id, Reaction(ALICE, "👍", True))  # its update record holds the text too

    def on_disk(text: str) -> bool:
        gevent.sleep(0.01)  # the rewrite runs on the writer, just after a commit
        return f"secret {text}".encode() in path.read_bytes()

    store.change(a.id, lambda m: deleted_fields())
    clock.advance(29_000)
    store.change(b.id, lambda m: deleted_fields())
    assert on_disk("a") and on_disk("b"), "not a rewrite per deletion"
    clock.advance(1_000)  # half of ERASE_WITHIN_S after the first deletion: one rewrite takes both
    send(store, "wake")
    assert wait_until(lambda: not on_disk("a") and not on_disk("b")) and on_disk("c")
    store.change(c.id, lambda m: deleted_fields())
    store.close()  # before its rewrite was due
    assert on_disk("c")
    again = opened(path, clock=clock)
    assert wait_until(lambda: not on_disk("c"))
    assert again.message(a.id).deleted and again.message(a.id).reaction_counts == {} and again.message(c.id).body == ""
    again.close()


def test_history_past_each_chats_recent_window_is_read_from_the_log_not_held_in_memory(store, path):
    chats = ("window-1", "window-2")  # names no other test's leftovers have
    for chat in chats:
        store.create_chat(chat, [ALICE], None, ALICE)
    for i in range(1, 51):
        for chat in chats:
            send(store, f"{chat}-{i}", chat=chat)
            store.change(f"{chat}/{i}", lambda m: {"status": "confirmed"})  # settled: the reconciler needs none
    gc.collect()
    held = [o for o in gc.get_objects() if isinstance(o, Message) and o.chat_id in chats]
    assert len(held) <= 2 * 2, f"{len(held)} messages in memory, each chat's two latest expected"
    assert [m.seq for m in store.page("window-1", 4, None, 2)[0]] == [2, 3]
    assert store.find(ALICE, "window-2-1").id == "window-2/1"


def test_after_a_rewrite_every_old_message_is_read_from_the_new_log_and_an_erased_chats_keys_are_free(store, path):
    """An erasure rewrites the log at once: every offset changes, and the index must follow, in the same process."""
    sent = [send(store, f"m{i}", f"body {i}") for i in range(1, 9)]
    store.change(sent[0].id, lambda m: {"xmtp_id": "x"})
    store.change(sent[5].id, lambda m: deleted_fields())
    store.create_chat("gone", [ALICE], None, ALICE)
    send(store, "k", "erased text", chat="gone")
    before = (store.page("c", None, None, 20), store.changes("c", 0, 20), store.unsettled())
    store.remove_member("gone", ALICE)  # erased: the log is rewritten after this commit
    again = send(store, "k", "in another chat now")  # the writer rewrote the log before it took this write
    assert b"erased text" not in path.read_bytes() and b"body 6" not in path.read_bytes()
    assert again.seq == 9 and store.find(ALICE, "k") == again
    assert (store.page("c", 9, None, 20), store.changes("c", 0, 8)) == (before[0], (before[1][0], True))
    assert store.unsettled()[:-1] == before[2][:-1] and store.find(ALICE, "m1") == store.message(sent[0].id)
    assert store.message(sent[0].id).xmtp_id == "x" and store.message(sent[5].id).deleted


def test_a_chat_confirmed_by_the_clock_is_one_record_and_its_old_messages_read_confirmed_after_restarts_and_rewrites(
        path):
    """The confirmation writes no record per message, so the old ones' records on disk still say provisional: every
    read of them (page, many, by key, a repeat, by rev, what waits) answers them confirmed, with the rev each got and the
    confirmation's time; after a restart too, and a rewrite writes them in that state."""
    clock = FakeClock()
    store = opened(path, clock=clock)  # two messages a chat held whole
    store.create_chat("c", [ALICE], None, ALICE)
    sent = [send(store, f"m{i}", f"body {i}") for i in range(1, 9)]
    copied = store.change(sent[1].id, lambda m: {"xmtp_id": "x"})  # waits on XMTP: the clock leaves it
    clock.advance(5)
    size = path.stat().st_size
    confirmed = store.confirm_through("c", 7)
    assert path.read_bytes()[size:].count(b"\n") == 2, "one record and its commit line"
    want = {m.id: m for m in sent} | {copied.id: copied}
    for rev, m in enumerate((m for m in sent[:7] if m is not sent[1]), confirmed.first_rev):
        want[m.id] = confirmed_by_clock(m, rev, confirmed.at)
    assert (confirmed.rev, confirmed.at) == (copied.rev + 6, clock.now_ms())
    room = store.state.rooms["c"]
    assert len(room.recent) == 2 and list(room.clock_revs) == [confirmed.first_rev], "no message held for it"

    def same(s: JsonlStore) -> None:
        assert s.page("c", None, None, 20) == ([want[m.id] for m in sent], False)
        assert s.page("c", None, 3, 2) == ([want[m.id] for m in sent[3:5]], True)
        assert s.messages({m.id for m in sent}) == want
        assert all(s.find(ALICE, m.client_id) == want[m.id] for m in sent)
        assert s.append(NewMessage("c", ALICE, "m1", "again"))[0] == want[sent[0].id], "a repeat: as it is now"
        assert s.changes("c", copied.rev, 20) == ([want[m.id] for m in sent[:7] if m is not sent[1]], False)
        assert [u.id for u in s.unsettled()] == [copied.id, sent[7].id]
        assert s.due_chats(clock.now_ms(), 10) == {"c": 8} and s.confirm_through("c", 7) is None

    same(store)
    store.close()
    store = opened(path, clock=clock)  # replayed: the confirmation applied again
    same(store)
    store.create_chat("gone", [ALICE], None, ALICE)
    store.remove_member("gone", ALICE)  # erased: the log is rewritten after this commit
    store.create_chat("after", [ALICE], None, ALICE)  # the writer rewrote the log before it took this write
    log = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert not any(line["op"] == "confirmed" for line in log) and not store.state.rooms["c"].clock_revs
    written = {line["m"]["id"]: line["m"] for line in log if line["op"] == "message"}
    assert written == {i: orjson.loads(orjson.dumps(m)) for i, m in want.items()}, "each in its current state"
    same(store)
    store.close()
    store = opened(path, clock=clock)
    same(store)
    deleted = store.change(sent[0].id, lambda m: deleted_fields())  # a later change starts from what the clock made it
    assert (deleted.status, deleted.source, deleted.rev) == ("confirmed", "fallback", confirmed.rev + 1)
    store.close()


def test_the_reconcilers_look_for_due_chats_reads_the_log_only_as_far_as_it_goes(path, monkeypatch):
    """Each round asks which chats have plain messages past the grace; nothing due yet (the usual answer) costs one
    message read from the log, not a chunk of them, and what is due is still found whole."""
    clock = FakeClock()
    store = opened(path, clock=clock)  # two messages a chat held whole: the older ones are read from the log
    store.create_chat("c", [ALICE], None, ALICE)
    old = [send(store, f"old{i}", "body") for i in range(40)]
    clock.advance(60)
    later = [send(store, f"new{i}", "body") for i in range(3)]
    read: list[int] = []
    reads = store.state.history.read
    monkeypatch.setattr(store.state.history, "read", lambda offsets: read.append(len(offsets)) or reads(offsets))
    assert store.due_chats(old[0].sent_at - 1, 1000) == {}
    assert sum(read) == 1, "the first waiting message alone shows that none is due"
    read.clear()
    assert store.due_chats(old[-1].sent_at, 1000) == {"c": old[-1].seq}
    assert sum(read) <= 2 * len(old), "what is due is read, and at most as much again"
    assert store.due_chats(later[-1].sent_at, 1000) == {"c": later[-1].seq}
    store.close()


def test_a_confirmation_planned_with_a_new_message_in_its_batch_leaves_that_message_waiting_and_replays(path):
    """A confirmation through a seq that a send in the same batch takes confirms only what was stored before it: the
    record then names what replay finds waiting (counting the new message too made a log that could not be read)."""
    clock = FakeClock()
    store = opened(path, clock=clock)
    store.create_chat("c", [ALICE], None, ALICE)
    old = send(store, "m1")
    clock.advance(5)
    pending = store.append_later(NewMessage("c", ALICE, "m2", "new"))  # queued: both go in the writer's next batch
    confirmed = store.confirm_through("c", old.seq + 1)
    new = pending.get()[0]
    assert (confirmed.through_seq, confirmed.rev) == (old.seq, confirmed.first_rev), "the old message only"
    assert store.message(new.id).status == "provisional" and store.message(old.id).status == "confirmed"
    store.close()
    store = opened(path, clock=clock)  # replayed
    assert store.message(new.id).status == "provisional" and store.message(old.id).status == "confirmed"
    store.close()


def test_a_rewrite_copies_records_of_another_shape_as_message_lines_of_the_current_one(path):
    """A rewrite copies each message's current record; one that does not start as this encoder writes is re-encoded."""
    changed = orjson.loads(orjson.dumps(message(1, "old"))) | {"rev": 3, "xmtp_id": "x"}
    path.write_bytes(encode_record(("chat", Room("c", [ALICE], None, ALICE, 1)))
                     + b'{"m":' + orjson.dumps(message(1, "old")) + b',"op":"message"}\n'
                     + encode_record(("message", message(2, "next")))
                     + b'{"m":' + orjson.dumps(changed) + b',"op":"update"}\n')  # a log without commit lines
    store = opened(path)  # rewritten at once, with commit lines
    lines = path.read_bytes().splitlines()
    assert lines[0] + b"\n" == LOG_HEADER and sum(line.startswith(b'{"op":"message","m":') for line in lines) == 2
    assert store.message("c/1").xmtp_id == "x" and store.find(ALICE, "old").rev == 3
    store.close()
    assert opened(path).page("c", None, None, 5)[0] == [Message(**changed), message(2, "next")]


def test_a_log_holding_one_message_a_chat_answers_every_read_as_one_holding_them_all(tmp_path, monkeypatch):
    """Random sends, repeats, changes, reactions, deletions, per-chat confirmations by the clock, erasures, rewrites and
    restarts, done to two logs: one reading all but each chat's last message from disk, one holding everything in
    memory; every read agrees, and a restart (replay, or a rewrite's copy) changes no read."""
    import random

    from optimistic_messaging.store.base import NewMessage as New

    monkeypatch.setattr(jsonl, "COMPACT_MIN_SUPERSEDED", 30)  # rewrites now and then, as well as after erasures
    clock, rnd, bob = FakeClock(), random.Random(18), "0x" + "b" * 40
    paths = (tmp_path / "disk.json", tmp_path / "memory.json")

    def open_both() -> list[JsonlStore]:
        stores = [JsonlStore(paths[0], clock=clock, recent=1), JsonlStore(paths[1], clock=clock, recent=10**9)]
        for s in stores:
            s.start()
        return stores

    def both(call) -> object:
        answers = []
        for s in stores:
            try:
                answers.append(("ok", call(s)))
            except ApiError as exc:
                answers.append(("refused", exc.code))
        assert answers[0] == answers[1]
        return answers[0]

    def reads(s: JsonlStore) -> object:
        """Everything a restart must keep (the plain queue's order aside: due chats compared as a dict)."""
        chats = [(s.chat(c), s.page(c, None, None, 100), s.changes(c, 0, 500)) for c in "abc"]
        return chats, s.unsettled(), s.unsettled_by_kind(), s.due_chats(clock.now_ms(), 10_000)

    stores = open_both()
    for chat in "abc":
        both(lambda s, chat=chat: s.create_chat(chat, [ALICE, bob], None, ALICE))
    for step in range(400):
        chat, roll = rnd.choice("abc"), rnd.random()
        ids = [f"{chat}/{seq}" for seq in range(1, 40)]
        if roll < 0.5:  # every random draw made once, outside the calls, so both stores get the same
            new = New(chat, rnd.choice((ALICE, bob)), f"k{rnd.randrange(60)}", f"text {step}")
            both(lambda s: s.append(new))
        elif roll < 0.65:
            fields = rnd.choice(({"status": "confirmed"}, {"xmtp_id": f"x{step}"}, deleted_fields()))
            both(lambda s, i=rnd.choice(ids): s.change(i, lambda m: fields))
        elif roll < 0.75:
            both(lambda s, i=rnd.choice(ids), a=rnd.choice((ALICE, bob)): s.react(i, Reaction(a, "👍", True)))
        elif roll < 0.78:  # the chat erased, and registered again
            both(lambda s: s.remove_member(chat, bob))
            both(lambda s: s.remove_member(chat, ALICE))
            both(lambda s: s.create_chat(chat, [ALICE, bob], None, ALICE))
        elif roll < 0.81:
            before = both(reads)
            for s in stores:
                s.close()
            stores = open_both()
            assert both(reads) == before
        elif roll < 0.87:  # the clock confirms the chat's plain messages up to a seq, as the reconciler does
            both(lambda s, through=rnd.randrange(1, 40): s.confirm_through(chat, through))
        else:
            clock.advance(rnd.randrange(1, 2_000))
        for c in "abc":
            last = both(lambda s, c=c: s.chat(c).last_seq)[1]
            both(lambda s, c=c: s.page(c, None, None, 100))
            both(lambda s, c=c, at=rnd.randrange(last + 2): (s.page(c, at, None, 3), s.page(c, None, at, 3)))
            both(lambda s, c=c, rev=rnd.randrange(0, 10): s.changes(c, rev, 500))
            both(lambda s, c=c: s.view(c, ALICE))
        both(lambda s, key=f"k{rnd.randrange(60)}": (s.find(ALICE, key), s.find(bob, key)))
        # Due chats as a dict of all: the plain queue is in log order, and the two logs are rewritten at moments the
        # writers' scheduling picks (a rewrite at start), so a few of them at a time may come in another order.
        both(lambda s: (s.unsettled(), s.unsettled_by_kind(), s.due_chats(clock.now_ms(), 10_000)))
    for s in stores:
        s.close()
