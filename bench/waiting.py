"""What waiting costs the leader: `.venv/bin/python bench/waiting.py [--messages 1000000]`.

Puts n provisional plain messages (none due: XMTP_GRACE_S is an hour) straight into a fresh PostgreSQL database,
then builds the reconciler on it (which schedules what it takes over) and runs a round, in process, and prints the
Python memory it holds after that (tracemalloc) and at its peak. The store is the schedule of plain messages, so the
figure must not grow with n. Not CI.
"""
from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

from gevent import monkey

monkey.patch_all()

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "backend")]

import psycopg  # noqa: E402
from targets import drop_database, fresh_database  # noqa: E402

from optimistic_messaging.clock import SYSTEM_CLOCK  # noqa: E402
from optimistic_messaging.config import Config  # noqa: E402
from optimistic_messaging.reconciler import Reconciler  # noqa: E402
from optimistic_messaging.broker.notify import announce  # noqa: E402
from optimistic_messaging.store.postgres import PgStore  # noqa: E402

SENDER = "0x" + "a" * 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    n = parser.parse_args().messages
    url = fresh_database()
    try:
        store = PgStore(url, SYSTEM_CLOCK, announce("bench"))
        store.start()
        store.create_chat("c", [SENDER], None, SENDER)
        now = SYSTEM_CLOCK.now_ms()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO messages (chat_id, seq, rev, client_id, sender, body, xmtp_bound, status, source, "
                "sent_at, updated_at) SELECT 'c', g, g + 1, 'k' || g, %s, 'waiting', false, 'provisional', 'server', "
                "%s, %s FROM generate_series(1, %s) g",
                (SENDER, now, now, n),
            )
            conn.execute("UPDATE chats SET last_seq = %s, rev = %s + 1", (n, n))
        tracemalloc.start()
        reconciler = Reconciler(Config(secret_key="k" * 64, xmtp_grace_s=3600), store, SYSTEM_CLOCK)
        reconciler.start()  # takes over: counts and reseeds
        reconciler.round()
        kept, peak = tracemalloc.get_traced_memory()
        print(f"{n:,} waiting: the reconciler holds {kept / 1e6:.2f} MB after taking over and a round "
              f"(peak {peak / 1e6:.2f} MB); in-memory schedule entries: {len(reconciler.schedule):,}")
        store.close()
    finally:
        drop_database(url)


if __name__ == "__main__":
    main()
