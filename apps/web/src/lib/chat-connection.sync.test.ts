// ChatConnection's sync and send paths against a fake socket and a mocked REST client: catch-up paging, history
// paging, expired sessions (and resuming after them), membership, send order under retryable refusals, and outbox
// clean-up.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./api";
import { ChatConnection, REFUSED_RETRY_MS } from "./chat-connection";
import { initialChatState, messagesReducer, type Action, type ChatState } from "./messages-reducer";
import type { Outbox, OutboxEntry } from "./outbox";
import { createStore } from "./store";
import { sockets, type FakeSocket } from "./testing/fake-socket";
import type { CachedChat } from "./history";
import type { Session } from "./session";
import type { Chat, Message } from "./types";
import { memoryHistory } from "./testing/memory-history";
import { serverMessage } from "./testing/messages";

vi.mock("socket.io-client", async () => ({ io: (await import("./testing/fake-socket")).fakeIo }));
const rest = vi.hoisted(() => ({ changes: vi.fn(), messagesBefore: vi.fn() }));
vi.mock("./api", async (importOriginal) => ({ ...(await importOriginal<typeof import("./api")>()), api: rest }));

const ME = "0x1111111111111111111111111111111111111111";
const PEER = "0x2222222222222222222222222222222222222222";
const CHAT = "dm:0x1111111111111111111111111111111111111111:0x2222222222222222222222222222222222222222";

const message = (seq: number, over: Partial<Message> = {}): Message =>
  serverMessage(CHAT, seq, { sender: PEER, body: `m${seq}`, sent_at: seq, updated_at: seq, ...over });
const chat = (rev: number): Chat => ({ id: CHAT, members: [ME, PEER], title: null, created_by: ME, created_at: 0, last_seq: rev, rev });
const revs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => message(from + i));
const joinOk = (rev: number, changes: Message[] = [], hasMore = false) => ({ ok: true, chat: chat(rev), changes, has_more: hasMore, online: [] });
const refusal = (code: string, extra: Record<string, unknown> = {}) => ({ ok: false, error: { code, message: code, ...extra } });

function memoryOutbox(entries: OutboxEntry[] = []): Outbox & { removed: string[] } {
  const held = new Map(entries.map((e) => [e.client_id, e]));
  const removed: string[] = [];
  return {
    removed,
    put: async (entry) => void held.set(entry.client_id, entry),
    list: async () => [...held.values()].sort((a, b) => a.created_at - b.created_at),
    remove: async (clientId) => {
      removed.push(clientId);
      held.delete(clientId);
    },
    close: () => undefined,
  };
}

type Answer = (event: string, payload: Record<string, unknown>) => unknown;

const connections: ChatConnection[] = [];

type Refresh = (expiredToken: string) => Promise<Session | null>;

function setup(
  answer: Answer,
  outbox = memoryOutbox(),
  token = "token",
  history = memoryHistory(),
  refreshSession: Refresh = async () => null,
) {
  const store = createStore<ChatState, Action>(messagesReducer, initialChatState(CHAT, ME));
  const onAuthFailed = vi.fn();
  const onAuthResumed = vi.fn();
  const connection = new ChatConnection({
    chatId: CHAT,
    session: { token, address: ME, expires_at: Date.now() + 3_600_000, wallet: "burner" },
    store,
    outbox,
    history,
    onSocket: () => undefined,
    onXmtp: () => undefined,
    onProblem: () => undefined,
    onAuthFailed,
    onAuthResumed,
    refreshSession,
  });
  connections.push(connection);
  connection.start();
  const socket = sockets.at(-1) as FakeSocket;
  socket.answer = answer as FakeSocket["answer"];
  const sends = () => (socket.emitted("send") as { client_id: string; body: string }[]).map((p) => p.body);
  const reconnect = () => {
    socket.disconnect();
    socket.connect();
  };
  return { store, outbox, history, socket, connection, onAuthFailed, onAuthResumed, sends, reconnect };
}

/** A server that acks every send once, in order, like the real one. */
function sendOk(): Answer {
  let seq = 0;
  const byClientId = new Map<string, Message>();
  return (event, payload) => {
    if (event === "join") return joinOk(seq);
    if (event !== "send") return undefined;
    const clientId = payload.client_id as string;
    if (!byClientId.has(clientId)) {
      seq++;
      byClientId.set(clientId, message(seq, { sender: ME, client_id: clientId, body: payload.body as string }));
    }
    return { ok: true, message: byClientId.get(clientId) };
  };
}

const entry = (clientId: string, createdAt: number): OutboxEntry => ({
  client_id: clientId, chat_id: CHAT, sender: ME, body: clientId, tx: null, created_at: createdAt,
});

afterEach(() => {
  for (const c of connections.splice(0)) c.stop();
  rest.changes.mockReset();
  rest.messagesBefore.mockReset();
});

describe("ChatConnection catch-up", () => {
  it("pages a cut catch-up from its own cursor although live messages arrive meanwhile", async () => {
    let joins = 0;
    let h: ReturnType<typeof setup> | null = null;
    h = setup((event) => {
      if (event !== "join") return undefined;
      if (joins++ === 0) return joinOk(100, [message(100)]);
      h!.socket.push("message", message(1200)); // live, right after the re-join subscribed
      return joinOk(1199, revs(101, 600), true);
    });
    rest.changes.mockImplementation(async (_t: string, _c: string, since: number) => {
      if (since === 600) return { changes: revs(601, 1100), has_more: true };
      if (since === 1100) return { changes: revs(1101, 1199), has_more: false };
      throw new ApiError("invalid", `unexpected since_rev ${since}`, 400);
    });
    await vi.waitFor(() => expect(h!.store.getState().highestRev).toBe(100));
    h.reconnect();
    await vi.waitFor(() => expect(rest.changes).toHaveBeenCalledTimes(2));
    expect(rest.changes.mock.calls.map((c) => c[2])).toEqual([600, 1100]);
    await vi.waitFor(() => expect(h!.store.getState().highestRev).toBe(1200));
    expect(Object.keys(h.store.getState().byId)).toHaveLength(1101);
  });

  it("re-joins from the catch-up cursor after a failed catch-up", async () => {
    let joins = 0;
    const h = setup((event) => {
      if (event !== "join") return undefined;
      joins++;
      if (joins === 1) return joinOk(100, [message(100)]);
      if (joins === 2) return joinOk(1199, revs(101, 600), true);
      return joinOk(1300);
    });
    rest.changes.mockImplementation(async (_t: string, _c: string, since: number) => {
      if (since === 600) return { changes: revs(601, 700), has_more: true };
      throw new ApiError("network", "The server cannot be reached", 0);
    });
    await vi.waitFor(() => expect(h.store.getState().highestRev).toBe(100));
    h.reconnect();
    await vi.waitFor(() => expect(rest.changes).toHaveBeenCalledTimes(2));
    h.socket.push("message", message(1250));
    expect(h.store.getState().highestRev).toBe(700);
    h.reconnect();
    await vi.waitFor(() => expect(joins).toBe(3));
    expect(h.socket.emitted("join").at(-1)).toEqual({ chat_id: CHAT, since_rev: 700 });
    await vi.waitFor(() => expect(h.store.getState().highestRev).toBe(1300));
  });
});

describe("ChatConnection chat:confirmed", () => {
  it("confirms the chat's plain messages from one socket event and resumes after its rev", async () => {
    const h = setup((event) => (event === "join" ? joinOk(2, [message(1), message(2)]) : undefined));
    await vi.waitFor(() => expect(h.store.getState().highestRev).toBe(2));
    h.socket.push("chat:confirmed", { chat_id: CHAT, through_seq: 2, first_rev: 3, rev: 4, updated_at: 9000 });
    expect(Object.values(h.store.getState().byId).map((m) => m.status)).toEqual(["confirmed", "confirmed"]);
    expect(h.store.getState().highestRev).toBe(4);
  });
});

describe("ChatConnection history", () => {
  it("loads older history below the first page, not below an update of an older message", async () => {
    const h = setup((event) => (event === "join" ? joinOk(200, revs(151, 200), true) : undefined));
    await vi.waitFor(() => expect(h.store.getState().chat).not.toBeNull());
    h.socket.push("message:update", message(10, { rev: 201, status: "retracted", reason: "dropped" }));
    rest.messagesBefore.mockResolvedValue({ messages: revs(101, 150), has_more: true });
    await h.connection.loadOlder();
    expect(rest.messagesBefore).toHaveBeenCalledWith("token", CHAT, 151);
  });
});

describe("ChatConnection with an expired session", () => {
  it("keeps a send refused unauthorized pending in the outbox and asks to sign in again", async () => {
    const h = setup((event) => (event === "join" ? joinOk(0) : event === "send" ? refusal("unauthorized") : undefined));
    await vi.waitFor(() => expect(h.socket.connected).toBe(true));
    await h.connection.send("hello");
    await vi.waitFor(() => expect(h.onAuthFailed).toHaveBeenCalledOnce());
    const pending = Object.values(h.store.getState().local);
    expect(pending).toMatchObject([{ body: "hello" }]);
    expect(pending[0]!.error ?? null).toBeNull();
    expect(h.outbox.removed).toEqual([]);
    expect(await h.outbox.list(CHAT, ME)).toHaveLength(1);
  });

  it("re-sends the kept entry with the same client_id after signing in again", async () => {
    const outbox = memoryOutbox();
    const expired = setup((event) => (event === "join" ? joinOk(0) : event === "send" ? refusal("unauthorized") : undefined), outbox);
    await vi.waitFor(() => expect(expired.socket.connected).toBe(true));
    await expired.connection.send("hello");
    await vi.waitFor(() => expect(expired.onAuthFailed).toHaveBeenCalled());
    const [first] = expired.socket.emitted("send") as { client_id: string }[];
    expired.connection.stop();

    const fresh = setup(sendOk(), outbox, "new-token");
    await vi.waitFor(() => expect(fresh.socket.emitted("send")).toHaveLength(1));
    expect(fresh.socket.emitted("send")[0]).toMatchObject({ client_id: first!.client_id, body: "hello" });
    await vi.waitFor(() => expect(fresh.store.getState().local).toEqual({}));
  });

  it("asks to sign in again when join is refused unauthorized", async () => {
    const h = setup((event) => (event === "join" ? refusal("unauthorized") : undefined));
    await vi.waitFor(() => expect(h.onAuthFailed).toHaveBeenCalledOnce());
  });
});

const session = (token: string): Session => ({ token, address: ME, expires_at: Date.now() + 3_600_000, wallet: "burner" });
const joins = (socket: FakeSocket) => socket.emitted("join") as { chat_id: string; since_rev?: number }[];
/** A server holding one message (rev 1) that acks every send after it. */
const oneMessageIn: Answer = (event, payload) => {
  if (event === "join") return joinOk(1, payload.since_rev === undefined ? [message(1)] : []);
  if (event !== "send") return undefined;
  return { ok: true, message: message(2, { sender: ME, client_id: payload.client_id as string, body: payload.body as string }) };
};

describe("ChatConnection after the server ends the session (session:expired)", () => {
  it("reconnects with a fresh session got silently and re-joins from the highest rev seen", async () => {
    const refresh = vi.fn<Refresh>(async () => session("renewed"));
    const h = setup(oneMessageIn, memoryOutbox(), "token", memoryHistory(), refresh);
    await vi.waitFor(() => expect(h.store.getState().highestRev).toBe(1));
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "expired" });
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(2));
    expect(refresh).toHaveBeenCalledWith("token");
    expect(h.socket.auths).toEqual([{ token: "token", features: ["chat:confirmed"] }, { token: "renewed", features: ["chat:confirmed"] }]);
    expect(joins(h.socket)[1]).toEqual({ chat_id: CHAT, since_rev: 1 });
    expect(h.onAuthFailed).not.toHaveBeenCalled();
  });

  it("keeps what is written while the session is being renewed and sends it after", async () => {
    let renewed: (s: Session) => void = () => undefined;
    const h = setup(sendOk(), memoryOutbox(), "token", memoryHistory(), () => new Promise((r) => (renewed = r)));
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(1));
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "expired" });
    h.socket.serverDisconnect();
    await h.connection.send("written meanwhile");
    expect(h.sends()).toEqual([]);
    expect(await h.outbox.list(CHAT, ME)).toMatchObject([{ body: "written meanwhile" }]);
    renewed(session("renewed"));
    await vi.waitFor(() => expect(h.sends()).toEqual(["written meanwhile"]));
    await vi.waitFor(() => expect(h.store.getState().local).toEqual({}));
  });

  it("after a sign-out gets no session silently in its place (a burner's would undo it): it asks the user", async () => {
    const refresh = vi.fn<Refresh>(async () => session("signed-in-again"));
    const h = setup(sendOk(), memoryOutbox(), "token", memoryHistory(), refresh);
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(1));
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "logout" });
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(h.onAuthFailed).toHaveBeenCalledOnce());
    expect(refresh).not.toHaveBeenCalled();
    expect(h.socket.auths).toEqual([{ token: "token", features: ["chat:confirmed"] }]);
  });

  it("does not reconnect with the expired token when no session can be had silently: it asks the user", async () => {
    const h = setup(sendOk());
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(1));
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "expired" });
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(h.onAuthFailed).toHaveBeenCalledOnce());
    expect(h.socket.auths).toEqual([{ token: "token", features: ["chat:confirmed"] }]);
    expect(h.socket.connected).toBe(false);
  });

  it("resumes from the highest rev with the session the user signs in with, outbox kept", async () => {
    const h = setup(oneMessageIn);
    await vi.waitFor(() => expect(h.store.getState().highestRev).toBe(1));
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "expired" });
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(h.onAuthFailed).toHaveBeenCalledOnce());
    await h.connection.send("kept");
    expect(h.onAuthResumed).not.toHaveBeenCalled();
    h.connection.sessionChanged(session("signed-in-again"));
    expect(h.onAuthResumed).toHaveBeenCalledOnce(); // the "sign in again" notice goes
    await vi.waitFor(() => expect(h.sends()).toEqual(["kept"]));
    expect(h.socket.auths.at(-1)).toEqual({ token: "signed-in-again", features: ["chat:confirmed"] });
    expect(joins(h.socket).at(-1)).toEqual({ chat_id: CHAT, since_rev: 1 });
  });

  it("still reconnects at once after a server disconnect that did not end the session", async () => {
    const refresh = vi.fn<Refresh>(async () => null);
    const h = setup(sendOk(), memoryOutbox(), "token", memoryHistory(), refresh);
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(1));
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(2));
    expect(refresh).not.toHaveBeenCalled();
    expect(h.socket.auths).toEqual([{ token: "token", features: ["chat:confirmed"] }, { token: "token", features: ["chat:confirmed"] }]);
  });

  it("after a renewal, the old token's session:expired reconnects with the renewed token, asking nobody", async () => {
    const refresh = vi.fn<Refresh>(async () => null);
    const h = setup(oneMessageIn, memoryOutbox(), "token", memoryHistory(), refresh);
    await vi.waitFor(() => expect(h.store.getState().highestRev).toBe(1));
    h.connection.sessionChanged(session("renewed")); // SessionKeeper renewed it; this socket still runs on "token"
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "expired" });
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(2));
    expect(h.socket.auths).toEqual([{ token: "token", features: ["chat:confirmed"] }, { token: "renewed", features: ["chat:confirmed"] }]);
    expect(joins(h.socket)[1]).toEqual({ chat_id: CHAT, since_rev: 1 });
    expect(refresh).not.toHaveBeenCalled();
    expect(h.onAuthFailed).not.toHaveBeenCalled();
  });

  it("a refused renewed token goes to refreshSession with that token", async () => {
    const refresh = vi.fn<Refresh>(async () => null);
    const h = setup(sendOk(), memoryOutbox(), "token", memoryHistory(), refresh);
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(1));
    h.connection.sessionChanged(session("renewed"));
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "expired" });
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(2));
    h.socket.push("session:expired", { expires_at: Date.now(), reason: "expired" });
    h.socket.serverDisconnect();
    await vi.waitFor(() => expect(h.onAuthFailed).toHaveBeenCalledOnce());
    expect(refresh).toHaveBeenCalledExactlyOnceWith("renewed");
  });

  it("connects with a renewed token at its next reconnect, before the old one expires", async () => {
    const h = setup(sendOk());
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(1));
    h.connection.sessionChanged(session("renewed"));
    h.reconnect();
    expect(h.socket.auths.at(-1)).toEqual({ token: "renewed", features: ["chat:confirmed"] });
  });
});

describe("ChatConnection refused by the server", () => {
  it("connects again a little later when refused for another reason than its token (too many sockets)", async () => {
    const h = setup(sendOk());
    await vi.waitFor(() => expect(joins(h.socket)).toHaveLength(1));
    vi.useFakeTimers();
    try {
      h.socket.disconnect(); // the network went; socket.io-client reconnects, and the server says no this time
      h.socket.refuse("rate_limited");
      expect(h.socket.auths).toHaveLength(1);
      vi.advanceTimersByTime(REFUSED_RETRY_MS);
      expect(h.socket.auths).toHaveLength(2);
      expect(h.socket.connected).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("ChatConnection membership", () => {
  it("tells a chat we are not in apart from an outage", async () => {
    const h = setup((event) => (event === "join" ? refusal("forbidden") : undefined));
    await vi.waitFor(() => expect(h.store.getState().membership).toBe("not-member"));
  });

  it("keeps the members current from chat:update, and knows when we were removed", async () => {
    const h = setup(sendOk());
    await vi.waitFor(() => expect(h.store.getState().membership).toBe("member"));
    const third = "0x3333333333333333333333333333333333333333";
    h.socket.push("chat:update", { ...chat(0), members: [ME, PEER, third] });
    expect(h.store.getState().chat?.members).toEqual([ME, PEER, third]);
    expect(h.store.getState().membership).toBe("member");
    h.socket.push("chat:update", { ...chat(0), members: [PEER, third] });
    expect(h.store.getState().membership).toBe("removed");
  });

  it("knows we are out of the chat from chat:removed (v1.2), and only for this chat", async () => {
    const h = setup(sendOk());
    await vi.waitFor(() => expect(h.store.getState().membership).toBe("member"));
    h.socket.push("chat:removed", { chat_id: "another" });
    expect(h.store.getState().membership).toBe("member");
    h.socket.push("chat:removed", { chat_id: CHAT });
    expect(h.store.getState().membership).toBe("removed");
  });

  it("shows nobody online or typing while the socket is down", async () => {
    const h = setup((event) => (event === "join" ? { ...joinOk(0), online: [ME, PEER] } : undefined));
    await vi.waitFor(() => expect(h.store.getState().online).toEqual([ME, PEER]));
    h.socket.push("typing", { chat_id: CHAT, address: PEER, typing: true });
    h.socket.disconnect();
    expect(h.store.getState().online).toEqual([]);
    expect(h.store.getState().typing).toEqual({});
  });

  it("goes offline the moment the browser says so, and comes back when it is online again", async () => {
    const network = new EventTarget();
    vi.stubGlobal("window", network);
    try {
      const h = setup((event) => (event === "join" ? { ...joinOk(0), online: [ME, PEER] } : undefined));
      await vi.waitFor(() => expect(h.store.getState().online).toEqual([ME, PEER]));
      network.dispatchEvent(new Event("offline"));
      expect(h.socket.connected).toBe(false);
      expect(h.store.getState().online).toEqual([]);
      network.dispatchEvent(new Event("online"));
      expect(h.socket.connected).toBe(true);
      await vi.waitFor(() => expect(h.socket.emitted("join")).toHaveLength(2));
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe("ChatConnection send order", () => {
  it("waits out a rate_limited refusal and sends a message typed meanwhile after the refused one", async () => {
    const ok = sendOk();
    let refused = false;
    const h = setup((event, payload) => {
      if (event === "send" && payload.body === "first" && !refused) {
        refused = true;
        return refusal("rate_limited", { retry_after_ms: 40 });
      }
      return ok(event, payload);
    });
    await vi.waitFor(() => expect(h.socket.connected).toBe(true));
    await h.connection.send("first");
    await vi.waitFor(() => expect(refused).toBe(true));
    await h.connection.send("second");
    await vi.waitFor(() => expect(h.store.getState().local).toEqual({}));
    expect(h.sends()).toEqual(["first", "first", "second"]);
    const bySeq = Object.values(h.store.getState().byId).sort((a, b) => a.seq - b.seq);
    expect(bySeq.map((m) => m.body)).toEqual(["first", "second"]);
  });

  it("holds back later outbox entries while the oldest is refused unavailable, then flushes oldest first", async () => {
    const ok = sendOk();
    let refusals = 0;
    const outbox = memoryOutbox([entry("a", 1), entry("b", 2), entry("c", 3)]);
    const h = setup((event, payload) => {
      if (event === "send" && payload.client_id === "a" && refusals < 1) {
        refusals++;
        return refusal("unavailable");
      }
      return ok(event, payload);
    }, outbox);
    await vi.waitFor(() => expect(h.sends()).toHaveLength(4), { timeout: 3000 });
    expect(h.sends()).toEqual(["a", "a", "b", "c"]);
    await vi.waitFor(() => expect(h.store.getState().local).toEqual({}));
  });
});

describe("ChatConnection outbox", () => {
  it("removes an outbox entry once the server's echo settles it, without waiting for the ack", async () => {
    const h = setup((event) => (event === "join" ? joinOk(0) : undefined)); // the send ack never comes
    await vi.waitFor(() => expect(h.socket.connected).toBe(true));
    await h.connection.send("hello");
    const [sent] = h.socket.emitted("send") as { client_id: string }[];
    h.socket.push("message", message(1, { sender: ME, client_id: sent!.client_id, body: "hello" }));
    await vi.waitFor(() => expect(h.outbox.removed).toEqual([sent!.client_id]));
    expect(await h.outbox.list(CHAT, ME)).toEqual([]);
  });

  it("removes an outbox entry that a catch-up shows the server already holds", async () => {
    let joins = 0;
    const outbox = memoryOutbox([entry("a", 1)]);
    const h = setup((event) => {
      if (event === "join") return joins++ === 0 ? joinOk(5) : joinOk(9, [message(6)], true);
      return undefined; // the send ack is lost
    }, outbox);
    rest.changes.mockResolvedValue({ changes: [message(7, { sender: ME, client_id: "a", body: "a" })], has_more: false });
    await vi.waitFor(() => expect(h.socket.emitted("send")).toHaveLength(1));
    h.reconnect();
    await vi.waitFor(() => expect(outbox.removed).toContain("a"));
    expect(h.store.getState().local).toEqual({});
  });
});

describe("ChatConnection and the history cache", () => {
  const cachedUpTo = (rev: number, over: Partial<Chat> = {}): CachedChat => ({
    chat: { ...chat(rev), ...over }, messages: revs(rev - 1, rev), highestRev: rev, oldestSeq: rev - 1, hasOlder: true,
  });
  const ids = (h: { store: { getState(): ChatState } }) => Object.keys(h.store.getState().byId);

  it("shows the cached chat at once, and joins once it is read, asking only for what came since", async () => {
    let read: (cached: CachedChat) => void = () => undefined;
    let answer: (ack: unknown) => void = () => undefined;
    const history = { ...memoryHistory(ME), load: () => new Promise<CachedChat | null>((resolve) => (read = resolve)) };
    const h = setup((event) => (event === "join" ? new Promise((resolve) => (answer = resolve)) : undefined),
      memoryOutbox(), "token", history);
    await vi.waitFor(() => expect(h.socket.connected).toBe(true));
    expect(h.socket.emitted("join")).toEqual([]); // waiting for the cache
    read(cachedUpTo(10));
    await vi.waitFor(() => expect(h.socket.emitted("join")).toEqual([{ chat_id: CHAT, since_rev: 10 }]));
    expect(ids(h)).toEqual([`${CHAT}/9`, `${CHAT}/10`]); // shown before the server answered
    answer(joinOk(11, [message(11)]));
    await vi.waitFor(() => expect(h.store.getState().highestRev).toBe(11));
    expect(ids(h)).toHaveLength(3);
  });

  it("joins afresh when the cache does not answer", async () => {
    const history = { ...memoryHistory(ME), load: () => new Promise<CachedChat | null>(() => undefined) };
    const h = setup((event) => (event === "join" ? joinOk(2, revs(1, 2)) : undefined), memoryOutbox(), "token", history);
    await vi.waitFor(() => expect(h.socket.emitted("join")).toEqual([{ chat_id: CHAT }]));
    await vi.waitFor(() => expect(ids(h)).toEqual([`${CHAT}/1`, `${CHAT}/2`]));
  });

  const resets: [string, CachedChat, (payload: Record<string, unknown>) => unknown][] = [
    ["has fewer revs than the cache (its data was reset)", cachedUpTo(10), () => joinOk(2)],
    ["holds a chat of that id created anew", cachedUpTo(10, { created_at: 7 }), () => joinOk(12, [message(11), message(12)])],
    ["is so far ahead that the join is cut", cachedUpTo(10), () => joinOk(900, revs(11, 510), true)],
  ];
  it.each(resets)("starts afresh, dropping the cache, when the server %s", async (_, cached, resumed) => {
    const history = memoryHistory(ME, [cached]);
    const h = setup(
      (event, payload) => (event !== "join" ? undefined : "since_rev" in payload ? resumed(payload) : joinOk(2, revs(1, 2))),
      memoryOutbox([entry("unsent", 5)]), "token", history,
    );
    await vi.waitFor(() => expect(h.socket.emitted("join")).toEqual([{ chat_id: CHAT, since_rev: 10 }, { chat_id: CHAT }]));
    await vi.waitFor(() => expect(ids(h)).toEqual([`${CHAT}/1`, `${CHAT}/2`]));
    expect(h.store.getState().highestRev).toBe(2);
    expect(Object.keys(h.store.getState().local)).toEqual(["unsent"]); // what we wrote is kept, and still sent
    h.connection.flushHistory();
    expect((await history.load(ME, CHAT))?.messages.map((m) => m.seq)).toEqual([1, 2]);
  });

  it("clears what it showed of a chat the server no longer has", async () => {
    const history = memoryHistory(ME, [cachedUpTo(10)]);
    let answer: (ack: unknown) => void = () => undefined;
    const h = setup((event) => (event === "join" ? new Promise((resolve) => (answer = resolve)) : undefined),
      memoryOutbox(), "token", history);
    await vi.waitFor(() => expect(h.socket.emitted("join")).toHaveLength(1));
    expect(ids(h)).toEqual([`${CHAT}/9`, `${CHAT}/10`]);
    answer(refusal("not_found"));
    await vi.waitFor(() => expect(ids(h)).toEqual([]));
    expect(await history.load(ME, CHAT)).toBeNull();
  });

  it("writes the cache at once, one write at a time rather than one per message, and the rest when the page hides", async () => {
    const h = setup((event) => (event === "join" ? joinOk(3, revs(1, 3)) : undefined));
    await vi.waitFor(() => expect(h.history.saved).toHaveLength(1));
    for (const m of revs(4, 23)) h.socket.push("message", m);
    expect(h.history.saved.length).toBeLessThan(20);
    h.connection.flushHistory();
    expect(h.history.saved.at(-1)).toMatchObject({ highestRev: 23, oldestSeq: 0, hasOlder: false });
    expect(h.history.saved.at(-1)?.messages).toHaveLength(23);
  });

  it("writes what is left when the chat closes", async () => {
    const h = setup((event) => (event === "join" ? joinOk(3, revs(1, 3)) : undefined));
    await vi.waitFor(() => expect(h.history.saved).toHaveLength(1));
    h.socket.push("message", message(4));
    h.connection.stop();
    expect(h.history.saved.at(-1)?.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  });
});

describe("ChatConnection receipts and message actions (v1.2)", () => {
  /** A v1.2 server's answers to join (three messages from PEER, nothing read) and mark (forward only). */
  function v12(extra: Answer = () => undefined): Answer {
    const mine = { read_seq: 0, delivered_seq: 0 };
    return (event, payload) => {
      if (event === "join") return { ...joinOk(3, revs(1, 3)), chat: { ...chat(3), read_seq: 0, delivered_seq: 0, unread: 3 } };
      if (event === "mark") {
        mine.read_seq = Math.max(mine.read_seq, (payload.read_seq as number | undefined) ?? 0);
        mine.delivered_seq = Math.max(mine.delivered_seq, mine.read_seq, (payload.delivered_seq as number | undefined) ?? 0);
        return { ok: true, ...mine };
      }
      return extra(event, payload);
    };
  }
  const own = (h: ReturnType<typeof setup>) => h.store.getState().positions[ME.toLowerCase()];

  it("marks delivered when messages reach the device, and read only up to what was seen", async () => {
    const h = setup(v12());
    await vi.waitFor(() => expect(own(h)).toMatchObject({ delivered_seq: 3, read_seq: 0 }));
    expect(h.socket.emitted("mark")).toEqual([{ chat_id: CHAT, delivered_seq: 3 }]);
    h.socket.push("message", message(4));
    await vi.waitFor(() => expect(own(h)).toMatchObject({ delivered_seq: 4 }));
    h.connection.seen(2);
    await vi.waitFor(() => expect(own(h)).toMatchObject({ read_seq: 2 }));
    h.connection.seen(2); // nothing new
    expect(h.socket.emitted("mark")).toEqual([
      { chat_id: CHAT, delivered_seq: 3 },
      { chat_id: CHAT, delivered_seq: 4 },
      { chat_id: CHAT, read_seq: 2 },
    ]);
  });

  it("asks no more marks after a final refusal until the next connection", async () => {
    let refuse = true;
    const h = setup(v12());
    const answer = h.socket.answer;
    h.socket.answer = ((event: string, payload: never) =>
      event === "mark" && refuse ? refusal("invalid") : answer(event, payload)) as FakeSocket["answer"];
    await vi.waitFor(() => expect(h.socket.emitted("mark")).toHaveLength(1));
    h.connection.seen(3);
    expect(h.socket.emitted("mark")).toHaveLength(1);
    refuse = false;
    h.reconnect();
    await vi.waitFor(() => expect(own(h)).toMatchObject({ read_seq: 3, delivered_seq: 3 }));
  });

  it("moves the others' positions from receipt events of this chat only", async () => {
    const h = setup(v12());
    await vi.waitFor(() => expect(h.store.getState().membership).toBe("member"));
    h.socket.push("receipt", { chat_id: CHAT, address: PEER, read_seq: 2, delivered_seq: 3 });
    h.socket.push("receipt", { chat_id: "other", address: PEER, read_seq: 9, delivered_seq: 9 });
    expect(h.store.getState().positions[PEER.toLowerCase()]).toEqual({ address: PEER, read_seq: 2, delivered_seq: 3 });
  });

  it("sends reply_to with a reply, and shows what react and delete answer", async () => {
    const deleted = message(2, { sender: ME, rev: 9, body: "", deleted: true });
    const h = setup(v12((event) => {
      if (event === "send") return { ok: true, message: message(4, { sender: ME, reply_to: `${CHAT}/1` }) };
      if (event === "delete") return { ok: true, message: deleted };
      if (event === "react") return refusal("invalid");
      return undefined;
    }));
    await vi.waitFor(() => expect(h.store.getState().membership).toBe("member"));
    await h.connection.send("yes", null, `${CHAT}/1`);
    await vi.waitFor(() => expect(h.socket.emitted("send")).toMatchObject([{ body: "yes", reply_to: `${CHAT}/1` }]));
    await h.connection.deleteMessage(`${CHAT}/2`);
    expect(h.socket.emitted("delete")).toEqual([{ chat_id: CHAT, message_id: `${CHAT}/2` }]);
    expect(h.store.getState().byId[`${CHAT}/2`]).toMatchObject({ deleted: true, body: "" });
    await h.connection.react(`${CHAT}/1`, "👍", true);
    expect(h.socket.emitted("react")).toEqual([{ chat_id: CHAT, message_id: `${CHAT}/1`, emoji: "👍", action: "added" }]);
    expect(h.store.getState().byId[`${CHAT}/1`]?.reactions).toBeUndefined(); // refused: nothing changed
  });
});
