import { describe, expect, it } from "vitest";
import { appendPage, firstPage, readPage } from "./chat-pages";
import type { Chat } from "./types";

const chat = (id: string): Chat => ({ id, members: [], title: null, created_by: "0x1", created_at: 0, last_seq: 0, rev: 0 });

describe("chat list paging", () => {
  it("keeps the cursor of a page that has more", () => {
    const state = firstPage({ chats: [chat("a"), chat("b")], has_more: true, next_cursor: "c1" });
    expect(state).toEqual({ chats: [chat("a"), chat("b")], cursor: "c1" });
  });

  it("appends the next page in order and ends when it has no more", () => {
    const state = appendPage(firstPage({ chats: [chat("a")], has_more: true, next_cursor: "c1" }), {
      chats: [chat("b"), chat("c")],
      has_more: false,
      next_cursor: null,
    });
    expect(state.chats.map((c) => c.id)).toEqual(["a", "b", "c"]);
    expect(state.cursor).toBeNull();
  });

  it("does not show twice a chat that moved up to a later page while paging", () => {
    const state = appendPage(firstPage({ chats: [chat("a"), chat("b")], has_more: true, next_cursor: "c1" }), {
      chats: [chat("b"), chat("c")],
      has_more: false,
      next_cursor: null,
    });
    expect(state.chats.map((c) => c.id)).toEqual(["a", "b", "c"]);
  });

  it("reads a server without paging as one last page", () => {
    expect(readPage({ chats: [chat("a")] })).toEqual({ chats: [chat("a")], has_more: false, next_cursor: null });
  });
});
