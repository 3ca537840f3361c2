// Messages written but not yet acknowledged, in IndexedDB so that they survive a reload or a crash: each is put
// here before it is sent, removed once the server acks it, and re-sent with the same client_id on every
// (re)connect (the server is idempotent on (sender, client_id)).
import { database, OUTBOX, OUTBOX_BY_CHAT, type Database } from "./db";
import type { LocalMessage } from "./messages-reducer";

export type OutboxEntry = Omit<LocalMessage, "error">;

export interface Outbox {
  put(entry: OutboxEntry): Promise<void>;
  /** The chat's entries written by `sender`, oldest first (the order they must be sent in). */
  list(chatId: string, sender: string): Promise<OutboxEntry[]>;
  remove(clientId: string): Promise<void>;
  close(): void;
}

export function openOutbox(db: Database = database()): Outbox {
  return {
    async put(entry) {
      await db.run(OUTBOX, "readwrite", (store) => store.put(entry));
    },
    async list(chatId, sender) {
      const all = await db.run(OUTBOX, "readonly", (store) =>
        store.index(OUTBOX_BY_CHAT).getAll(chatId) as IDBRequest<OutboxEntry[]>);
      return all
        .filter((e) => e.sender.toLowerCase() === sender.toLowerCase())
        .sort((a, b) => a.created_at - b.created_at);
    },
    async remove(clientId) {
      await db.run(OUTBOX, "readwrite", (store) => store.delete(clientId));
    },
    close: () => db.close(),
  };
}

let lastCreatedAt = 0;

/** Strictly increasing creation times, so two messages typed within one millisecond keep their order. */
export function nextCreatedAt(now = Date.now()): number {
  lastCreatedAt = Math.max(now, lastCreatedAt + 1);
  return lastCreatedAt;
}
