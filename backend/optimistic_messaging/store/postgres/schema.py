"""The PostgreSQL schema, as numbered migrations applied at start: one transaction under an advisory lock, so nodes
starting at once on an empty database apply each migration once and wait for each other."""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)

MIGRATION_LOCK = 0x6F6D_0001  # pg_advisory_xact_lock key: "om", migrations
MIGRATIONS: list[str] = [
    # 1: chats, their members, messages, used sign-in nonces.
    """
    CREATE TABLE chats (
        id          text PRIMARY KEY,
        title       text,
        created_by  text NOT NULL,
        created_at  bigint NOT NULL,
        last_seq    bigint NOT NULL DEFAULT 0,
        rev         bigint NOT NULL DEFAULT 0,
        activity    bigint NOT NULL,      -- the order of its creation or latest message, store-wide: 'latest first'
        members_version bigint NOT NULL DEFAULT 0  -- bumped by every member change: a node can tell it missed one
    );
    CREATE SEQUENCE chat_activity;
    CREATE TABLE members (
        chat_id  text NOT NULL REFERENCES chats (id),
        address  text NOT NULL,
        joined   bigserial,               -- members are listed in the order they joined
        PRIMARY KEY (chat_id, address)
    );
    CREATE INDEX members_by_address ON members (address, chat_id);
    CREATE TABLE messages (
        chat_id     text NOT NULL REFERENCES chats (id),
        seq         bigint NOT NULL,
        rev         bigint NOT NULL,
        client_id   text NOT NULL,
        sender      text NOT NULL,
        body        text NOT NULL,
        tx          jsonb,
        xmtp_id     text,
        xmtp_bound  boolean NOT NULL,
        status      text NOT NULL,
        source      text NOT NULL,
        reason      text,
        original    jsonb,
        sent_at     bigint NOT NULL,
        updated_at  bigint NOT NULL,
        PRIMARY KEY (chat_id, seq),
        UNIQUE (sender, client_id)
    );
    CREATE UNIQUE INDEX messages_by_rev ON messages (chat_id, rev);
    CREATE INDEX messages_provisional ON messages (sent_at) WHERE status = 'provisional';
    CREATE TABLE used_nonces (
        nonce       text PRIMARY KEY,
        expires_at  bigint NOT NULL
    );
    CREATE INDEX used_nonces_by_expiry ON used_nonces (expires_at);
    CREATE TABLE imported (              -- where `migrate` left each chat it brought in from a JSON-lines log
        chat_id  text PRIMARY KEY REFERENCES chats (id),
        last_seq bigint NOT NULL,
        rev      bigint NOT NULL
    );
    """,
    # 2: sessions signed out, each kept until its maximum age has passed (then pruned).
    """
    CREATE TABLE revoked_sessions (
        session_id  text PRIMARY KEY,
        until       bigint NOT NULL
    );
    CREATE INDEX revoked_sessions_by_until ON revoked_sessions (until);
    """,
    # 3 (v1.2): where each member's view of a chat begins; the counters of erased chats, which a new one continues.
    """
    ALTER TABLE members ADD COLUMN IF NOT EXISTS visible_from bigint NOT NULL DEFAULT 1;
    CREATE TABLE IF NOT EXISTS erased_chats (
        id              text PRIMARY KEY,
        last_seq        bigint NOT NULL,
        rev             bigint NOT NULL,
        members_version bigint NOT NULL
    );
    """,
    # 4: the reconciler's schedule of plain messages (settled by the clock): the due ones by time sent, oldest first.
    """
    CREATE INDEX IF NOT EXISTS messages_plain_due ON messages (sent_at, chat_id, seq)
        WHERE status = 'provisional' AND tx IS NULL AND xmtp_id IS NULL;
    """,
    # 5 (v1.2): replies, reactions (every reactor kept, the message shows the latest), deletion; a deleted message's
    # XMTP copy settles it no more: the clock's schedule takes it.
    """
    ALTER TABLE messages
        ADD COLUMN IF NOT EXISTS reply_to text,
        ADD COLUMN IF NOT EXISTS reactions jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN IF NOT EXISTS reaction_counts jsonb NOT NULL DEFAULT '{}',
        ADD COLUMN IF NOT EXISTS deleted boolean NOT NULL DEFAULT false;
    CREATE TABLE IF NOT EXISTS reactions (
        chat_id  text NOT NULL,
        seq      bigint NOT NULL,
        emoji    text NOT NULL,
        address  text NOT NULL,
        at       bigserial,               -- the order they reacted in: the latest are shown
        PRIMARY KEY (chat_id, seq, emoji, address)
    );
    DROP INDEX IF EXISTS messages_plain_due;
    CREATE INDEX messages_plain_due ON messages (sent_at, chat_id, seq)
        WHERE status = 'provisional' AND tx IS NULL AND (xmtp_id IS NULL OR deleted);
    """,
    # 6 (v1.2): each member's read and delivered positions (where the chat was as it joined, until it marks or sends;
    # `shown` once it has), each address's settings (defaults until it puts some), and
    # the deleted messages by chat and seq, which an unread count leaves out.
    """
    ALTER TABLE members ADD COLUMN IF NOT EXISTS read_seq bigint NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS delivered_seq bigint NOT NULL DEFAULT 0,
        ADD COLUMN IF NOT EXISTS shown boolean NOT NULL DEFAULT false;
    CREATE TABLE IF NOT EXISTS settings (
        address        text PRIMARY KEY,
        read_receipts  boolean NOT NULL DEFAULT true,
        push_previews  boolean NOT NULL DEFAULT true
    );
    CREATE INDEX IF NOT EXISTS messages_deleted ON messages (chat_id, seq) WHERE deleted;
    """,
    # 7 (v1.2): Web Push subscriptions, each endpoint one address's (`at`: the order they were registered in, the
    # oldest dropped past the limit), with the session that registered it (its sign-out ends it); and the keys every
    # node must share, made by the first node that needs one (the VAPID key).
    """
    CREATE TABLE IF NOT EXISTS kept_keys (
        name   text PRIMARY KEY,
        value  text NOT NULL
    );
    CREATE TABLE IF NOT EXISTS push_subscriptions (
        endpoint  text PRIMARY KEY,
        address   text NOT NULL,
        p256dh    text NOT NULL,
        auth      text NOT NULL,
        session   text NOT NULL,
        at        bigserial
    );
    CREATE INDEX IF NOT EXISTS push_subscriptions_address ON push_subscriptions (address, at);
    """,
    # 8 (v1.2): each Farcaster client's (fid and app key) latest notification token, and the fid each address linked.
    """
    CREATE TABLE IF NOT EXISTS farcaster_tokens (
        fid      bigint NOT NULL,
        app_key  text NOT NULL,
        url      text NOT NULL,
        token    text NOT NULL,
        PRIMARY KEY (fid, app_key)
    );
    CREATE TABLE IF NOT EXISTS farcaster_links (
        address  text PRIMARY KEY,
        fid      bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS farcaster_links_fid ON farcaster_links (fid);
    """,
    # 9: the messages waiting for the clock by chat and seq: a per-chat confirmation reads those it confirms, not the
    # chat's history.
    """
    CREATE INDEX IF NOT EXISTS messages_waiting_by_chat ON messages (chat_id, seq)
        WHERE status = 'provisional' AND tx IS NULL AND (xmtp_id IS NULL OR deleted);
    """,
]


def migrate(conn: psycopg.Connection) -> int:
    """Bring the schema to the latest version; returns it. Safe when several nodes start at once."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS om_schema (version int PRIMARY KEY, applied_at timestamptz "
            "NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM om_schema").fetchone()
        current = row[0] if row else 0
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"the database's schema is version {current}, newer than this server's "
                f"{len(MIGRATIONS)}: run the newer server"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO om_schema (version) VALUES (%s)", (version,))
            log.info("database schema migrated to version %d", version)
    return len(MIGRATIONS)
