// HomeStore (the start page's data) against a mocked REST client: the first page, paging, errors and loading again.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./api";
import { HomeStore } from "./home-store";
import type { Chat, ChatPage } from "./types";

const rest = vi.hoisted(() => ({ listChats: vi.fn(), createChat: vi.fn() }));
vi.mock("./api", async (importOriginal) => ({ ...(await importOriginal<typeof import("./api")>()), api: rest }));
const saved = vi.hoisted(() => ({ saveSession: vi.fn() }));
vi.mock("./session", async (importOriginal) => ({ ...(await importOriginal<typeof import("./session")>()), ...saved }));
vi.mock("./xmtp", async (importOriginal) => ({ ...(await importOriginal<typeof import("./xmtp")>()), xmtpEnabled: () => false }));

const ME = "0x1111111111111111111111111111111111111111";
const chat = (n: number): Chat => ({ id: `c${n}`, members: [ME], title: null, created_by: ME, created_at: n, last_seq: 0, rev: 0 });
const page = (ids: number[], next: string | null = null): ChatPage => ({ chats: ids.map(chat), has_more: next !== null, next_cursor: next });
const ids = (store: HomeStore) => store.getState().list?.chats.map((c) => c.id);

function started() {
  const store = new HomeStore({ token: "t1", address: ME, wallet: "burner" });
  const changes = vi.fn();
  store.subscribe(changes);
  const stop = store.start();
  return { store, changes, stop };
}

afterEach(() => {
  rest.listChats.mockReset();
  rest.createChat.mockReset();
  saved.saveSession.mockReset();
});

describe("HomeStore", () => {
  it("loads the first page, then the next on request, without showing a chat twice", async () => {
    rest.listChats.mockResolvedValueOnce(page([1, 2], "after-2")).mockResolvedValueOnce(page([2, 3]));
    const { store, changes } = started();
    expect(store.getState().list).toBeNull();
    await vi.waitFor(() => expect(ids(store)).toEqual(["c1", "c2"]));
    expect(changes).toHaveBeenCalled();
    expect(store.getState().list?.cursor).toBe("after-2");
    store.loadMore();
    expect(store.getState().loadingMore).toBe(true);
    store.loadMore(); // one page at a time
    await vi.waitFor(() => expect(store.getState().loadingMore).toBe(false));
    expect(ids(store)).toEqual(["c1", "c2", "c3"]);
    expect(store.getState().list?.cursor).toBeNull();
    expect(rest.listChats.mock.calls).toEqual([["t1"], ["t1", "after-2"]]);
    store.loadMore(); // nothing after the last page
    expect(rest.listChats).toHaveBeenCalledTimes(2);
  });

  it("says when the chats could not be loaded, and loads them when asked again", async () => {
    rest.listChats.mockRejectedValueOnce(new ApiError("unavailable", "down", 503)).mockResolvedValueOnce(page([1]));
    const { store } = started();
    await vi.waitFor(() => expect(store.getState().error).toBe("Your chats could not be loaded"));
    expect(store.getState().list).toBeNull();
    store.reload();
    await vi.waitFor(() => expect(ids(store)).toEqual(["c1"]));
    expect(saved.saveSession).not.toHaveBeenCalled();
  });

  it("forgets a session the server refused", async () => {
    rest.listChats.mockRejectedValueOnce(new ApiError("unauthorized", "expired", 401));
    const { store } = started();
    await vi.waitFor(() => expect(saved.saveSession).toHaveBeenCalledWith(null));
    expect(store.getState().error).toBeNull();
  });

  it("drops what a load answers after the page closed, or after a newer load", async () => {
    let answer: (p: ChatPage) => void = () => undefined;
    rest.listChats.mockImplementationOnce(() => new Promise((resolve) => (answer = resolve)));
    const { store, stop } = started();
    stop();
    answer(page([1]));
    await Promise.resolve();
    await Promise.resolve();
    expect(store.getState().list).toBeNull();
    let first: (p: ChatPage) => void = () => undefined;
    rest.listChats.mockImplementationOnce(() => new Promise((resolve) => (first = resolve))).mockResolvedValueOnce(page([2]));
    store.reload();
    store.reload();
    await vi.waitFor(() => expect(ids(store)).toEqual(["c2"]));
    first(page([1]));
    await Promise.resolve();
    expect(ids(store)).toEqual(["c2"]);
  });

  it("works under the newest token, and creates chats with it", async () => {
    rest.listChats.mockResolvedValue(page([1], "next"));
    rest.createChat.mockResolvedValue({ chat: chat(9) });
    const { store } = started();
    await vi.waitFor(() => expect(ids(store)).toEqual(["c1"]));
    store.sessionChanged("t2");
    expect(await store.openDm("0x2222222222222222222222222222222222222222")).toBe("c9");
    expect(await store.openGroup("", [ME])).toBe("c9");
    expect(await store.openGroup("Team", [ME])).toBe("c9");
    store.loadMore();
    await vi.waitFor(() => expect(store.getState().loadingMore).toBe(false));
    expect(rest.createChat.mock.calls).toEqual([
      ["t2", { members: ["0x2222222222222222222222222222222222222222"] }],
      ["t2", { members: [ME] }],
      ["t2", { members: [ME], title: "Team" }],
    ]);
    expect(rest.listChats.mock.calls.at(-1)).toEqual(["t2", "next"]);
  });
});
