// HomeStore (the start page's data) against a mocked REST client and a fake socket: the first page, paging, errors
// and loading again by itself, and the live list of contract v1.2.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./api";
import { HomeStore, LIST_RETRY_MS } from "./home-store";
import { sockets, type FakeSocket } from "./testing/fake-socket";
import { serverMessage } from "./testing/messages";
import type { Chat, ChatPage, Message } from "./types";

vi.mock("socket.io-client", async () => ({ io: (await import("./testing/fake-socket")).fakeIo }));
const rest = vi.hoisted(() => ({ listChats: vi.fn(), createChat: vi.fn(), chat: vi.fn(), settings: vi.fn(), putSettings: vi.fn() }));
vi.mock("./api", async (importOriginal) => ({ ...(await importOriginal<typeof import("./api")>()), api: rest }));
const saved = vi.hoisted(() => ({ saveSession: vi.fn() }));
vi.mock("./session", async (importOriginal) => ({ ...(await importOriginal<typeof import("./session")>()), ...saved }));
vi.mock("./xmtp", async (importOriginal) => ({ ...(await importOriginal<typeof import("./xmtp")>()), xmtpEnabled: () => false }));

const ME = "0x1111111111111111111111111111111111111111";
const chat = (n: number): Chat => ({ id: `c${n}`, members: [ME], title: null, created_by: ME, created_at: n, last_seq: 0, rev: 0 });
const page = (ids: number[], next: string | null = null): ChatPage => ({ chats: ids.map(chat), has_more: next !== null, next_cursor: next });
const ids = (store: HomeStore) => store.getState().list?.chats.map((c) => c.id);

function started(network: EventTarget | null = null) {
  if (!rest.settings.getMockImplementation()) rest.settings.mockRejectedValue(new ApiError("not_found", "no settings here", 404));
  const store = new HomeStore({ token: "t1", address: ME, wallet: "burner" }, network);
  const changes = vi.fn();
  store.subscribe(changes);
  const stop = store.start();
  stops.push(stop);
  return { store, changes, stop, socket: sockets.at(-1) as FakeSocket };
}
const stops: (() => void)[] = [];

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  vi.useRealTimers();
  rest.listChats.mockReset();
  rest.createChat.mockReset();
  rest.chat.mockReset();
  rest.settings.mockReset();
  rest.putSettings.mockReset();
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

  it("says when the chats could not be loaded, and loads them by itself when the server is back", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    rest.listChats
      .mockRejectedValueOnce(new ApiError("unavailable", "down", 503))
      .mockRejectedValueOnce(new ApiError("network", "The server cannot be reached", 0))
      .mockResolvedValueOnce(page([1]));
    const { store } = started();
    await vi.waitFor(() => expect(store.getState().error).toBe("Your chats could not be loaded: trying again"));
    expect(store.getState().list).toBeNull();
    await vi.advanceTimersByTimeAsync(LIST_RETRY_MS);
    expect(rest.listChats).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(LIST_RETRY_MS); // the second wait is longer
    expect(rest.listChats).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(LIST_RETRY_MS);
    await vi.waitFor(() => expect(ids(store)).toEqual(["c1"]));
    expect(store.getState().error).toBeNull();
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

describe("HomeStore's live list (v1.2)", () => {
  const PEER = "0x2222222222222222222222222222222222222222";
  const v12 = (n: number, over: Partial<Chat> = {}): Chat => ({ ...chat(n), members: [ME, PEER], read_seq: 0, delivered_seq: 0, unread: 0, last_message: null, ...over });
  const activity = (id: string, seq: number, over: Partial<Message> = {}) => ({
    chat_id: id, last_seq: seq, rev: seq, last_message: serverMessage(id, seq, { sender: PEER, ...over }),
  });
  const unread = (store: HomeStore) => store.getState().list?.chats.map((c) => `${c.id}:${c.unread}`);

  async function live(chats: Chat[]) {
    rest.listChats.mockResolvedValue({ chats, has_more: false, next_cursor: null });
    const h = started();
    await vi.waitFor(() => expect(h.store.getState().list).not.toBeNull());
    await vi.waitFor(() => expect(h.socket.connected).toBe(true));
    return h;
  }

  it("moves a chat with a new message to the top and counts it unread once; our own message reads the chat", async () => {
    const h = await live([v12(1), v12(2)]);
    h.socket.push("chat:activity", activity("c2", 1));
    h.socket.push("chat:activity", activity("c2", 1)); // at most once, but a repeat changes nothing
    expect(unread(h.store)).toEqual(["c2:1", "c1:0"]);
    expect(h.store.getState().list?.chats[0]?.last_message?.body).toBe("message 1");
    h.socket.push("chat:activity", activity("c1", 1));
    h.socket.push("chat:activity", activity("c1", 2));
    expect(unread(h.store)).toEqual(["c1:2", "c2:1"]);
    h.socket.push("chat:activity", activity("c1", 3, { sender: ME }));
    expect(unread(h.store)).toEqual(["c1:0", "c2:1"]);
    expect(h.store.getState().list?.chats[0]).toMatchObject({ read_seq: 3, last_seq: 3 });
    // Someone else's messages reached this device: delivered, and only those.
    expect(h.socket.emitted("mark")).toEqual([
      { chat_id: "c2", delivered_seq: 1 },
      { chat_id: "c1", delivered_seq: 1 },
      { chat_id: "c1", delivered_seq: 2 },
    ]);
  });

  it("marks delivered what the list shows of others' latest messages, once per connection", async () => {
    const last = (id: string, seq: number, sender: string, over: Partial<Message> = {}) =>
      ({ last_seq: seq, rev: seq, last_message: serverMessage(id, seq, { sender, ...over }) });
    const h = await live([
      v12(1, last("c1", 4, PEER)),
      v12(2, { ...last("c2", 3, PEER), delivered_seq: 3 }), // there already
      v12(3, last("c3", 2, ME)), // ours
      v12(4, last("c4", 5, PEER, { deleted: true, body: "" })),
    ]);
    expect(h.socket.emitted("mark")).toEqual([{ chat_id: "c1", delivered_seq: 4 }]);
    h.socket.push("chat:update", v12(1, { title: "Renamed" })); // the list changed, c1 was asked for already
    expect(h.socket.emitted("mark")).toHaveLength(1);
  });

  it("takes back the count of an unread latest message deleted, and keeps its place", async () => {
    const h = await live([v12(1), v12(2)]);
    h.socket.push("chat:activity", activity("c2", 1));
    h.socket.push("chat:activity", { ...activity("c2", 1, { deleted: true, body: "" }), rev: 2 });
    expect(unread(h.store)).toEqual(["c2:0", "c1:0"]);
    expect(h.store.getState().list?.chats[0]?.last_message?.deleted).toBe(true);
  });

  it("adds a chat we were put in, drops one we left, and reads a chat it does not hold", async () => {
    const h = await live([v12(1)]);
    h.socket.push("chat:update", v12(5, { title: "New group" }));
    expect(ids(h.store)).toEqual(["c5", "c1"]);
    h.socket.push("chat:update", v12(1, { title: "Renamed" }));
    expect(ids(h.store)).toEqual(["c5", "c1"]);
    expect(h.store.getState().list?.chats[1]?.title).toBe("Renamed");
    h.socket.push("chat:removed", { chat_id: "c5" });
    expect(ids(h.store)).toEqual(["c1"]);
    rest.chat.mockResolvedValueOnce({ chat: v12(7, { unread: 1 }) });
    h.socket.push("chat:activity", activity("c7", 1));
    await vi.waitFor(() => expect(ids(h.store)).toEqual(["c7", "c1"]));
  });

  it("lowers the count when we read on another device", async () => {
    const h = await live([v12(1, { last_seq: 5, rev: 5, unread: 4, read_seq: 1 })]);
    h.socket.push("receipt", { chat_id: "c1", address: PEER, read_seq: 5, delivered_seq: 5 }); // not ours
    expect(unread(h.store)).toEqual(["c1:4"]);
    h.socket.push("receipt", { chat_id: "c1", address: ME, read_seq: 3, delivered_seq: 5 });
    expect(unread(h.store)).toEqual(["c1:2"]);
    h.socket.push("receipt", { chat_id: "c1", address: ME, read_seq: 5, delivered_seq: 5 });
    expect(unread(h.store)).toEqual(["c1:0"]);
  });

  it("reads the list again at every reconnect, and lets go of the socket offline", async () => {
    const network = new EventTarget();
    rest.listChats.mockResolvedValue(page([1]));
    const h = started(network);
    await vi.waitFor(() => expect(h.socket.connected).toBe(true));
    expect(rest.listChats).toHaveBeenCalledTimes(1);
    network.dispatchEvent(new Event("offline"));
    expect(h.socket.connected).toBe(false);
    network.dispatchEvent(new Event("online"));
    expect(rest.listChats).toHaveBeenCalledTimes(2);
  });

  it("connects the live list again with a renewed token after the server ended the old one's socket", async () => {
    rest.listChats.mockResolvedValue(page([1]));
    const h = started();
    await vi.waitFor(() => expect(h.socket.connected).toBe(true));
    h.socket.serverDisconnect();
    h.socket.active = false; // socket.io-client does not reconnect by itself after a server-side disconnect
    h.store.sessionChanged("t2");
    expect(h.socket.connected).toBe(true);
    expect(h.socket.auths.at(-1)).toEqual({ token: "t2" });
  });
});

describe("HomeStore settings (v1.2)", () => {
  it("reads the settings, shows a change at once, and puts it back when the server refuses it", async () => {
    rest.listChats.mockResolvedValue(page([1]));
    rest.settings.mockResolvedValue({ settings: { read_receipts: true, push_previews: true } });
    rest.putSettings
      .mockResolvedValueOnce({ settings: { read_receipts: false, push_previews: true } })
      .mockRejectedValueOnce(new ApiError("rate_limited", "Too many changes", 429));
    const { store } = started();
    expect(rest.settings).not.toHaveBeenCalled(); // only when the panel opens
    store.loadSettings();
    await vi.waitFor(() => expect(store.getState().settings).toEqual({ read_receipts: true, push_previews: true }));
    store.changeSettings({ read_receipts: false });
    expect(store.getState().settings?.read_receipts).toBe(false);
    await vi.waitFor(() => expect(rest.putSettings).toHaveBeenCalledWith("t1", { read_receipts: false }));
    store.changeSettings({ read_receipts: true });
    expect(store.getState().settings?.read_receipts).toBe(true);
    await vi.waitFor(() => expect(store.getState().settingsError).toBe("Too many changes"));
    expect(store.getState().settings?.read_receipts).toBe(false);
  });

  it("says so on a server without settings", async () => {
    rest.listChats.mockResolvedValue(page([1]));
    const { store } = started();
    store.loadSettings();
    await vi.waitFor(() => expect(store.getState().settingsError).toBe("This server has no settings"));
    expect(store.getState().settings).toBeNull();
  });
});
