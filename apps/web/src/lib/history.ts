// What each chat last showed, in IndexedDB: a reload — even with the server out of reach — shows the history at
// once, and the first join asks only for the changes since (`since_rev`) instead of the latest page again.
import { config } from "./config";
import { database, HISTORY, HISTORY_BY_OWNER, type Database } from "./db";
import { cachedWindow, type ChatState } from "./messages-reducer";
import type { Chat, Message } from "./types";

/** Chats kept per person and server; the ones opened longest ago make room. */
export const MAX_CACHED_CHATS = 50;

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
  owner: string;
  saved_at: number;
}

export interface History {
  load(owner: string, chatId: string): Promise<CachedChat | null>;
  save(owner: string, cached: CachedChat): Promise<void>;
  /** One chat's entry (the server no longer has what it holds). */
  remove(owner: string, chatId: string): Promise<void>;
  /** Every chat cached for `owner` (signing out). */
  forget(owner: string): Promise<void>;
}

/** Kept per server and signed-in address: another server's chat of the same id, or another person, never shows. */
export function openHistory(db: Database = database(), server: string = config.serverUrl): History {
  const ownerKey = (owner: string) => `${server}|${owner.toLowerCase()}`;
  const rowKey = (owner: string, chatId: string) => `${ownerKey(owner)}/${chatId}`;
  return {
    async load(owner, chatId) {
      const row = await db.run<Row | undefined>(HISTORY, "readonly", (store) => store.get(rowKey(owner, chatId)));
      if (!row) return null;
      const { chat, messages, highestRev, oldestSeq, hasOlder } = row;
      return { chat, messages, highestRev, oldestSeq, hasOlder };
    },
    async save(owner, cached) {
      const row: Row = { key: rowKey(owner, cached.chat.id), owner: ownerKey(owner), saved_at: Date.now(), ...cached };
      await db.run(HISTORY, "readwrite", (store) => store.put(row));
      const range = IDBKeyRange.bound([row.owner, -Infinity], [row.owner, Infinity]);
      const keys = await db.run(HISTORY, "readonly", (store) => store.index(HISTORY_BY_OWNER).getAllKeys(range));
      for (const key of keys.slice(0, Math.max(0, keys.length - MAX_CACHED_CHATS))) {
        await db.run(HISTORY, "readwrite", (store) => store.delete(key)); // oldest first
      }
    },
    async remove(owner, chatId) {
      await db.run(HISTORY, "readwrite", (store) => store.delete(rowKey(owner, chatId)));
    },
    async forget(owner) {
      const prefix = `${ownerKey(owner)}/`;
      await db.run(HISTORY, "readwrite", (store) => store.delete(IDBKeyRange.bound(prefix, prefix + "\uffff")));
    },
  };
}

/** Between two writes of the history cache, this many times as long as the last write took: writing takes at most
 * a quarter of the time however fast messages come, and a quiet chat is written the moment it changes. */
const WRITE_GAP_FACTOR = 3;

/** Keeps one open chat's entry current: written as soon as it changes, one write at a time (a reload or a closed
 * tab gives no chance to write later), and flushed when the page hides or the chat closes. */
export class HistoryWriter {
  private writing = false;
  /** The state last written (the entry is derived from its messages and counters). */
  private saved: ChatState | null = null;
  private closed = false;
  private gap: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly history: History,
    private readonly owner: string,
    private readonly state: () => ChatState,
  ) {}

  /** The chat's state changed: written now, or right after the write in flight. */
  changed(): void {
    if (this.closed || this.writing || !this.unsaved()) return;
    this.writing = true;
    const started = Date.now();
    void this.write().then(() => {
      this.gap = setTimeout(() => {
        this.writing = false;
        this.changed();
      }, (Date.now() - started) * WRITE_GAP_FACTOR);
    });
  }

  /** The state now is what the cache holds already (it was just read from it). */
  loaded(): void {
    this.saved = this.state();
  }

  /** Whatever is not written yet, now, even beside a write in flight (writes to one entry commit in order). */
  flush(): void {
    if (!this.closed && this.unsaved()) void this.write();
  }

  close(): void {
    this.flush();
    this.closed = true;
    clearTimeout(this.gap);
  }

  private unsaved(): boolean {
    const now = this.state();
    const then = this.saved;
    return (
      !then ||
      now.byId !== then.byId ||
      now.chat !== then.chat ||
      now.highestRev !== then.highestRev ||
      now.oldestSeq !== then.oldestSeq ||
      now.hasOlder !== then.hasOlder
    );
  }

  private async write(): Promise<void> {
    const state = this.state();
    this.saved = state;
    const cached = cachedWindow(state);
    if (cached) await this.history.save(this.owner, cached).catch(() => undefined);
  }
}
