// The chat list's row text and picture: "You:", the sender in groups, deletions, v1.1 chats, badges, stable pictures.
import { describe, expect, it } from "vitest";
import { avatarOf, initialsOf } from "./avatar";
import { DELETED_TEXT, previewOf, unreadBadge } from "./chat-preview";
import { serverMessage } from "./testing/messages";
import type { Chat } from "./types";

const ME = "0x1111111111111111111111111111111111111111";
const PEER = "0x2222222222222222222222222222222222222222";
const name = (a: string) => (a === PEER ? "Brave Otter" : "Someone");
const chat = (id: string, over: Partial<Chat> = {}): Chat => ({
  id, members: [ME, PEER], title: null, created_by: ME, created_at: 0, last_seq: 3, rev: 3, ...over,
});
const last = (over: Parameters<typeof serverMessage>[2]) => serverMessage("x", 3, { body: "see  you\nthere", ...over });

describe("previewOf", () => {
  it("says whose the latest message is: You, nobody in a DM, the sender's name in a group", () => {
    expect(previewOf(chat("dm:a", { last_message: last({ sender: ME }) }), ME, name).text).toBe("You: see you there");
    expect(previewOf(chat("dm:a", { last_message: last({ sender: PEER, body: "hi\n there" }) }), ME, name).text).toBe("hi there");
    expect(previewOf(chat("g1", { last_message: last({ sender: PEER, body: "hi" }) }), ME, name).text).toBe("Brave Otter: hi");
  });

  it("shows a deleted message as deleted, never its text, and a v1.1 chat by its count", () => {
    const gone = previewOf(chat("g1", { last_message: last({ sender: PEER, body: "", deleted: true }) }), ME, name);
    expect(gone).toMatchObject({ text: `Brave Otter: ${DELETED_TEXT}`, deleted: true });
    expect(previewOf(chat("g1"), ME, name)).toEqual({ text: "3 messages", at: null, deleted: false });
    expect(previewOf(chat("g1", { last_seq: 0 }), ME, name).text).toBe("No messages yet");
  });
});

describe("unreadBadge", () => {
  it("shows nothing for nothing unread, the count up to 99, then 99+", () => {
    expect([0, undefined, 1, 99, 100, 1000].map(unreadBadge)).toEqual([null, null, "1", "99", "99+", "99+"]);
  });
});

describe("avatarOf", () => {
  it("is the same for the same address in any case, differs between people, and shows the name's initials", () => {
    expect(avatarOf(PEER.toUpperCase().replace("0X", "0x"), "Brave Otter")).toEqual(avatarOf(PEER, "Brave Otter"));
    expect(avatarOf(PEER, "x").from).not.toBe(avatarOf(ME, "x").from);
    expect(initialsOf("Brave Otter #3f9a")).toBe("BO");
    expect(initialsOf("book")).toBe("B");
    expect(initialsOf("")).toBe("?");
  });
});
