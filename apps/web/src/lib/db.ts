// The app's one IndexedDB database: the outbox (messages not yet acknowledged) and the history cache (what each
// chat last showed), so that a reload, a crash or an outage loses neither.
const DB_NAME = "optimistic-messaging";
export const OUTBOX = "outbox";
export const OUTBOX_BY_CHAT = "chat_id";
export const HISTORY = "history";
export const HISTORY_BY_OWNER = "owner_saved_at";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves with the open database; rejects at once (instead of waiting) while another tab blocks an upgrade. */
function openDatabase(name: string, onClosed: () => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    // Version 1 had the outbox only; each store is created when missing, so an older database upgrades in place.
    const open = indexedDB.open(name, 2);
    let settled = false;
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(OUTBOX)) {
        db.createObjectStore(OUTBOX, { keyPath: "client_id" }).createIndex(OUTBOX_BY_CHAT, "chat_id");
      }
      if (!db.objectStoreNames.contains(HISTORY)) {
        db.createObjectStore(HISTORY, { keyPath: "key" }).createIndex(HISTORY_BY_OWNER, ["owner", "saved_at"]);
      }
    };
    open.onblocked = () => {
      settled = true;
      reject(new Error("another tab of this app holds an older version of its database open"));
    };
    open.onerror = () => {
      settled = true;
      reject(open.error);
    };
    open.onsuccess = () => {
      const db = open.result;
      if (settled) {
        db.close(); // we stopped waiting (blocked): the next use opens it afresh
        return;
      }
      // Another tab upgrading: step aside rather than block it; the next use here reopens.
      db.onversionchange = () => {
        db.close();
        onClosed();
      };
      resolve(db);
    };
  });
}

export interface Database {
  /** One request in its own transaction, resolved only once the transaction committed ("stored" means durable). */
  run<T>(store: string, mode: IDBTransactionMode, work: (store: IDBObjectStore) => IDBRequest<T>): Promise<T>;
  close(): void;
}

export function database(name = DB_NAME): Database {
  // Opened on first use, and again after it was closed under us or could not be opened.
  let db: Promise<IDBDatabase> | null = null;
  const opened = () => {
    if (!db) {
      const opening = openDatabase(name, () => forget(opening));
      opening.catch(() => forget(opening));
      db = opening;
    }
    return db;
  };
  const forget = (opening: Promise<IDBDatabase>) => {
    if (db === opening) db = null;
  };
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
