// Messages written but not yet acknowledged, in IndexedDB so that they survive a reload or a crash: each is put
// here before it is sent, removed once the server acks it, and re-sent with the same client_id on every
// (re)connect (the server is idempotent on (sender, client_id)).
import type { LocalMessage } from "./messages-reducer";

export type OutboxEntry = Omit<LocalMessage, "error">;

export interface Outbox {
  put(entry: OutboxEntry): Promise<void>;
  /** The chat's entries written by `sender`, oldest first (the order they must be sent in). */
  list(chatId: string, sender: string): Promise<OutboxEntry[]>;
  remove(clientId: string): Promise<void>;
  close(): void;
}

const STORE = "outbox";
const BY_CHAT = "chat_id";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase(name: string): Promise<IDBDatabase> {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => {
    const store = open.result.createObjectStore(STORE, { keyPath: "client_id" });
    store.createIndex(BY_CHAT, "chat_id");
  };
  return request(open);
}

export function openOutbox(dbName = "optimistic-messaging"): Outbox {
  // Opened on first use, once.
  let db: Promise<IDBDatabase> | null = null;
  const database = () => (db ??= openDatabase(dbName));

  async function run<T>(mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const tx = (await database()).transaction(STORE, mode);
    // Resolve only once the transaction committed: "in the outbox" must mean durable.
    const committed = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
    const [result] = await Promise.all([request(work(tx.objectStore(STORE))), committed]);
    return result;
  }

  return {
    async put(entry) {
      await run("readwrite", (store) => store.put(entry));
    },
    async list(chatId, sender) {
      const all = await run("readonly", (store) => store.index(BY_CHAT).getAll(chatId) as IDBRequest<OutboxEntry[]>);
      return all
        .filter((e) => e.sender.toLowerCase() === sender.toLowerCase())
        .sort((a, b) => a.created_at - b.created_at);
    },
    async remove(clientId) {
      await run("readwrite", (store) => store.delete(clientId));
    },
    close() {
      void db?.then((d) => d.close()).catch(() => undefined);
      db = null;
    },
  };
}

let lastCreatedAt = 0;

/** Strictly increasing creation times, so two messages typed within one millisecond keep their order. */
export function nextCreatedAt(now = Date.now()): number {
  lastCreatedAt = Math.max(now, lastCreatedAt + 1);
  return lastCreatedAt;
}
