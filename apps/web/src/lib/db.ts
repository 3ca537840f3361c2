// The app's one IndexedDB database: the outbox (messages not yet acknowledged) and the history cache (what each
// chat last showed), so that a reload, a crash or an outage loses neither.
export const DB_NAME = "optimistic-messaging";
export const OUTBOX = "outbox";
export const OUTBOX_BY_CHAT = "chat_id";
export const HISTORY = "history";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function openDatabase(name: string): Promise<IDBDatabase> {
  // Version 1 had the outbox only; each store is created when missing, so every older database upgrades in place.
  const open = indexedDB.open(name, 2);
  open.onupgradeneeded = () => {
    const db = open.result;
    if (!db.objectStoreNames.contains(OUTBOX)) {
      db.createObjectStore(OUTBOX, { keyPath: "client_id" }).createIndex(OUTBOX_BY_CHAT, "chat_id");
    }
    if (!db.objectStoreNames.contains(HISTORY)) db.createObjectStore(HISTORY, { keyPath: "key" });
  };
  return request(open).then((db) => {
    // Another tab upgrading the database: step aside rather than block it (this tab's later reads and writes
    // then fail, and are skipped as when there is no IndexedDB at all).
    db.onversionchange = () => db.close();
    return db;
  });
}

export interface Database {
  /** One request in its own transaction, resolved only once the transaction committed ("stored" means durable). */
  run<T>(store: string, mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T>;
  close(): void;
}

export function database(name = DB_NAME): Database {
  // Opened on first use, once.
  let db: Promise<IDBDatabase> | null = null;
  const opened = () => (db ??= openDatabase(name));
  return {
    async run(store, mode, work) {
      const tx = (await opened()).transaction(store, mode);
      const committed = new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
      const [result] = await Promise.all([request(work(tx.objectStore(store))), committed]);
      return result;
    },
    close() {
      void db?.then((d) => d.close()).catch(() => undefined);
      db = null;
    },
  };
}
