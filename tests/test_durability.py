"""Crashes and restarts of the real server: acked means durable, the log repairs a torn tail, sessions survive."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from optimistic_messaging.store.state import Room
from optimistic_messaging.store.jsonl import LOG_HEADER, encode_batch

from support import ROOT, TIMEOUT, Peer, Wallet, new_chat


def all_messages(server, chat_id, token):
    found, after = [], 0
    while True:
        page = server.get(f"/api/chats/{chat_id}/messages?after={after}&limit=200", token).json()
        found += page["messages"]
        if not page["has_more"]:
            return found
        after = found[-1]["seq"]


def test_kill_9_during_a_pipelined_burst_loses_no_acked_message(make_server):
    server = make_server({"RATE_PER_S": "100000", "RATE_BURST": "100000"})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    sender = Peer(server, alice.token)
    acked: dict[str, int] = {}
    enough = threading.Event()

    def on_ack(client_id: str, ack: dict) -> None:
        if ack.get("ok"):
            acked[client_id] = ack["message"]["seq"]
        if len(acked) >= 200:
            enough.set()

    for i in range(3000):
        sender.sio.emit("send", {"chat_id": chat["id"], "client_id": f"b{i}", "body": f"burst {i}"},
                        callback=lambda ack, c=f"b{i}": on_ack(c, ack))
    assert enough.wait(TIMEOUT)
    server.kill()
    snapshot = dict(acked)
    sender.sio.disconnect()
    server.start()
    stored = all_messages(server, chat["id"], alice.token)
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1)), "seq gapless"
    by_client = {m["client_id"]: m["seq"] for m in stored}
    assert len(by_client) == len(stored), "nothing duplicated"
    assert all(by_client.get(c) == seq for c, seq in snapshot.items()), "every acked message is there, same seq"
    assert len(snapshot) >= 200


def test_restart_keeps_chats_messages_tokens_and_idempotency(make_server):
    server = make_server()
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    first = peer.send(chat["id"], "before restart", client_id="k1")["message"]
    peer.close()
    server.kill()
    server.start()
    again = Peer(server, alice.token)  # the token signed before the restart is still good
    assert again.send(chat["id"], "repeat", client_id="k1")["message"] == first
    assert again.send(chat["id"], "after restart")["message"]["seq"] == 2
    assert server.get(f"/api/chats/{chat['id']}", bob.token).json()["chat"]["rev"] == 2
    again.close()


@pytest.mark.jsonl
def test_torn_last_line_is_repaired_at_start_with_a_warning(make_server):
    server = make_server()
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    peer.send(chat["id"], "whole")
    peer.close()
    server.kill()
    with open(server.data_file, "ab") as f:
        f.write(b'{"op":"message","m":{"id":"torn')
    server.start()
    assert "torn tail" in server.log()
    assert [m["body"] for m in all_messages(server, chat["id"], alice.token)] == ["whole"]
    peer = Peer(server, alice.token)
    assert peer.send(chat["id"], "next")["message"]["seq"] == 2
    peer.close()


@pytest.mark.jsonl
def test_corrupt_line_refuses_start_up_naming_the_line(tmp_path):
    data = tmp_path / "messages.json"
    chat = encode_batch([("chat", Room("c", [], None, "0x0", 1))])
    data.write_bytes(LOG_HEADER + chat.replace(b'"c"', b'"d"') + encode_batch([("members", ("c", ["0x1"], 1))]))
    run = subprocess.run([sys.executable, str(ROOT / "backend" / "main.py")], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={"DATA_FILE": str(data), "PORT": "1", "PATH": "/usr/bin:/bin"})
    assert run.returncode != 0
    assert f"{data}:2-3: a batch fails its CRC-32" in run.stderr
    assert data.read_bytes().count(b"\n") == 5, "nothing is dropped"


@pytest.mark.jsonl
@pytest.mark.parametrize("fsync", ["always", "off"])
def test_both_fsync_modes_keep_what_was_acked_across_a_clean_restart(make_server, fsync):
    server = make_server({"FSYNC": fsync})
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    peer.send(chat["id"], "kept")
    peer.close()
    server.kill()
    server.start()
    assert [m["body"] for m in all_messages(server, chat["id"], alice.token)] == ["kept"]


@pytest.mark.jsonl
def test_a_write_the_disk_refuses_is_acked_unavailable_and_stores_nothing(make_server):
    # No file of the process may pass 100 KB: the log (4 KB a message) reaches that long before the server's output.
    command = ["prlimit", "--fsize=100000", sys.executable, str(ROOT / "backend" / "main.py")]
    server = make_server({"RATE_PER_S": "1000", "RATE_BURST": "1000"}, command=command)
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    acks = [peer.send(chat["id"], "x" * 4000, client_id=f"f{i}") for i in range(40)]
    refused = [ack for ack in acks if not ack["ok"]]
    assert refused and all(ack["error"]["code"] == "unavailable" for ack in refused)
    acked = [ack["message"]["client_id"] for ack in acks if ack["ok"]]
    assert server.get("/api/health").status_code == 200
    peer.close()
    server.kill()
    server.command = [sys.executable, str(ROOT / "backend" / "main.py")]
    server.start()
    stored = all_messages(server, chat["id"], alice.token)
    assert [m["client_id"] for m in stored] == acked and [m["seq"] for m in stored] == list(range(1, len(acked) + 1))
    again = Peer(server, alice.token)
    retry = again.send(chat["id"], "after the disk has room", client_id="f39")  # a refused one, retried: stored now
    assert retry["ok"] and retry["message"]["seq"] == len(acked) + 1
    again.close()


class Faults:
    """Disk faults armed and disarmed while a real server runs: the LD_PRELOAD shim of tests/faults/faults.c."""

    def __init__(self, library: Path, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(exist_ok=True)
        self.env = {"LD_PRELOAD": str(library), "OM_FAULT_DIR": str(folder)}

    def arm(self, name: str, content: str = "") -> None:
        (self.folder / name).write_text(content)

    def disarm(self) -> None:
        for armed in self.folder.iterdir():
            armed.unlink()


@pytest.fixture(scope="session")
def fault_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    library = tmp_path_factory.mktemp("faults") / "faults.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(ROOT / "tests" / "faults" / "faults.c"),
                    "-ldl"], check=True)
    return library


@pytest.fixture
def faults(fault_library: Path, tmp_path: Path) -> Faults:
    return Faults(fault_library, tmp_path / "armed")


@pytest.mark.jsonl
def test_a_send_refused_when_the_log_cannot_be_synced_or_rolled_back_is_stored_once_when_retried(make_server, faults):
    server = make_server(faults.env)
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    faults.arm("fsync")
    faults.arm("ftruncate")
    refused = peer.send(chat["id"], "written, never synced", client_id="doomed")
    assert refused["ok"] is False and refused["error"]["code"] == "unavailable"
    assert server.get("/api/health").status_code == 503, "the store stops taking writes it cannot vouch for"
    peer.close()
    faults.disarm()
    server.kill()
    server.start()
    retry = Peer(server, alice.token)
    again = retry.send(chat["id"], "written, never synced", client_id="doomed")
    assert again["ok"]
    stored = [m for m in all_messages(server, chat["id"], alice.token) if m["client_id"] == "doomed"]
    assert [m["id"] for m in stored] == [again["message"]["id"]], "exactly one copy, whatever the refused write left"
    retry.close()


@pytest.mark.jsonl
def test_a_send_refused_when_the_log_cannot_be_synced_is_rolled_back_and_never_reappears(make_server, faults):
    server = make_server(faults.env)
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    faults.arm("fsync-once")  # the rollback's own fsync succeeds
    assert peer.send(chat["id"], "rolled back", client_id="gone")["error"]["code"] == "unavailable"
    assert peer.send(chat["id"], "kept")["ok"], "the store goes on once the disk does"
    peer.close()
    server.kill()
    server.start()
    assert [m["body"] for m in all_messages(server, chat["id"], alice.token)] == ["kept"]


@pytest.mark.jsonl
def test_a_torn_tail_is_cut_in_place_on_a_full_disk(make_server, faults):
    server = make_server(faults.env)
    alice, bob = Wallet().sign_in(server), Wallet().sign_in(server)
    chat = new_chat(server, alice, bob)
    peer = Peer(server, alice.token)
    peer.send(chat["id"], "whole")
    peer.close()
    server.kill()
    with open(server.data_file, "ab") as f:
        f.write(b'{"op":"message","m":{"id":"torn')
    faults.arm("enospc", ".torn-")  # no room for a copy of the torn bytes
    server.start()
    assert "could not be kept aside" in server.log()
    assert not list(server.data_dir.glob("*.torn-*"))
    assert [m["body"] for m in all_messages(server, chat["id"], alice.token)] == ["whole"]
