// The v1.2 chat state in the reducer and its selectors: positions from join and `receipt` (forward only), our own
// moved by sending, the ticks and "seen by" they make, the unread divider fixed where the chat was opened, marking
// rules, and replies, reactions and deletions as the server's copies carry them.
import { describe, expect, it } from "vitest";
import { initialChatState, messagesReducer, selectMessages, type Action, type ChatState } from "./messages-reducer";
import { markDue, readersOf, tickOf, unreadDivider } from "./receipts";
import { serverMessage } from "./testing/messages";
import type { Chat, JoinAck, Message, Positions } from "./types";

const ME = "0x1111111111111111111111111111111111111111";
const PEER = "0x2222222222222222222222222222222222222222";
const THIRD = "0x3333333333333333333333333333333333333333";
const CHAT = "g1";

const message = (seq: number, over: Partial<Message> = {}) => serverMessage(CHAT, seq, { sender: PEER, ...over });
const chat = (last: number, over: Partial<Chat> = {}): Chat => ({
  id: CHAT, members: [ME, PEER, THIRD], title: "G", created_by: ME, created_at: 1, last_seq: last, rev: last, ...over,
});
const joined = (ack: Partial<JoinAck> & { chat: Chat }): Action => ({
  type: "joined", ack: { changes: [], has_more: false, online: [], ...ack }, sinceRev: null,
});
const receipt = (address: string, read: number, delivered = read): Action => ({
  type: "receipt", positions: { address, read_seq: read, delivered_seq: delivered },
});
const run = (...actions: Action[]): ChatState => actions.reduce(messagesReducer, initialChatState(CHAT, ME));
const mine = (state: ChatState): Positions | undefined => state.positions[ME.toLowerCase()];

describe("positions", () => {
  it("come from the join ack (the members who share them, and ours from the chat) and move only forward", () => {
    const state = run(
      joined({ chat: chat(5, { read_seq: 2, delivered_seq: 4 }), receipts: [{ address: PEER, read_seq: 3, delivered_seq: 5 }] }),
      receipt(PEER, 1, 1), // late, or repeated: nobody moves back
      receipt(THIRD, 4, 2), // delivered is at least read
    );
    expect(mine(state)).toMatchObject({ read_seq: 2, delivered_seq: 4 });
    expect(state.positions[PEER.toLowerCase()]).toMatchObject({ read_seq: 3, delivered_seq: 5 });
    expect(state.positions[THIRD.toLowerCase()]).toMatchObject({ read_seq: 4, delivered_seq: 4 });
    const once = run(receipt(PEER, 1));
    expect(messagesReducer(once, receipt(PEER, 1))).toBe(once); // a repeat changes nothing
  });

  it("a message we sent moves both our positions to its seq, acked or echoed", () => {
    const sent = message(7, { sender: ME, client_id: "c" });
    expect(mine(run({ type: "sendAcked", clientId: "c", message: sent }))).toMatchObject({ read_seq: 7, delivered_seq: 7 });
    expect(mine(run({ type: "socketMessages", messages: [sent] }))).toMatchObject({ read_seq: 7, delivered_seq: 7 });
    expect(mine(run({ type: "socketMessages", messages: [message(8)] }))).toBeUndefined(); // not someone else's
  });
});

describe("ticks and seen by", () => {
  it("go from acknowledged to delivered to read as the others' positions pass the message; leavers do not count", () => {
    const base = run(joined({ chat: chat(3), changes: [message(3, { sender: ME })] }));
    expect(tickOf(base, 3)).toBe("sent");
    const delivered = messagesReducer(base, receipt(PEER, 0, 3));
    expect(tickOf(delivered, 3)).toBe("delivered");
    const read = messagesReducer(delivered, receipt(THIRD, 3));
    expect(tickOf(read, 3)).toBe("read");
    expect(readersOf(read, 3)).toEqual([THIRD]);
    expect(readersOf(read, 2)).toEqual([THIRD]);
    const left = messagesReducer(read, { type: "chatUpdated", chat: chat(3, { members: [ME, PEER] }) });
    expect(tickOf(left, 3)).toBe("delivered");
    expect(readersOf(messagesReducer(read, receipt(ME, 9)), 3)).toEqual([THIRD]); // our own read is no "seen by"
  });
});

describe("the unread divider", () => {
  it("sits before the first message after our read position when opened, counts the others' not deleted, and stays", () => {
    const changes = [message(1), message(2, { sender: ME }), message(3), message(4, { deleted: true, body: "" }), message(5)];
    const state = run(joined({ chat: chat(5, { read_seq: 2 }), changes }));
    expect(unreadDivider(state, selectMessages(state))).toEqual({ beforeKey: `${CHAT}/3`, count: 2 });
    // We read on and re-join: the divider stays where the chat was opened.
    const later = run(
      joined({ chat: chat(5, { read_seq: 2 }), changes }),
      receipt(ME, 5),
      joined({ chat: chat(5, { read_seq: 5 }), changes }),
    );
    expect(later.unreadFrom).toBe(2);
    expect(unreadDivider(run(joined({ chat: chat(5, { read_seq: 5 }), changes })), selectMessages(state))).toBeNull();
    expect(run(joined({ chat: chat(5), changes })).unreadFrom).toBeNull(); // a v1.1 server tells no positions
  });

  it("counts only what was unread when the chat was opened: nothing for a chat read up to its end, however much comes", () => {
    const opened = run(joined({ chat: chat(1, { read_seq: 1 }), changes: [message(1)] }));
    const live = messagesReducer(opened, { type: "socketMessages", messages: [message(2), message(3)] });
    expect(unreadDivider(live, selectMessages(live))).toBeNull();
    const behind = run(joined({ chat: chat(2, { read_seq: 1 }), changes: [message(1), message(2)] }));
    const more = messagesReducer(behind, { type: "socketMessages", messages: [message(3)] });
    expect(unreadDivider(more, selectMessages(more))).toEqual({ beforeKey: `${CHAT}/2`, count: 1 });
  });
});

describe("markDue", () => {
  const state = run(joined({ chat: chat(4, { read_seq: 1, delivered_seq: 2 }), changes: [1, 2, 3, 4].map((s) => message(s)) }));
  it("marks delivered up to the newest message held, read only up to what was seen", () => {
    expect(markDue(state, 0, {})).toEqual({ delivered_seq: 4 });
    expect(markDue(state, 3, {})).toEqual({ read_seq: 3, delivered_seq: 4 });
    expect(markDue(state, 99, {})).toEqual({ read_seq: 4, delivered_seq: 4 }); // never beyond what we hold
  });
  it("asks nothing already there or already asked", () => {
    expect(markDue(state, 1, { delivered_seq: 4 })).toBeNull();
    expect(markDue(messagesReducer(state, receipt(ME, 3, 4)), 3, {})).toBeNull();
  });
});

describe("replies, reactions and deletion in the view", () => {
  it("carries reply_to, reactions with counts, and a deletion that replaces the earlier copy", () => {
    const reacted = message(2, { rev: 5, reply_to: `${CHAT}/1`, reactions: { "👍": [PEER] }, reaction_counts: { "👍": 60 } });
    let state = run(joined({ chat: chat(2), changes: [message(1), message(2)] }), { type: "socketMessages", messages: [reacted] });
    expect(selectMessages(state)[1]).toMatchObject({ reply_to: `${CHAT}/1`, reactions: { "👍": [PEER] }, reaction_counts: { "👍": 60 } });
    const gone = { ...reacted, rev: 6, body: "", reactions: {}, reaction_counts: {}, deleted: true };
    state = messagesReducer(state, { type: "socketMessages", messages: [gone] });
    state = messagesReducer(state, { type: "fetchedMessages", messages: [reacted] }); // a stale copy changes nothing
    expect(selectMessages(state)[1]).toMatchObject({ deleted: true, body: "", reactions: {} });
  });

  it("reads a v1.1 message as no reply, no reactions, not deleted; counts reactors where totals are missing", () => {
    const state = run({ type: "socketMessages", messages: [message(1), message(2, { reactions: { "🎉": [ME, PEER] } })] });
    expect(selectMessages(state)[0]).toMatchObject({ reply_to: null, reactions: {}, reaction_counts: {}, deleted: false });
    expect(selectMessages(state)[1]!.reaction_counts).toEqual({ "🎉": 2 });
  });
});
