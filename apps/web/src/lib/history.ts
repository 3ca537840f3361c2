// What each chat last showed, in IndexedDB: a reload — even with the server out of reach — shows the history at
// once, and the first join asks only for the changes since (`since_rev`) instead of the latest page again.
import { database, HISTORY, type Database } from "./db";
import type { Chat, Message } from "./types";

/** A chat's contiguous window of messages as last seen, and the rev up to which nothing is missing. */
export interface CachedChat {
  chat: Chat;
  /** Ascending by seq, from `oldestSeq` up, without gaps. */
  messages: Message[];
  highestRev: number;
  oldestSeq: number;
  hasOlder: boolean;
}

interface Row extends CachedChat {
  key: string;
}

export interface History {
  load(owner: string, chatId: string): Promise<CachedChat | null>;
  save(owner: string, cached: CachedChat): Promise<void>;
  /** Every chat cached for `owner` (signing out). */
  forget(owner: string): Promise<void>;
}

/** Cached per signed-in address: two people on one browser never see each other's chats. */
const rowKey = (owner: string, chatId: string) => `${owner.toLowerCase()}/${chatId}`;

export function openHistory(db: Database = database()): History {
  return {
    async load(owner, chatId) {
      const row = await db.run<Row | undefined>(HISTORY, "readonly", (store) => store.get(rowKey(owner, chatId)));
      if (!row) return null;
      const { chat, messages, highestRev, oldestSeq, hasOlder } = row;
      return { chat, messages, highestRev, oldestSeq, hasOlder };
    },
    async save(owner, cached) {
      const row: Row = { key: rowKey(owner, cached.chat.id), ...cached };
      await db.run(HISTORY, "readwrite", (store) => store.put(row));
    },
    async forget(owner) {
      const prefix = rowKey(owner, "");
      await db.run(HISTORY, "readwrite", (store) => store.delete(IDBKeyRange.bound(prefix, prefix + "\uffff")));
    },
  };
}
