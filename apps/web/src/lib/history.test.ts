import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { database } from "./db";
import { MAX_CACHED_CHATS, openHistory, type CachedChat } from "./history";
import { openOutbox } from "./outbox";
import { serverMessage } from "./testing/messages";

const ME = "0x1111111111111111111111111111111111111111";
const OTHER = "0x3333333333333333333333333333333333333333";

function cached(chatId: string): CachedChat {
  const chat = { id: chatId, members: [ME], title: null, created_by: ME, created_at: 1, last_seq: 1, rev: 1 };
  return { chat, messages: [serverMessage(chatId, 1)], highestRev: 1, oldestSeq: 0, hasOlder: false };
}

let dbCount = 0;
const freshName = () => `history-test-${++dbCount}`;

const SERVER = "http://server.test";

describe("history cache", () => {
  it("gives back what was saved for that person and chat, in any address case", async () => {
    const history = openHistory(database(freshName()), SERVER);
    await history.save(ME, cached("chat-1"));
    expect(await history.load(ME.toUpperCase().replace("0X", "0x"), "chat-1")).toEqual(cached("chat-1"));
    expect(await history.load(ME, "chat-2")).toBeNull();
    expect(await history.load(OTHER, "chat-1")).toBeNull();
  });

  it("forgets every chat of one person only", async () => {
    const history = openHistory(database(freshName()), SERVER);
    await history.save(ME, cached("chat-1"));
    await history.save(ME, cached("chat-2"));
    await history.save(OTHER, cached("chat-1"));
    await history.forget(ME);
    expect(await history.load(ME, "chat-1")).toBeNull();
    expect(await history.load(ME, "chat-2")).toBeNull();
    expect(await history.load(OTHER, "chat-1")).toEqual(cached("chat-1"));
  });

  it("upgrades a database that has only the outbox, keeping its entries", async () => {
    const name = freshName();
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(name, 1); // the schema before the history cache
      open.onupgradeneeded = () => open.result.createObjectStore("outbox", { keyPath: "client_id" }).createIndex("chat_id", "chat_id");
      open.onsuccess = () => {
        const tx = open.result.transaction("outbox", "readwrite");
        tx.objectStore("outbox").put({ client_id: "a", chat_id: "chat-1", sender: ME, body: "a", tx: null, created_at: 1 });
        tx.oncomplete = () => (open.result.close(), resolve());
      };
      open.onerror = () => reject(open.error);
    });
    const db = database(name);
    expect((await openOutbox(db).list("chat-1", ME)).map((e) => e.client_id)).toEqual(["a"]);
    await openHistory(db, SERVER).save(ME, cached("chat-1"));
    expect(await openHistory(db, SERVER).load(ME, "chat-1")).toEqual(cached("chat-1"));
    db.close();
  });

  it("keeps another server's chat of the same id apart", async () => {
    const db = database(freshName());
    await openHistory(db, SERVER).save(ME, cached("dm:a:b"));
    expect(await openHistory(db, "http://other.test").load(ME, "dm:a:b")).toBeNull();
  });

  it("removes one chat's entry", async () => {
    const history = openHistory(database(freshName()), SERVER);
    await history.save(ME, cached("chat-1"));
    await history.save(ME, cached("chat-2"));
    await history.remove(ME, "chat-1");
    expect(await history.load(ME, "chat-1")).toBeNull();
    expect(await history.load(ME, "chat-2")).not.toBeNull();
  });

  it("keeps the chats saved most recently when there are too many", async () => {
    const history = openHistory(database(freshName()), SERVER);
    for (let i = 0; i <= MAX_CACHED_CHATS; i++) await history.save(ME, cached(`chat-${i}`));
    expect(await history.load(ME, "chat-0")).toBeNull();
    expect(await history.load(ME, "chat-1")).not.toBeNull();
    expect(await history.load(ME, `chat-${MAX_CACHED_CHATS}`)).not.toBeNull();
  });

  it("does not wait while another tab holds the old version open, and works once it has closed", async () => {
    const name = freshName();
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(name, 1); // a tab still running the version without the history cache
      open.onupgradeneeded = () => open.result.createObjectStore("outbox", { keyPath: "client_id" });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const history = openHistory(database(name), SERVER);
    await expect(history.load(ME, "chat-1")).rejects.toThrow(/older version/);
    old.close();
    await history.save(ME, cached("chat-1"));
    expect(await history.load(ME, "chat-1")).toEqual(cached("chat-1"));
  });
});
