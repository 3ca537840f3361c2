"""How fast `GET /api/chats` answers a member of 200 chats with 10,000 messages each (issue 16: the Chat's last message,
positions and unread come from counters and positions, never a scan of history): `.venv/bin/python bench/chat_list.py
[--stores jsonl,pg] [--chats 200] [--messages 10000] [--requests 100]`.

Each store gets the whole history written straight into it first (the log with the store's own encoder; PostgreSQL by
SQL after the server has created its schema), half the chats marked read halfway; then one signed-in client asks for
the whole list (`limit=200`) over one keep-alive connection, one request at a time. Prints milliseconds per answer
(median, p99) and writes bench/out/chat_list.json. It reports figures; it is not a test.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from eth_account import Account

from targets import ROOT, Api, Ours, OursPg, check

sys.path.insert(0, str(ROOT / "backend"))
OUT = ROOT / "bench" / "out"
OTHER = "0x" + "0" * 39 + "2"  # digits only: already EIP-55 checksummed


def chat_id(c: int) -> str:
    return f"list-{c}"


def write_log(path: Path, me: str, chats: int, messages: int) -> None:
    """The history as a compacted log holds it, written with the store's own encoder; every other chat read halfway."""
    from optimistic_messaging.models import Message, message_id
    from optimistic_messaging.store.jsonl import encode_log
    from optimistic_messaging.store.state import Room

    now = int(time.time() * 1000)
    members = [me, OTHER]

    def records():
        for c in range(chats):
            yield "chat", Room(chat_id(c), list(members), None, me, now)
            for seq in range(1, messages + 1):
                yield "message", Message(message_id(chat_id(c), seq), chat_id(c), seq, seq, f"m{c}-{seq}", OTHER,
                                         f"message {seq} of chat {c}", None, None, False, "confirmed", "fallback",
                                         None, None, now, now)
            if c % 2 == 0:
                yield "position", (chat_id(c), me, messages // 2, messages // 2, True)

    with open(path, "wb") as f:
        for piece in encode_log(records()):
            f.write(piece)


def fill_database(url: str, me: str, chats: int, messages: int) -> None:
    """The same history, by SQL, into the schema the server created."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO chats (id, title, created_by, created_at, last_seq, rev, activity) "
            "SELECT 'list-' || c, NULL, %s, 0, %s, %s, nextval('chat_activity') FROM generate_series(0, %s) c",
            (me, messages, messages, chats - 1))
        conn.execute(
            "INSERT INTO members (chat_id, address, read_seq, delivered_seq, shown) "
            "SELECT 'list-' || c, a, CASE WHEN a = %s AND c %% 2 = 0 THEN %s ELSE 0 END, "
            "CASE WHEN a = %s AND c %% 2 = 0 THEN %s ELSE 0 END, a = %s AND c %% 2 = 0 "
            "FROM generate_series(0, %s) c, unnest(%s::text[]) a",
            (me, messages // 2, me, messages // 2, me, chats - 1, [me, OTHER]))
        conn.execute(
            "INSERT INTO messages (chat_id, seq, rev, client_id, sender, body, xmtp_bound, status, source, sent_at, "
            "updated_at) SELECT 'list-' || c, s, s, 'm' || c || '-' || s, %s, 'message ' || s || ' of chat ' || c, "
            "false, 'confirmed', 'fallback', 0, 0 FROM generate_series(0, %s) c, generate_series(1, %s) s",
            (OTHER, chats - 1, messages))
        conn.execute("ANALYZE")


def timed(url: str, token: str, n: int, chats: int) -> list[float]:
    """Milliseconds per whole-list answer, one request at a time on one keep-alive connection."""
    with requests.Session() as s:
        headers = {"Authorization": f"Bearer {token}"}
        listed = check(s.get(f"{url}/api/chats?limit=200", headers=headers, timeout=60))["chats"]
        assert len(listed) == min(chats, 200) and all(c["last_message"] for c in listed), "the list is not whole"
        unread = sorted({c["unread"] for c in listed})
        print(f"  {len(listed)} chats listed, unread counts {unread}", file=sys.stderr)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            check(s.get(f"{url}/api/chats?limit=200", headers=headers, timeout=60))
            times.append((time.perf_counter() - started) * 1000)
        return times


def measure(store: str, chats: int, messages: int, n: int, tmp: Path) -> dict:
    account = Account.create()
    me = account.address
    data = tmp / f"chat-list-{store}.json"
    logs = OUT / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if store == "jsonl":
        write_log(data, me, chats, messages)
        server: Ours = Ours(logs / "chat-list-jsonl.log", data)
        server.start(timeout_s=600)
    else:
        server = OursPg(logs / "chat-list-pg.log", data)
        server.start()
        fill_database(server.database_url, me, chats, messages)
    print(f"  {store}: {chats * messages:,} messages in place in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    try:
        api = Api(server.url)
        token = api.sign_in(account)
        api.close()
        times = timed(server.url, token, n, chats)
    finally:
        server.stop()
    ordered = sorted(times)
    return {"chats": chats, "messages_per_chat": messages, "requests": n,
            "median_ms": round(statistics.median(times), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stores", default="jsonl,pg")
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for store in args.stores.split(","):
            results[store] = measure(store, args.chats, args.messages, args.requests, Path(tmp))
            r = results[store]
            print(f"GET /api/chats, {r['chats']} chats x {r['messages_per_chat']:,} messages, {store}: "
                  f"median {r['median_ms']} ms, p99 {r['p99_ms']} ms")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "chat_list.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
