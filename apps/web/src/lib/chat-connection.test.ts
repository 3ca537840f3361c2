// The XMTP-primary path of ChatConnection against a local stand-in of @xmtp/browser-sdk and a fake socket.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { connectionIndicator } from "@/hooks/use-optimistic-messaging";
import { ChatConnection } from "./chat-connection";
import { initialChatState, messagesReducer, selectMessages, type Action, type ChatState } from "./messages-reducer";
import type { Outbox, OutboxEntry } from "./outbox";
import { createStore } from "./store";
import { sockets, type FakeSocket } from "./testing/fake-socket";
import { inboxIdOf, keyedTextMessageId, StandInNetwork, type StandInConversation } from "./testing/xmtp-stand-in";
import type { Ack, JoinAck, Message } from "./types";
import { memoryHistory } from "./testing/memory-history";
import { serverMessage } from "./testing/messages";

vi.mock("socket.io-client", async () => ({ io: (await import("./testing/fake-socket")).fakeIo }));

const CHAT = "aed8a9cc52ca1c02c03a6d90171b1fd9"; // an XMTP conversation (group) id

// ---- A fake server behind the fake socket: join, send and attest, with content binding as the server does it ----

function serverMessageIn(over: Partial<Message> & Pick<Message, "seq" | "client_id" | "sender" | "body">): Message {
  return serverMessage(CHAT, over.seq, over);
}

function fakeServer(me: string, members: string[]) {
  let seq = 0;
  const byClientId = new Map<string, Message>();
  const byId = new Map<string, Message>();
  const positions = { read_seq: 0, delivered_seq: 0 };
  return async (event: string, payload: Record<string, unknown>): Promise<Ack<{ message: Message }> | Ack<JoinAck> | Ack<typeof positions> | undefined> => {
    switch (event) {
      case "join": {
        const ack: JoinAck = {
          chat: { id: CHAT, members, title: null, created_by: me, created_at: 1, last_seq: seq, rev: seq },
          changes: [],
          has_more: false,
          online: [],
        };
        return { ok: true, ...ack };
      }
      case "send": {
        const clientId = payload.client_id as string;
        let message = byClientId.get(clientId);
        if (!message) {
          message = serverMessageIn({ seq: ++seq, client_id: clientId, sender: me, body: payload.body as string });
          byClientId.set(clientId, message);
          byId.set(message.id, message);
        }
        return { ok: true, message };
      }
      case "attest": {
        const held = byId.get(payload.message_id as string);
        if (!held) return { ok: false, error: { code: "not_found", message: "no such message" } };
        // Content binding (docs/settlement.md): the server recomputes the id from the content and the client_id.
        const bound = (await keyedTextMessageId(CHAT, held.client_id, held.body)) === payload.xmtp_id;
        if (payload.keyed && !bound) return { ok: false, error: { code: "invalid", message: "xmtp_id mismatch" } };
        const message = { ...held, rev: held.rev + 1, xmtp_id: payload.xmtp_id as string, xmtp_bound: bound };
        byId.set(message.id, message);
        return { ok: true, message };
      }
      case "mark": {
        const read = Math.max(positions.read_seq, (payload.read_seq as number | undefined) ?? 0);
        positions.read_seq = read;
        positions.delivered_seq = Math.max(positions.delivered_seq, read, (payload.delivered_seq as number | undefined) ?? 0);
        return { ok: true, ...positions };
      }
      case "react": {
        const held = byId.get(payload.message_id as string);
        if (!held) return { ok: false, error: { code: "not_found", message: "no such message" } };
        const message = { ...held, rev: held.rev + 1, reactions: { [payload.emoji as string]: [me] } };
        byId.set(message.id, message);
        return { ok: true, message };
      }
    }
    return undefined;
  };
}

// ---- Harness ----

const storage = new Map<string, string>();

function memoryOutbox(): Outbox & { puts: OutboxEntry[] } {
  const puts: OutboxEntry[] = [];
  return {
    puts,
    put: async (entry) => void puts.push(entry),
    list: async () => [],
    remove: async () => undefined,
    close: () => undefined,
  };
}

function setup(create: "ok" | "fail" | "hang" = "ok", serverMembers?: (me: string, peer: string) => string[]) {
  // A fresh burner wallet per test (xmtp.ts keeps one client per address).
  const key = generatePrivateKey();
  storage.set("om.burner-key", key);
  const me = privateKeyToAccount(key).address;
  const peer = privateKeyToAccount(generatePrivateKey()).address;
  const network = new StandInNetwork();
  network.addConversation([me, peer], CHAT);
  const sdk = network.sdk(create);
  const load = vi.fn(sdk.load);
  const store = createStore<ChatState, Action>(messagesReducer, initialChatState(CHAT, me));
  const outbox = memoryOutbox();
  const history = memoryHistory();
  const flags = { socketUp: false, xmtpUp: false };
  const connection = new ChatConnection({
    chatId: CHAT,
    session: { token: "token", address: me, expires_at: Date.now() + 3_600_000, wallet: "burner" },
    store,
    outbox,
    history,
    onSocket: (up) => (flags.socketUp = up),
    onXmtp: (up) => (flags.xmtpUp = up),
    onProblem: () => undefined,
    onAuthFailed: () => undefined,
    onAuthResumed: () => undefined,
    refreshSession: async () => null,
    loadXmtpSdk: load,
  });
  connection.start();
  const socket = sockets.at(-1) as FakeSocket;
  socket.answer = fakeServer(me, serverMembers?.(me, peer) ?? [me, peer]) as FakeSocket["answer"];
  const peerConversation = async () =>
    (await network.client(peer).conversations.getConversationById(CHAT)) as StandInConversation;
  return {
    me,
    peer,
    network,
    sdk,
    load,
    store,
    outbox,
    socket,
    connection,
    peerConversation,
    mode: () => connectionIndicator(flags.xmtpUp, flags.socketUp),
    bubbles: () => selectMessages(store.getState()),
  };
}

type Harness = ReturnType<typeof setup>;
let harness: Harness | null = null;

beforeEach(() => {
  vi.stubEnv("NEXT_PUBLIC_XMTP_ENV", "dev");
  vi.stubGlobal("window", {
    localStorage: {
      getItem: (k: string) => storage.get(k) ?? null,
      setItem: (k: string, v: string) => void storage.set(k, v),
    },
  });
});

afterEach(() => {
  harness?.connection.stop();
  harness = null;
  vi.useRealTimers();
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

async function xmtpReady(): Promise<Harness> {
  const h = (harness = setup("ok"));
  await vi.waitFor(() => expect(h.mode()).toBe("XMTP"));
  return h;
}

describe("ChatConnection over XMTP (stand-in SDK)", () => {
  it("sends over XMTP with the client_id as idempotency key, then attests the returned id keyed", async () => {
    const h = await xmtpReady();
    await h.connection.send("hello");
    await vi.waitFor(() => expect(h.socket.emitted("attest")).toHaveLength(1));

    const [send] = h.socket.emitted("send") as { client_id: string }[];
    const clientId = send!.client_id;
    expect(h.network.sends).toHaveLength(1);
    const [sent] = h.network.sends;
    expect(sent).toMatchObject({ conversationId: CHAT, text: "hello", opts: { idempotencyKey: clientId } });
    // The id the stand-in returned is the one libxmtp would compute, hence the one the server recomputes.
    expect(sent!.id).toBe(await keyedTextMessageId(CHAT, clientId, "hello"));
    expect(h.socket.emitted("attest")).toEqual([
      { chat_id: CHAT, message_id: `${CHAT}/1`, xmtp_id: sent!.id, keyed: true },
    ]);
    await vi.waitFor(() => expect(h.bubbles()).toMatchObject([{ body: "hello", xmtp_bound: true }]));
  });

  it("sends a reply over XMTP as its reply content type, referring to the XMTP copy, and attests it unkeyed", async () => {
    const h = await xmtpReady();
    await h.connection.send("hello");
    await vi.waitFor(() => expect(h.bubbles()).toMatchObject([{ xmtp_bound: true }]));
    const original = h.network.sends[0]!.id;
    await h.connection.send("answer", null, `${CHAT}/1`);
    await vi.waitFor(() => expect(h.socket.emitted("attest")).toHaveLength(2));
    expect(h.network.sends).toHaveLength(1); // not a second text
    const [reply] = h.network.replies;
    const sent = (h.socket.emitted("send") as { client_id: string; reply_to?: string }[])[1]!;
    expect(sent.reply_to).toBe(`${CHAT}/1`);
    expect(reply!.content).toMatchObject({ reference: original, referenceInboxId: inboxIdOf(h.me) });
    expect(reply!.opts).toEqual({ idempotencyKey: sent.client_id });
    expect(new TextDecoder().decode(reply!.content.content.content)).toBe("answer");
    expect(reply!.content.content.type).toEqual({ authorityId: "xmtp.org", typeId: "text", versionMajor: 1, versionMinor: 0 });
    expect(h.socket.emitted("attest")[1]).toEqual({ chat_id: CHAT, message_id: `${CHAT}/2`, xmtp_id: reply!.id, keyed: false });
  });

  it("reacts on the server and on the XMTP copy alike", async () => {
    const h = await xmtpReady();
    await h.connection.send("hello");
    await vi.waitFor(() => expect(h.bubbles()).toMatchObject([{ xmtp_bound: true }]));
    await h.connection.react(`${CHAT}/1`, "👍", true);
    expect(h.socket.emitted("react")).toEqual([{ chat_id: CHAT, message_id: `${CHAT}/1`, emoji: "👍", action: "added" }]);
    expect(h.bubbles()[0]!.reactions).toEqual({ "👍": [h.me] });
    await vi.waitFor(() => expect(h.network.reactions).toHaveLength(1));
    expect(h.network.reactions[0]!.content).toEqual({
      reference: h.network.sends[0]!.id, referenceInboxId: inboxIdOf(h.me), action: 1, content: "👍", schema: 1,
    });
  });

  it("sends XMTP's read receipt when we read on, not when messages are only delivered", async () => {
    const h = await xmtpReady();
    h.socket.push("message", serverMessageIn({ seq: 1, client_id: "p1", sender: h.peer, body: "hi" }));
    await vi.waitFor(() => expect(h.socket.emitted("mark")).toEqual([{ chat_id: CHAT, delivered_seq: 1 }]));
    await vi.waitFor(() => expect(h.store.getState().positions[h.me.toLowerCase()]?.delivered_seq).toBe(1));
    expect(h.network.readReceipts).toEqual([]);
    h.connection.seen(1);
    await vi.waitFor(() => expect(h.network.readReceipts).toEqual([{ conversationId: CHAT, senderInboxId: inboxIdOf(h.me) }]));
  });

  it("shows our own message once although the XMTP stream echoes it", async () => {
    const h = await xmtpReady();
    await h.connection.send("hello");
    await vi.waitFor(() => expect(h.socket.emitted("attest")).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(h.bubbles().map((m) => m.body)).toEqual(["hello"]);
    expect(h.store.getState().xmtp).toEqual({});
  });

  it("merges a streamed XMTP message with its later socket copy (same xmtp_id) into one bubble", async () => {
    const h = await xmtpReady();
    const xmtpId = await (await h.peerConversation()).sendText("hi there", { idempotencyKey: "peer-1" });
    await vi.waitFor(() => expect(h.bubbles()).toHaveLength(1));
    expect(h.bubbles()[0]).toMatchObject({ body: "hi there", source: "xmtp", status: "provisional", sender: h.peer });

    h.socket.push(
      "message",
      serverMessageIn({ seq: 1, client_id: "peer-1", sender: h.peer, body: "hi there", xmtp_id: xmtpId }),
    );
    expect(h.bubbles()).toHaveLength(1);
    expect(h.bubbles()[0]).toMatchObject({ id: `${CHAT}/1`, body: "hi there" });
  });

  it("ignores a streamed XMTP message whose socket copy (same xmtp_id) arrived first", async () => {
    const h = await xmtpReady();
    const conversation = await h.peerConversation();
    const xmtpId = await keyedTextMessageId(CHAT, "peer-1", "hi there");
    h.socket.push(
      "message",
      serverMessageIn({ seq: 1, client_id: "peer-1", sender: h.peer, body: "hi there", xmtp_id: xmtpId }),
    );
    expect(await conversation.sendText("hi there", { idempotencyKey: "peer-1" })).toBe(xmtpId);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(h.store.getState().xmtp).toEqual({});
    expect(h.bubbles().map((m) => m.id)).toEqual([`${CHAT}/1`]);
  });

  it("shows a streamed XMTP message without a socket copy once, as provisional", async () => {
    const h = await xmtpReady();
    const conversation = await h.peerConversation();
    const xmtpId = await conversation.sendText("only on xmtp", { idempotencyKey: "peer-2" });
    // The same key and content again is the same XMTP message (libxmtp de-duplicates it).
    expect(await conversation.sendText("only on xmtp", { idempotencyKey: "peer-2" })).toBe(xmtpId);
    await vi.waitFor(() => expect(h.bubbles()).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(h.bubbles()).toMatchObject([
      { key: `xmtp:${xmtpId}`, body: "only on xmtp", status: "provisional", source: "xmtp", sender: h.peer },
    ]);
  });
});

describe("ChatConnection on a chat id held by other people", () => {
  it("never mirrors into a server chat whose members differ from the XMTP conversation's", async () => {
    const squatter = privateKeyToAccount(generatePrivateKey()).address;
    const h = (harness = setup("ok", (me, peer) => [me, peer, squatter]));
    await vi.waitFor(() => expect(h.mode()).toBe("Fallback"));
    // The conversation was opened, compared with the server's chat, and closed again unused.
    await vi.waitFor(() => expect(h.network.streams).toEqual({ opened: 1, ended: 1 }));
    await h.connection.send("only for the server chat");
    await vi.waitFor(() => expect(h.socket.emitted("send")).toHaveLength(1));
    expect(h.mode()).toBe("Fallback");
    expect(h.network.sends).toEqual([]);
  });
});

describe("ChatConnection closed early", () => {
  it("ends the XMTP stream it opened when the chat closes before the server said whose chat it is", async () => {
    const h = (harness = setup("ok"));
    h.socket.answer = () => undefined; // the join is never answered
    await vi.waitFor(() => expect(h.network.streams.opened).toBe(1));
    h.connection.stop();
    await vi.waitFor(() => expect(h.network.streams.ended).toBe(1));
    expect(h.mode()).not.toBe("XMTP");
  });
});

describe("ChatConnection without XMTP", () => {
  it("falls back without console.error when client creation fails", async () => {
    const error = vi.spyOn(console, "error");
    const h = (harness = setup("fail"));
    await vi.waitFor(() => expect(h.load).toHaveBeenCalledOnce());
    await vi.waitFor(() => expect(h.mode()).toBe("Fallback"));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.mode()).toBe("Fallback");

    await h.connection.send("still delivered");
    await vi.waitFor(() => expect(h.bubbles()).toMatchObject([{ id: `${CHAT}/1`, body: "still delivered" }]));
    expect(h.network.sends).toEqual([]);
    expect(h.socket.emitted("attest")).toEqual([]);
    expect(error).not.toHaveBeenCalled();
  });

  it("falls back without console.error when client creation times out, and closes the late client", async () => {
    const error = vi.spyOn(console, "error");
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const h = (harness = setup("hang"));
    await vi.advanceTimersByTimeAsync(10);
    expect(h.load).toHaveBeenCalledOnce();
    expect(h.network.creates).toHaveLength(1); // signed in, now waiting on the network
    expect(h.mode()).toBe("Fallback");
    await vi.advanceTimersByTimeAsync(8_000); // CREATE_TIMEOUT_MS
    expect(h.mode()).toBe("Fallback");

    h.sdk.release(); // the client shows up after all
    await vi.advanceTimersByTimeAsync(10);
    expect(h.sdk.clients).toHaveLength(1);
    expect(h.sdk.clients[0]!.closed).toBe(true);
    expect(h.mode()).toBe("Fallback");
    expect(error).not.toHaveBeenCalled();
  });
});
