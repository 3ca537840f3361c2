import { describe, expect, it } from "vitest";
import {
  cachedWindow,
  initialChatState,
  lowestSeq,
  messagesReducer,
  selectMessages,
  selectTyping,
  TYPING_TTL_MS,
  type Action,
  type ChatState,
  type LocalMessage,
} from "./messages-reducer";
import type { CachedChat } from "./history";
import type { Chat, JoinAck, Message } from "./types";
import { serverMessage } from "./testing/messages";

const ME = "0x1111111111111111111111111111111111111111";
const PEER = "0x2222222222222222222222222222222222222222";
const CHAT = "dm:0x1111111111111111111111111111111111111111:0x2222222222222222222222222222222222222222";

function message(seq: number, over: Partial<Message> = {}): Message {
  return serverMessage(CHAT, seq, { sender: PEER, ...over });
}

function chat(rev: number): Chat {
  return { id: CHAT, members: [ME, PEER], title: null, created_by: ME, created_at: 1, last_seq: rev, rev };
}

function local(clientId: string, createdAt: number, body = clientId): LocalMessage {
  return { client_id: clientId, chat_id: CHAT, sender: ME, body, tx: null, created_at: createdAt };
}

const run = (...actions: Action[]): ChatState =>
  actions.reduce(messagesReducer, initialChatState(CHAT, ME));

const bodies = (state: ChatState) => selectMessages(state).map((m) => m.body);

describe("messagesReducer", () => {
  it("de-duplicates the send ack and the message echo of the same client_id", () => {
    const mine = message(1, { sender: ME, client_id: "abc", body: "hi" });
    const state = run(
      { type: "localAdded", entries: [local("abc", 5, "hi")] },
      { type: "sendAcked", clientId: "abc", message: mine },
      { type: "socketMessages", messages: [mine] },
    );
    const view = selectMessages(state);
    expect(view).toHaveLength(1);
    expect(view[0]).toMatchObject({ client_id: "abc", status: "provisional", seq: 1 });
  });

  it("de-duplicates the echo arriving before the ack", () => {
    const mine = message(1, { sender: ME, client_id: "abc" });
    const state = run(
      { type: "localAdded", entries: [local("abc", 5)] },
      { type: "socketMessages", messages: [mine] },
      { type: "sendAcked", clientId: "abc", message: mine },
    );
    expect(selectMessages(state)).toHaveLength(1);
  });

  it("de-duplicates join changes and REST pages holding the same messages", () => {
    const ack: JoinAck = { chat: chat(2), changes: [message(1), message(2)], has_more: false, online: [] };
    const state = run(
      { type: "joined", ack, sinceRev: null },
      { type: "olderPage", messages: [message(1)], hasMore: false },
      { type: "fetchedMessages", messages: [message(2)] },
    );
    expect(bodies(state)).toEqual(["message 1", "message 2"]);
  });

  it("orders out-of-order message events by seq", () => {
    const state = run({ type: "socketMessages", messages: [message(3), message(1), message(2)] });
    expect(selectMessages(state).map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it("ignores a stale message:update whose rev is lower than the known one", () => {
    const confirmed = message(1, { rev: 5, status: "confirmed" });
    const stale = message(1, { rev: 3, status: "provisional" });
    const state = run({ type: "socketMessages", messages: [confirmed] }, { type: "socketMessages", messages: [stale] });
    expect(selectMessages(state)[0]?.status).toBe("confirmed");
  });

  it("applies chat:confirmed to the plain provisional messages through its seq, last changed before it", () => {
    const tx = { chain_id: 42220, hash: `0x${"1".repeat(64)}`, to: PEER, value: "1", token: null };
    const held = [
      message(1),
      message(2, { tx }),
      message(3, { xmtp_id: "x-3" }),
      message(4, { xmtp_id: "x-4", deleted: true, body: "" }),
      message(5, { rev: 11 }),
      message(6),
      message(7, { status: "corrected", reason: "xmtp_mismatch", source: "xmtp" }),
      message(8),
    ];
    const event = { chat_id: CHAT, through_seq: 7, first_rev: 10, rev: 12, updated_at: 5000 };
    const state = run({ type: "socketMessages", messages: held }, { type: "chatConfirmed", event });
    const view = selectMessages(state).map((m) => [m.seq, m.status, m.source]);
    expect(view).toEqual([
      [1, "confirmed", "fallback"],
      [2, "provisional", "fallback"],
      [3, "provisional", "fallback"],
      [4, "confirmed", "fallback"],
      [5, "provisional", "fallback"],
      [6, "confirmed", "fallback"],
      [7, "corrected", "xmtp"],
      [8, "provisional", "fallback"],
    ]);
    expect(state.byId[`${CHAT}/1`]).toMatchObject({ rev: 12, updated_at: 5000 });
    expect(state.highestRev).toBe(12);
  });

  it("keeps a confirmed message against its exact copy from catch-up, and lets a later change win", () => {
    const event = { chat_id: CHAT, through_seq: 2, first_rev: 3, rev: 4, updated_at: 5000 };
    let state = run({ type: "socketMessages", messages: [message(1), message(2)] }, { type: "chatConfirmed", event });
    const exact = message(1, { rev: 3, status: "confirmed", updated_at: 5000 });
    state = messagesReducer(state, { type: "changesPage", messages: [exact], completeRev: 4 });
    expect(selectMessages(state)[0]).toMatchObject({ status: "confirmed", source: "fallback" });
    const attested = message(1, { rev: 5, status: "confirmed", xmtp_id: "late-copy", updated_at: 6000 });
    state = messagesReducer(state, { type: "socketMessages", messages: [attested] });
    expect(state.byId[`${CHAT}/1`]).toEqual(attested);
  });

  it("ignores another chat's confirmation", () => {
    const before = run({ type: "socketMessages", messages: [message(1)] });
    const event = { chat_id: "grp:other", through_seq: 9, first_rev: 2, rev: 3, updated_at: 5000 };
    expect(messagesReducer(before, { type: "chatConfirmed", event })).toBe(before);
  });

  it("moves a message through sending, provisional and confirmed", () => {
    let state = run({ type: "localAdded", entries: [local("abc", 5)] });
    expect(selectMessages(state)[0]?.status).toBe("sending");
    state = messagesReducer(state, {
      type: "sendAcked",
      clientId: "abc",
      message: message(1, { sender: ME, client_id: "abc" }),
    });
    expect(selectMessages(state)[0]?.status).toBe("provisional");
    state = messagesReducer(state, {
      type: "socketMessages",
      messages: [message(1, { sender: ME, client_id: "abc", rev: 2, status: "confirmed" })],
    });
    expect(selectMessages(state)[0]?.status).toBe("confirmed");
  });

  it("keeps the original of a corrected message", () => {
    const tx = { chain_id: 42220, hash: `0x${"a".repeat(64)}`, to: PEER, value: "5", token: null };
    const corrected = message(1, {
      rev: 2,
      status: "corrected",
      reason: "amount_mismatch",
      tx: { ...tx, value: "4" },
      original: { body: "message 1", tx },
    });
    const state = run({ type: "socketMessages", messages: [message(1, { tx })] }, { type: "socketMessages", messages: [corrected] });
    const view = selectMessages(state)[0];
    expect(view).toMatchObject({ status: "corrected", reason: "amount_mismatch" });
    expect(view?.original?.tx?.value).toBe("5");
    expect(view?.tx?.value).toBe("4");
  });

  it("shows a retracted message with its reason", () => {
    const state = run(
      { type: "socketMessages", messages: [message(1)] },
      { type: "socketMessages", messages: [message(1, { rev: 2, status: "retracted", reason: "reverted", source: "chain" })] },
    );
    expect(selectMessages(state)[0]).toMatchObject({ status: "retracted", reason: "reverted" });
  });

  it("expires a typing flag 5 s after its last renewal", () => {
    let state = run({ type: "typing", address: PEER, typing: true, now: 0 });
    expect(selectTyping(state)).toEqual([PEER]);
    state = messagesReducer(state, { type: "typing", address: PEER, typing: true, now: 3000 });
    state = messagesReducer(state, { type: "tick", now: TYPING_TTL_MS + 1 });
    expect(selectTyping(state)).toEqual([PEER]);
    state = messagesReducer(state, { type: "tick", now: 3000 + TYPING_TTL_MS + 1 });
    expect(selectTyping(state)).toEqual([]);
  });

  it("clears typing when the typist says it stopped, and never lists me", () => {
    const state = run(
      { type: "typing", address: PEER, typing: true, now: 0 },
      { type: "typing", address: ME, typing: true, now: 0 },
      { type: "typing", address: PEER, typing: false, now: 1 },
    );
    expect(selectTyping(state)).toEqual([]);
  });

  it("tracks presence from the join ack and presence events", () => {
    const ack: JoinAck = { chat: chat(0), changes: [], has_more: false, online: [ME] };
    let state = run({ type: "joined", ack, sinceRev: null }, { type: "presence", address: PEER, online: true });
    expect(state.online).toEqual([ME, PEER]);
    state = messagesReducer(state, { type: "presence", address: PEER.toUpperCase().replace("0X", "0x"), online: false });
    expect(state.online).toEqual([ME]);
  });

  it("tracks the highest rev seen on the socket, not from REST pages", () => {
    let state = run({ type: "socketMessages", messages: [message(1, { rev: 4 }), message(2, { rev: 2 })] });
    expect(state.highestRev).toBe(4);
    state = messagesReducer(state, { type: "fetchedMessages", messages: [message(3, { rev: 9 })] });
    expect(state.highestRev).toBe(4);
  });

  it("takes the join ack's chat rev as seen unless the catch-up was cut", () => {
    const complete: JoinAck = { chat: chat(12), changes: [message(1, { rev: 7 })], has_more: false, online: [] };
    expect(run({ type: "joined", ack: complete, sinceRev: 3 }).highestRev).toBe(12);
    const cut: JoinAck = { ...complete, has_more: true };
    const state = run({ type: "joined", ack: cut, sinceRev: 3 });
    expect(state.highestRev).toBe(7);
    expect(messagesReducer(state, { type: "changesPage", messages: [], completeRev: 12 }).highestRev).toBe(12);
  });

  it("shows outbox entries as sending, in send order, and replaces each by its ack", () => {
    let state = run({ type: "localAdded", entries: [local("b", 20), local("a", 10)] });
    expect(selectMessages(state).map((m) => [m.client_id, m.status, m.seq])).toEqual([
      ["a", "sending", null],
      ["b", "sending", null],
    ]);
    state = messagesReducer(state, {
      type: "sendAcked",
      clientId: "a",
      message: message(1, { sender: ME, client_id: "a", body: "a" }),
    });
    expect(selectMessages(state).map((m) => [m.client_id, m.status])).toEqual([
      ["a", "provisional"],
      ["b", "sending"],
    ]);
  });

  it("does not show an outbox entry the server already acknowledged", () => {
    const state = run(
      { type: "socketMessages", messages: [message(1, { sender: ME, client_id: "a" })] },
      { type: "localAdded", entries: [local("a", 10)] },
    );
    expect(selectMessages(state)).toHaveLength(1);
  });

  it("keeps a peer's message with the same client_id as mine apart from mine", () => {
    const state = run(
      { type: "localAdded", entries: [local("same", 10, "mine")] },
      { type: "socketMessages", messages: [message(1, { client_id: "same", body: "theirs" })] },
    );
    expect(selectMessages(state).map((m) => [m.body, m.status])).toEqual([
      ["theirs", "provisional"],
      ["mine", "sending"],
    ]);
  });

  it("merges an XMTP copy with its server copy instead of showing two bubbles", () => {
    const copy = { xmtp_id: "x1", chat_id: CHAT, sender: PEER, body: "message 1", sent_at: 1 };
    let state = run({ type: "xmtpReceived", copy });
    expect(selectMessages(state).map((m) => m.status)).toEqual(["provisional"]);
    state = messagesReducer(state, { type: "socketMessages", messages: [message(1)] });
    expect(selectMessages(state)).toHaveLength(1);
    state = messagesReducer(state, { type: "socketMessages", messages: [message(1, { rev: 2, xmtp_id: "x1" })] });
    expect(selectMessages(state)).toHaveLength(1);
    expect(state.xmtp).toEqual({});
  });

  it("ignores messages of another chat", () => {
    const state = run({ type: "socketMessages", messages: [message(1, { chat_id: "other" })] });
    expect(selectMessages(state)).toEqual([]);
  });
  it("does not advance the resume rev past a cut catch-up's hole on live messages", () => {
    let state = run({ type: "joined", ack: { chat: chat(100), changes: [message(100)], has_more: false, online: [] }, sinceRev: null });
    // Reconnect: a live message lands before the cut ack (revs 101..600 of 1199) is processed.
    state = messagesReducer(state, { type: "socketMessages", messages: [message(1200)] });
    const changes = Array.from({ length: 500 }, (_, i) => message(101 + i));
    state = messagesReducer(state, { type: "joined", ack: { chat: chat(1199), changes, has_more: true, online: [] }, sinceRev: 100 });
    expect(state.highestRev).toBe(600);
    state = messagesReducer(state, { type: "socketMessages", messages: [message(1201)] });
    expect(state.highestRev).toBe(600);
    expect(selectMessages(state).at(-1)?.seq).toBe(1201); // applied all the same
    state = messagesReducer(state, { type: "changesPage", messages: [message(601), message(602)], completeRev: null });
    expect(state.highestRev).toBe(602);
  });

  it("moves the resume rev to the higher of the catch-up end and the live max only once the catch-up completes", () => {
    const cut: JoinAck = { chat: chat(700), changes: [message(101)], has_more: true, online: [] };
    let state = run({ type: "joined", ack: cut, sinceRev: 100 });
    state = messagesReducer(state, { type: "socketMessages", messages: [message(900)] });
    expect(state.highestRev).toBe(101);
    state = messagesReducer(state, { type: "changesPage", messages: [message(700)], completeRev: 700 });
    expect(state.highestRev).toBe(900);
    state = messagesReducer(state, { type: "socketMessages", messages: [message(901)] });
    expect(state.highestRev).toBe(901);
  });

  it("pages older history below the oldest loaded seq, not below an update of an older message", () => {
    let state = run({
      type: "joined",
      ack: { chat: chat(200), changes: Array.from({ length: 50 }, (_, i) => message(151 + i)), has_more: true, online: [] },
      sinceRev: null,
    });
    state = messagesReducer(state, { type: "socketMessages", messages: [message(10, { rev: 201, status: "retracted" })] });
    state = messagesReducer(state, { type: "fetchedMessages", messages: [message(20, { rev: 202 })] });
    expect(lowestSeq(state)).toBe(151);
    state = messagesReducer(state, {
      type: "olderPage",
      messages: Array.from({ length: 50 }, (_, i) => message(101 + i)),
      hasMore: true,
    });
    expect(lowestSeq(state)).toBe(101);
  });

  it("keeps a message below the loaded window out of the list until older paging reaches it", () => {
    let state = run({
      type: "joined",
      ack: { chat: chat(200), changes: [message(151), message(152)], has_more: true, online: [] },
      sinceRev: null,
    });
    state = messagesReducer(state, { type: "socketMessages", messages: [message(10, { rev: 201, status: "retracted" })] });
    expect(selectMessages(state).map((m) => m.seq)).toEqual([151, 152]);
    // The page brings seq 10 in an older state: the newer copy held wins.
    const page = Array.from({ length: 150 }, (_, i) => message(1 + i));
    state = messagesReducer(state, { type: "olderPage", messages: page, hasMore: false });
    const seqs = selectMessages(state).map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: 152 }, (_, i) => i + 1));
    expect(selectMessages(state)[9]?.status).toBe("retracted");
  });
});

describe("the history cache", () => {
  const cached = (over: Partial<CachedChat> = {}): CachedChat => ({
    chat: chat(3), messages: [message(2), message(3)], highestRev: 3, oldestSeq: 2, hasOlder: true, ...over,
  });

  it("shows a restored chat before any join, resuming from its rev with older history below it", () => {
    const state = run({ type: "restored", cached: cached() });
    expect(bodies(state)).toEqual(["message 2", "message 3"]);
    expect(state).toMatchObject({ highestRev: 3, oldestSeq: 2, hasOlder: true });
    expect(state.chat?.id).toBe(CHAT);
  });

  it("ignores a restore that comes after a join: the join is newer", () => {
    const joined = run({ type: "joined", ack: { chat: chat(5), changes: [message(5)], has_more: false, online: [] }, sinceRev: null });
    expect(messagesReducer(joined, { type: "restored", cached: cached() })).toBe(joined);
  });

  it("keeps the latest messages of the loaded window, and says older ones exist when it cuts", () => {
    const state = run({ type: "joined", ack: { chat: chat(5), changes: [1, 2, 3, 4, 5].map((s) => message(s)), has_more: false, online: [] }, sinceRev: null });
    expect(cachedWindow(state)).toMatchObject({ oldestSeq: 0, hasOlder: false, highestRev: 5 });
    const cut = cachedWindow(state, 2)!;
    expect(cut.messages.map((m) => m.seq)).toEqual([4, 5]);
    expect(cut).toMatchObject({ oldestSeq: 4, hasOlder: true, highestRev: 5 });
  });

  it("keeps a window of exactly the limit whole, with nothing older to load", () => {
    const state = run({ type: "joined", ack: { chat: chat(3), changes: [1, 2, 3].map((s) => message(s)), has_more: false, online: [] }, sinceRev: null });
    expect(cachedWindow(state, 3)).toMatchObject({ oldestSeq: 0, hasOlder: false });
  });

  it("keeps only the loaded window, not updates of older messages held below it", () => {
    const state = run(
      { type: "joined", ack: { chat: chat(60), changes: [58, 59, 60].map((s) => message(s)), has_more: true, online: [] }, sinceRev: null },
      { type: "socketMessages", messages: [message(3, { rev: 61, status: "confirmed" })] },
    );
    expect(cachedWindow(state)?.messages.map((m) => m.seq)).toEqual([58, 59, 60]);
    expect(cachedWindow(state)).toMatchObject({ oldestSeq: 58, hasOlder: true, highestRev: 61 });
  });

  it("keeps the rev up to which nothing is missing while a catch-up is open, not the live rev beyond its hole", () => {
    const state = run(
      { type: "joined", ack: { chat: chat(10), changes: [message(10)], has_more: false, online: [] }, sinceRev: null },
      { type: "joined", ack: { chat: chat(900), changes: [11, 12].map((s) => message(s)), has_more: true, online: [] }, sinceRev: 10 },
      { type: "socketMessages", messages: [message(901)] },
    );
    expect(cachedWindow(state)?.highestRev).toBe(12);
  });

  it("has nothing to keep before the first join", () => {
    expect(cachedWindow(run({ type: "localAdded", entries: [local("a", 1)] }))).toBeNull();
  });

  it("forgets the server's copies but keeps what we wrote when the server turns out to know less", () => {
    const state = run(
      { type: "restored", cached: cached() },
      { type: "localAdded", entries: [local("mine", 9, "still to send")] },
      { type: "serverReset" },
    );
    expect(bodies(state)).toEqual(["still to send"]);
    expect(state).toMatchObject({ chat: null, highestRev: 0, oldestSeq: null });
  });
});
