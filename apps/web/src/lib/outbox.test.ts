import "fake-indexeddb/auto";
import { describe, expect, it } from "vitest";
import { database } from "./db";
import { nextCreatedAt, openOutbox, type OutboxEntry } from "./outbox";

const ME = "0x1111111111111111111111111111111111111111";
const OTHER = "0x3333333333333333333333333333333333333333";

function entry(clientId: string, chatId: string, createdAt: number, sender = ME): OutboxEntry {
  return { client_id: clientId, chat_id: chatId, sender, body: clientId, tx: null, created_at: createdAt };
}

let dbCount = 0;
const freshName = () => `outbox-test-${++dbCount}`;

describe("outbox", () => {
  it("lists a chat's entries oldest first, and only that chat's", async () => {
    const outbox = openOutbox(database(freshName()));
    await outbox.put(entry("b", "chat-1", 2));
    await outbox.put(entry("a", "chat-1", 1));
    await outbox.put(entry("c", "chat-2", 3));
    expect((await outbox.list("chat-1", ME)).map((e) => e.client_id)).toEqual(["a", "b"]);
    expect((await outbox.list("chat-2", ME)).map((e) => e.client_id)).toEqual(["c"]);
    outbox.close();
  });

  it("lists only the given sender's entries, in any address case", async () => {
    const outbox = openOutbox(database(freshName()));
    await outbox.put(entry("mine", "chat-1", 1));
    await outbox.put(entry("theirs", "chat-1", 2, OTHER));
    expect((await outbox.list("chat-1", ME.toUpperCase().replace("0X", "0x"))).map((e) => e.client_id)).toEqual([
      "mine",
    ]);
    outbox.close();
  });

  it("removes an entry by client_id", async () => {
    const outbox = openOutbox(database(freshName()));
    await outbox.put(entry("a", "chat-1", 1));
    await outbox.put(entry("b", "chat-1", 2));
    await outbox.remove("a");
    expect((await outbox.list("chat-1", ME)).map((e) => e.client_id)).toEqual(["b"]);
    outbox.close();
  });

  it("keeps one entry per client_id when it is put again", async () => {
    const outbox = openOutbox(database(freshName()));
    await outbox.put(entry("a", "chat-1", 1));
    await outbox.put({ ...entry("a", "chat-1", 1), xmtp_id: "x" });
    expect(await outbox.list("chat-1", ME)).toEqual([{ ...entry("a", "chat-1", 1), xmtp_id: "x" }]);
    outbox.close();
  });

  it("survives closing and re-opening the database", async () => {
    const name = freshName();
    const first = openOutbox(database(name));
    await first.put(entry("a", "chat-1", 1));
    first.close();
    const second = openOutbox(database(name));
    expect((await second.list("chat-1", ME)).map((e) => e.client_id)).toEqual(["a"]);
    second.close();
  });

  it("hands out strictly increasing creation times", () => {
    const first = nextCreatedAt(5000);
    expect(nextCreatedAt(5000)).toBeGreaterThan(first);
  });
});
