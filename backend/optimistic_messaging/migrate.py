"""`python -m optimistic_messaging.migrate FILE`: import a JSON-lines log into the PostgreSQL of DATABASE_URL.

Every field a node serves comes along (ids, seq, rev, bodies, payments, statuses, times, members and where each one's
view begins, their read and delivered positions, titles, creators, idempotency keys, replies, reactions with every
reactor, deletions, the counters of erased chats), the sign-outs still in force (the nodes share the log's SECRET_KEY:
its tokens stay valid), the settings and the Farcaster notification tokens and links (those the database has
already stand). Run it with the nodes
stopped. Run again, it imports nothing twice and never moves a chat's last_seq or rev back: a chat it brought in before
gets what the log gained since (later messages, later changes), unless nodes wrote to that chat in the database
meanwhile — then the database's history stands and the chat is named. A chat it brought in that the log erased since
is erased in the database too. A chat the database had before any import is never touched.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psycopg

from .clock import SYSTEM_CLOCK
from .models import Message
from .store.jsonl import JsonlStore
from .store.postgres import INSERT_MESSAGES
from .store.postgres.schema import migrate as migrate_schema
from .store.state import Room, State

log = logging.getLogger(__name__)


@dataclass
class Imported:
    chats: int = 0
    messages: int = 0
    changed: int = 0
    erased: int = 0
    diverged: list[str] = field(default_factory=list)


def import_log(path: Path, url: str) -> Imported:
    state = JsonlStore.read(path)
    done = Imported()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate_schema(conn)
        with conn.transaction():
            for chat_id, (last_seq, rev, version) in state.tombs.items():
                _erase(conn, chat_id, rev, done)
                conn.execute(  # the counters never move back, whichever side erased the chat last
                    "INSERT INTO erased_chats (id, last_seq, rev, members_version) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET last_seq = greatest(erased_chats.last_seq, excluded.last_seq), "
                    "rev = greatest(erased_chats.rev, excluded.rev), "
                    "members_version = greatest(erased_chats.members_version, excluded.members_version)",
                    (chat_id, last_seq, rev, version),
                )
            for room in sorted(state.rooms.values(), key=lambda r: r.activity):  # activity order: 'latest first' kept
                if room.id in done.diverged:  # named already: the database's history stands
                    continue
                try:
                    with conn.transaction():  # a savepoint: a chat that cannot come in whole does not come in
                        _import_room(conn, room, state, done)
                except psycopg.errors.UniqueViolation:  # an idempotency key the database gave to another message
                    done.diverged.append(room.id)
            state.forget_revoked(SYSTEM_CLOCK.now_ms())
            conn.cursor().executemany(
                "INSERT INTO revoked_sessions (session_id, until) VALUES (%s, %s) ON CONFLICT (session_id) "
                "DO UPDATE SET until = greatest(revoked_sessions.until, excluded.until)",
                list(state.revoked.items()),
            )
            conn.cursor().executemany(
                "INSERT INTO settings (address, read_receipts, push_previews) VALUES (%s, %s, %s) "
                "ON CONFLICT (address) DO NOTHING",
                [(address, s.read_receipts, s.push_previews) for address, s in state.settings.items()],
            )
            conn.cursor().executemany(
                "INSERT INTO farcaster_tokens (fid, app_key, url, token) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (fid, app_key) DO NOTHING",
                [(t.fid, t.app_key, t.url, t.token) for t in state.fc_tokens.values()],
            )
            conn.cursor().executemany(
                "INSERT INTO farcaster_links (address, fid) VALUES (%s, %s) ON CONFLICT (address) DO NOTHING",
                list(state.fc_links.items()),
            )
    return done


def _erase(conn: psycopg.Connection, chat_id: str, erased_rev: int, done: Imported) -> None:
    """A chat an earlier run brought in that the log erased since: it goes from the database too, leaving no trace
    (as the store erases), unless nodes wrote to it in the database meanwhile — then that history stands."""
    row = conn.execute(
        "SELECT c.last_seq, c.rev, i.last_seq, i.rev FROM chats c JOIN imported i ON i.chat_id = c.id "
        "WHERE c.id = %s FOR UPDATE OF c",
        (chat_id,),
    ).fetchone()
    if row is None or row[3] > erased_rev:  # never imported, or what came in is the chat the log has after it
        return
    if row[:2] != row[2:]:
        done.diverged.append(chat_id)
        return
    tables = ("reactions", "messages", "members", "imported")
    for table, column in (*((t, "chat_id") for t in tables), ("chats", "id")):
        conn.execute(f"DELETE FROM {table} WHERE {column} = %s", (chat_id,))
    done.erased += 1


def _import_room(conn: psycopg.Connection, room: Room, state: State, done: Imported) -> None:
    row = conn.execute(
        "SELECT c.last_seq, c.rev, i.last_seq, i.rev FROM chats c LEFT JOIN imported i "
        "ON i.chat_id = c.id WHERE c.id = %s FOR UPDATE OF c",
        (room.id,),
    ).fetchone()
    if row is None:
        conn.execute(
            "INSERT INTO chats (id, title, created_by, created_at, last_seq, rev, members_version, activity) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, nextval('chat_activity'))",
            (room.id, room.title, room.created_by, room.created_at, room.last_seq, room.rev, room.members_version),
        )
        conn.execute(
            "INSERT INTO imported (chat_id, last_seq, rev) VALUES (%s, %s, %s)", (room.id, room.last_seq, room.rev)
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO members (chat_id, address, visible_from, read_seq, delivered_seq, shown) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [
                    (room.id, address, room.starts.get(address, 1), p.read_seq, p.delivered_seq, p.shown)
                    for address, p in ((a, room.positions[a]) for a in room.members)
                ],
            )
            _insert(cur, list(state.history_of(room)), state)
        done.chats += 1
        done.messages += room.last_seq - room.base_seq
        return
    last_seq, rev, imported_seq, imported_rev = row
    if (last_seq, rev) != (imported_seq, imported_rev):  # the database's own chat, or nodes wrote to it since
        if imported_rev is None or room.rev > imported_rev:  # and the log has something the database has not
            done.diverged.append(room.id)
        return
    later = [m for m in state.history_of(room) if m.rev > rev]  # new, or changed since the last import
    with conn.cursor() as cur:
        cur.executemany(  # positions only move forward, on either side
            "UPDATE members SET read_seq = greatest(read_seq, %s), delivered_seq = greatest(delivered_seq, %s), "
            "shown = shown OR %s WHERE chat_id = %s AND address = %s",
            [(p.read_seq, p.delivered_seq, p.shown, room.id, address) for address, p in room.positions.items()],
        )
        for m in later:
            for table in ("reactions", "messages"):
                cur.execute(f"DELETE FROM {table} WHERE chat_id = %s AND seq = %s", (m.chat_id, m.seq))
        _insert(cur, later, state)
    if later:
        conn.execute(
            "UPDATE chats SET last_seq = %s, rev = %s, activity = nextval('chat_activity') WHERE id = %s",
            (room.last_seq, room.rev, room.id),
        )
        conn.execute(
            "UPDATE imported SET last_seq = %s, rev = %s WHERE chat_id = %s", (room.last_seq, room.rev, room.id)
        )
    done.messages += sum(1 for m in later if m.seq > last_seq)
    done.changed += sum(1 for m in later if m.seq <= last_seq)


def _insert(cur: psycopg.Cursor, messages: list[Message], state: State) -> None:
    """The messages, a thousand to a statement: one JSON text each, never one of a chat's whole history; then their
    reactors, in the order they reacted."""
    for start in range(0, len(messages), 1000):
        cur.execute(INSERT_MESSAGES, (orjson.dumps(messages[start : start + 1000]).decode(),))
    cur.executemany(
        "INSERT INTO reactions (chat_id, seq, emoji, address) VALUES (%s, %s, %s, %s)",
        [
            (m.chat_id, m.seq, emoji, address)
            for m in messages
            for emoji, reactors in state.reactors.get(m.id, {}).items()
            for address in reactors
        ],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m optimistic_messaging.migrate", description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path, help="the JSON-lines log (DATA_FILE) to import")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("DATABASE_URL must name the PostgreSQL database to import into", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"{args.file}: no such log", file=sys.stderr)
        return 2
    done = import_log(args.file, url)
    print(
        f"imported {done.chats} chats, {done.messages} messages and {done.changed} later changes from {args.file}, "
        f"erased {done.erased} chats erased there since"
    )
    for chat_id in done.diverged:
        print(f"not imported: chat {chat_id} has another history in the database", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
