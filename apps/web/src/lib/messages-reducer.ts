// The state of one open chat as a pure reducer: every copy of a message (the `send` ack, the `message` echo,
// join changes, REST pages, the outbox, XMTP) folds into one entry, so the UI never shows a message twice.
import type { CachedChat } from "./history";
import { cut, paged, seenLive, snapshot, type CatchUp } from "./stream-position";
import type { Chat, ChatConfirmed, JoinAck, Message, Positions, ServerStatus, Tx } from "./types";

export type { CatchUp } from "./stream-position";

/** A message written here and not yet acknowledged by the server (it lives in the outbox meanwhile). */
export interface LocalMessage {
  client_id: string;
  chat_id: string;
  sender: string;
  body: string;
  tx: Tx | null;
  created_at: number;
  /** XMTP id of the copy already sent over XMTP, if any (lets a re-send carry it). */
  xmtp_id?: string | null;
  /** Why the server refused it for good (it is then out of the outbox, shown so the user can discard it). */
  error?: string | null;
  /** The server id of the message this one answers (v1.2 `reply_to`). */
  reply_to?: string | null;
}

/** A message seen on XMTP, kept until its server copy (same xmtp_id, or same sender and text) shows up. */
export interface XmtpCopy {
  xmtp_id: string;
  chat_id: string;
  /** Checksummed address when the SDK could tell it, else null. */
  sender: string | null;
  body: string;
  sent_at: number;
}

/** Whether we may read and write this chat: unknown before the first join answers; not-member when the join was
 * refused; removed when a `chat:update` no longer lists us (we left, or the creator removed us). */
export type Membership = "unknown" | "member" | "not-member" | "removed";

export interface ChatState {
  chatId: string;
  /** The signed-in address; identifies which server messages settle our own local ones. */
  me: string;
  chat: Chat | null;
  membership: Membership;
  /** Server copies by server id. */
  byId: Record<string, Message>;
  /** `${sender lower-case}/${client_id}` → server id: the server's idempotency key. */
  idByClientKey: Record<string, string>;
  /** Our unacknowledged messages by client_id. */
  local: Record<string, LocalMessage>;
  xmtp: Record<string, XmtpCopy>;
  /** Highest chat `rev` known to be seen completely, without holes (re-join with it after a reconnect). While a
   * cut catch-up is open it is the catch-up's cursor: live events beyond it do not count until the hole is paged. */
  highestRev: number;
  /** An open catch-up (a `join` cut short, paged over REST), else null. */
  catchUp: CatchUp | null;
  /** Lowest seq of the contiguous window loaded from the latest message down (first join page, then older pages):
   * 0 once all history is loaded, null before the first join. Older history is paged below it; server copies
   * below it (updates of older messages) are held but not shown until paging reaches them, so the list has no gap. */
  oldestSeq: number | null;
  hasOlder: boolean;
  /** Address → time (ms) its typing flag expires. */
  typing: Record<string, number>;
  online: string[];
  /** v1.2 read and delivered positions by lower-case address: the members who share them, and ours. */
  positions: Record<string, Positions>;
  /** Our read position when this view first joined: the "N new messages" divider sits after it and stays there while
   * we read on. Null before the first join (or from a v1.1 server, which tells no positions). */
  unreadFrom: number | null;
  /** The chat's last seq when this view first joined: what comes after it arrives while the chat is open, and is
   * not counted under the divider. */
  unreadTo: number | null;
}

export type Action =
  /** The chat as this device last showed it (the history cache), before the first join. */
  | { type: "restored"; cached: CachedChat }
  /** The server knows less than we hold (its data was reset): forget every server copy, keep what we wrote. */
  | { type: "serverReset" }
  | { type: "joined"; ack: JoinAck; sinceRev: number | null }
  /** The server refused the join: we are not a member of this chat (or it does not exist). */
  | { type: "notMember" }
  /** `chat:update`: the chat's members (or title) changed. */
  | { type: "chatUpdated"; chat: Chat }
  /** v1.2 `chat:removed`: we left this chat or were removed from it. */
  | { type: "chatRemoved"; chatId: string }
  /** The socket dropped: nobody is known to be online or typing until we are back. */
  | { type: "disconnected" }
  /** Messages from the socket, which arrive in rev order and so may advance highestRev. */
  | { type: "socketMessages"; messages: Message[] }
  /** `chat:confirmed` from the socket: the chat's plain messages through a seq, confirmed by the clock (rev order). */
  | { type: "chatConfirmed"; event: ChatConfirmed }
  /** Messages fetched over REST or in an ack: their current state, but not proof that earlier revs were seen. */
  | { type: "fetchedMessages"; messages: Message[] }
  | { type: "olderPage"; messages: Message[]; hasMore: boolean }
  /** A page of `GET …/changes` (rev order); `completeRev` once the catch-up is done. */
  | { type: "changesPage"; messages: Message[]; completeRev: number | null }
  | { type: "localAdded"; entries: LocalMessage[] }
  | { type: "localXmtp"; clientId: string; xmtpId: string }
  | { type: "sendAcked"; clientId: string; message: Message }
  | { type: "sendRejected"; clientId: string; error: string }
  | { type: "localRemoved"; clientId: string }
  | { type: "typing"; address: string; typing: boolean; now: number }
  | { type: "tick"; now: number }
  | { type: "presence"; address: string; online: boolean }
  /** v1.2 `receipt` (or our own `mark` ack): a member's positions, which only ever move forward. */
  | { type: "receipt"; positions: Positions }
  | { type: "xmtpReceived"; copy: XmtpCopy };

export const TYPING_TTL_MS = 5000;

export function initialChatState(chatId: string, me: string): ChatState {
  return {
    chatId,
    me,
    chat: null,
    membership: "unknown",
    byId: {},
    idByClientKey: {},
    local: {},
    xmtp: {},
    highestRev: 0,
    catchUp: null,
    oldestSeq: null,
    hasOlder: false,
    typing: {},
    online: [],
    positions: {},
    unreadFrom: null,
    unreadTo: null,
  };
}

const sameAddress = (a: string | null, b: string | null) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
const clientKey = (sender: string, clientId: string) => `${sender.toLowerCase()}/${clientId}`;

/** Folds server copies in; a copy older (lower rev) than the one held is stale and ignored. */
function mergeMessages(state: ChatState, messages: Message[], trackRev: boolean): ChatState {
  let byId = state.byId;
  let idByClientKey = state.idByClientKey;
  let local = state.local;
  let xmtp = state.xmtp;
  let liveRev = 0;
  for (const message of messages) {
    if (message.chat_id !== state.chatId) continue;
    if (trackRev) liveRev = Math.max(liveRev, message.rev);
    const held = byId[message.id];
    if (held && held.rev > message.rev) continue;
    if (held !== message) byId = { ...byId, [message.id]: message };
    const key = clientKey(message.sender, message.client_id);
    if (idByClientKey[key] !== message.id) idByClientKey = { ...idByClientKey, [key]: message.id };
    if (sameAddress(message.sender, state.me) && local[message.client_id]) {
      local = { ...local };
      delete local[message.client_id];
    }
    if (message.xmtp_id && xmtp[message.xmtp_id]) {
      xmtp = { ...xmtp };
      delete xmtp[message.xmtp_id];
    }
  }
  // While a hole is still being paged, a live rev beyond it is applied but is no place to resume from yet.
  const { highestRev, catchUp } = seenLive(state, liveRev);
  if (
    byId === state.byId &&
    local === state.local &&
    xmtp === state.xmtp &&
    highestRev === state.highestRev &&
    catchUp === state.catchUp &&
    idByClientKey === state.idByClientKey
  ) {
    return state;
  }
  return { ...state, byId, idByClientKey, local, xmtp, highestRev, catchUp };
}

/** A held message `chat:confirmed` stands for: provisional, waiting for the clock alone (no payment, no XMTP copy
 * unless deleted), through its seq, and last changed before the confirmation (a newer copy is never touched). */
function confirmedBy(m: Message, event: ChatConfirmed): boolean {
  return (
    m.seq <= event.through_seq &&
    m.status === "provisional" &&
    m.tx === null &&
    (m.xmtp_id === null || m.deleted === true) &&
    m.rev < event.first_rev
  );
}

/** Applies `chat:confirmed` to the messages held; each takes the event's `rev` (its exact one, which history and
 * catch-up give, lies in first_rev..rev: only lower, so later copies still win). The socket's rev moves to it. */
function withConfirmed(state: ChatState, event: ChatConfirmed): ChatState {
  if (event.chat_id !== state.chatId) return state;
  let byId = state.byId;
  for (const m of Object.values(state.byId)) {
    if (!confirmedBy(m, event)) continue;
    if (byId === state.byId) byId = { ...byId };
    byId[m.id] = { ...m, status: "confirmed", source: "fallback", updated_at: event.updated_at, rev: event.rev };
  }
  const { highestRev, catchUp } = seenLive(state, event.rev);
  if (byId === state.byId && highestRev === state.highestRev && catchUp === state.catchUp) return state;
  return { ...state, byId, highestRev, catchUp };
}

const maxRev = (messages: Message[]) => messages.reduce((max, m) => Math.max(max, m.rev), 0);
const minSeq = (messages: Message[]) => messages.reduce((min, m) => Math.min(min, m.seq), Infinity);

/** Positions merged forward only (a late or repeated receipt never moves anyone back); delivered is at least read. */
function withPositions(state: ChatState, incoming: Positions[]): ChatState {
  let positions = state.positions;
  for (const p of incoming) {
    const key = p.address.toLowerCase();
    const held = positions[key];
    const read = Math.max(held?.read_seq ?? 0, p.read_seq);
    const delivered = Math.max(held?.delivered_seq ?? 0, p.delivered_seq, read);
    if (held && held.read_seq === read && held.delivered_seq === delivered) continue;
    positions = { ...positions, [key]: { address: held?.address ?? p.address, read_seq: read, delivered_seq: delivered } };
  }
  return positions === state.positions ? state : { ...state, positions };
}

/** Sending a message moves the sender's both positions to at least its seq (the server does the same). */
function sentByMe(state: ChatState, messages: Message[]): ChatState {
  const mine = messages.filter((m) => m.chat_id === state.chatId && sameAddress(m.sender, state.me));
  if (!mine.length) return state;
  const seq = Math.max(...mine.map((m) => m.seq));
  return withPositions(state, [{ address: state.me, read_seq: seq, delivered_seq: seq }]);
}

function withoutKey<T>(record: Record<string, T>, key: string): Record<string, T> {
  if (!(key in record)) return record;
  const next = { ...record };
  delete next[key];
  return next;
}

function expireTyping(typing: Record<string, number>, now: number): Record<string, number> {
  const live = Object.entries(typing).filter(([, until]) => until > now);
  return live.length === Object.keys(typing).length ? typing : Object.fromEntries(live);
}

export function messagesReducer(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case "restored": {
      const { cached } = action;
      if (state.chat !== null || cached.chat.id !== state.chatId) return state; // a join was first: it is newer
      const next = mergeMessages(state, cached.messages, false);
      const { chat, highestRev, oldestSeq, hasOlder } = cached;
      return { ...next, chat, highestRev, oldestSeq, hasOlder };
    }
    case "serverReset":
      return { ...initialChatState(state.chatId, state.me), local: state.local, xmtp: state.xmtp };
    case "joined": {
      const { ack, sinceRev } = action;
      if (ack.chat.id !== state.chatId) return state;
      const own = ack.chat.read_seq === undefined ? [] : [
        { address: state.me, read_seq: ack.chat.read_seq, delivered_seq: ack.chat.delivered_seq ?? ack.chat.read_seq },
      ];
      const withReceipts = withPositions(mergeMessages(state, ack.changes, false), [...(ack.receipts ?? []), ...own]);
      const base = {
        ...withReceipts,
        chat: ack.chat,
        membership: "member" as const,
        online: [...ack.online],
        unreadFrom: state.unreadFrom ?? ack.chat.read_seq ?? null,
        unreadTo: state.unreadTo ?? ack.chat.last_seq,
      };
      if (sinceRev !== null && ack.has_more) {
        // A cut catch-up: seen without holes only up to the last change; the rest is paged from there. Anything
        // the socket delivered since the join was sent (state.highestRev beyond sinceRev) counts once it is done.
        return { ...base, ...cut(state, sinceRev, ack.changes.at(-1)?.rev) };
      }
      // The ack is a consistent snapshot at chat.rev: nothing up to it is missing.
      const { highestRev } = snapshot(state, Math.max(maxRev(ack.changes), ack.chat.rev));
      if (sinceRev !== null) return { ...base, highestRev, catchUp: null };
      // First join: the latest page; has_more says older history exists below it.
      const lowest = minSeq(ack.changes);
      return {
        ...base,
        highestRev,
        catchUp: null,
        hasOlder: ack.has_more,
        oldestSeq: !ack.has_more ? 0 : Number.isFinite(lowest) ? lowest : null,
      };
    }
    case "notMember":
      return state.membership === "not-member" ? state : { ...state, membership: "not-member", online: [], typing: {} };
    case "chatUpdated": {
      const { chat } = action;
      if (chat.id !== state.chatId) return state;
      const stillIn = chat.members.some((m) => sameAddress(m, state.me));
      if (stillIn) return { ...state, chat, membership: "member" };
      return { ...state, chat, membership: "removed", online: [], typing: {} };
    }
    case "chatRemoved":
      if (action.chatId !== state.chatId || state.membership === "removed") return state;
      return { ...state, membership: "removed", online: [], typing: {} };
    case "disconnected":
      return state.online.length === 0 && Object.keys(state.typing).length === 0 ? state : { ...state, online: [], typing: {} };
    case "socketMessages":
      return sentByMe(mergeMessages(state, action.messages, true), action.messages);
    case "chatConfirmed":
      return withConfirmed(state, action.event);
    case "fetchedMessages":
      return mergeMessages(state, action.messages, false);
    case "olderPage": {
      const next = mergeMessages(state, action.messages, false);
      const lowest = Math.min(state.oldestSeq ?? Infinity, minSeq(action.messages));
      const oldestSeq = !action.hasMore ? 0 : Number.isFinite(lowest) ? lowest : state.oldestSeq;
      return { ...next, hasOlder: action.hasMore, oldestSeq };
    }
    case "changesPage": {
      const next = mergeMessages(state, action.messages, false);
      if (!state.catchUp) return next;
      return { ...next, ...paged(state, action.messages.at(-1)?.rev ?? 0, action.completeRev) };
    }
    case "localAdded": {
      let local = state.local;
      for (const entry of action.entries) {
        if (entry.chat_id !== state.chatId || local[entry.client_id]) continue;
        // An outbox entry the server already acknowledged (the page closed before it was removed) is not pending.
        if (state.idByClientKey[clientKey(entry.sender, entry.client_id)]) continue;
        local = { ...local, [entry.client_id]: entry };
      }
      return local === state.local ? state : { ...state, local };
    }
    case "localXmtp": {
      const entry = state.local[action.clientId];
      if (!entry) return state;
      return { ...state, local: { ...state.local, [action.clientId]: { ...entry, xmtp_id: action.xmtpId } } };
    }
    case "sendAcked":
      return sentByMe(
        mergeMessages({ ...state, local: withoutKey(state.local, action.clientId) }, [action.message], false),
        [action.message],
      );
    case "sendRejected": {
      const entry = state.local[action.clientId];
      if (!entry) return state;
      return { ...state, local: { ...state.local, [action.clientId]: { ...entry, error: action.error } } };
    }
    case "localRemoved": {
      const local = withoutKey(state.local, action.clientId);
      return local === state.local ? state : { ...state, local };
    }
    case "typing": {
      if (sameAddress(action.address, state.me)) return state;
      const typing = action.typing
        ? { ...state.typing, [action.address]: action.now + TYPING_TTL_MS }
        : withoutKey(state.typing, action.address);
      return typing === state.typing ? state : { ...state, typing };
    }
    case "tick": {
      const typing = expireTyping(state.typing, action.now);
      return typing === state.typing ? state : { ...state, typing };
    }
    case "presence": {
      const has = state.online.some((a) => sameAddress(a, action.address));
      if (has === action.online) return state;
      const online = action.online
        ? [...state.online, action.address]
        : state.online.filter((a) => !sameAddress(a, action.address));
      return { ...state, online };
    }
    case "receipt":
      return withPositions(state, [action.positions]);
    case "xmtpReceived": {
      const { copy } = action;
      if (copy.chat_id !== state.chatId || state.xmtp[copy.xmtp_id]) return state;
      if (Object.values(state.byId).some((m) => m.xmtp_id === copy.xmtp_id)) return state;
      return { ...state, xmtp: { ...state.xmtp, [copy.xmtp_id]: copy } };
    }
  }
}

// ---- Selectors ----

export type DisplayStatus = "sending" | ServerStatus;

/** One bubble, whatever copies it came from. */
export interface ViewMessage {
  key: string;
  client_id: string;
  id: string | null;
  seq: number | null;
  sender: string;
  body: string;
  tx: Tx | null;
  status: DisplayStatus;
  source: Message["source"] | null;
  reason: string | null;
  original: Message["original"];
  xmtp_bound: boolean;
  sent_at: number;
  error: string | null;
  reply_to: string | null;
  reactions: Record<string, string[]>;
  reaction_counts: Record<string, number>;
  deleted: boolean;
}

const NO_REACTIONS: Record<string, never> = {};

function fromServer(m: Message): ViewMessage {
  return {
    key: m.id,
    client_id: m.client_id,
    id: m.id,
    seq: m.seq,
    sender: m.sender,
    body: m.body,
    tx: m.tx,
    status: m.status,
    source: m.source,
    reason: m.reason,
    original: m.original,
    xmtp_bound: m.xmtp_bound,
    sent_at: m.sent_at,
    error: null,
    reply_to: m.reply_to ?? null,
    reactions: m.reactions ?? NO_REACTIONS,
    reaction_counts: m.reaction_counts ?? countsOf(m.reactions),
    deleted: m.deleted ?? false,
  };
}

/** A server that sends reactions without totals: each emoji counts its listed reactors. */
function countsOf(reactions: Record<string, string[]> | undefined): Record<string, number> {
  if (!reactions) return NO_REACTIONS;
  return Object.fromEntries(Object.entries(reactions).map(([emoji, who]) => [emoji, who.length]));
}

function fromLocal(m: LocalMessage): ViewMessage {
  return {
    key: `local:${m.client_id}`,
    client_id: m.client_id,
    id: null,
    seq: null,
    sender: m.sender,
    body: m.body,
    tx: m.tx,
    status: "sending",
    source: null,
    reason: null,
    original: null,
    xmtp_bound: false,
    sent_at: m.created_at,
    error: m.error ?? null,
    reply_to: m.reply_to ?? null,
    reactions: NO_REACTIONS,
    reaction_counts: NO_REACTIONS,
    deleted: false,
  };
}

/** An XMTP copy stands in for the server copy until one appears; until then it is provisional. */
function fromXmtp(m: XmtpCopy): ViewMessage {
  return {
    key: `xmtp:${m.xmtp_id}`,
    client_id: m.xmtp_id,
    id: null,
    seq: null,
    sender: m.sender ?? "",
    body: m.body,
    tx: null,
    status: "provisional",
    source: "xmtp",
    reason: null,
    original: null,
    xmtp_bound: false,
    sent_at: m.sent_at,
    error: null,
    reply_to: null,
    reactions: NO_REACTIONS,
    reaction_counts: NO_REACTIONS,
    deleted: false,
  };
}

/** The server holds the same text from the same sender, not yet linked to an XMTP id: the same message. */
function hasServerTwin(copy: XmtpCopy, server: Message[]): boolean {
  return server.some(
    (m) => m.xmtp_id === copy.xmtp_id || (!m.xmtp_id && m.body === copy.body && sameAddress(m.sender, copy.sender)),
  );
}

/** Bubbles in display order: server messages by seq, then XMTP-only copies, then ours still sending. */
export function selectMessages(state: ChatState): ViewMessage[] {
  const floor = state.oldestSeq ?? 0;
  const held = Object.values(state.byId);
  const server = held.filter((m) => m.seq >= floor).sort((a, b) => a.seq - b.seq);
  const xmtp = Object.values(state.xmtp)
    .filter((copy) => !hasServerTwin(copy, held))
    .sort((a, b) => a.sent_at - b.sent_at);
  const local = Object.values(state.local).sort((a, b) => a.created_at - b.created_at);
  return [...server.map(fromServer), ...xmtp.map(fromXmtp), ...local.map(fromLocal)];
}

/** What the history cache keeps of a chat: its latest `limit` messages of the loaded window, or null before the
 * first join (nothing consistent to keep yet). */
export function cachedWindow(state: ChatState, limit = 200): CachedChat | null {
  if (state.chat === null || state.oldestSeq === null) return null;
  const floor = state.oldestSeq;
  const window = Object.values(state.byId)
    .filter((m) => m.seq >= floor)
    .sort((a, b) => a.seq - b.seq);
  const messages = window.slice(-limit);
  const cut = window.length > limit;
  return {
    chat: state.chat,
    messages,
    highestRev: state.highestRev,
    oldestSeq: cut ? (messages[0]?.seq ?? floor) : floor,
    hasOlder: cut || state.hasOlder,
  };
}

/** Other members typing right now (expired flags are dropped by the "tick" action). */
export function selectTyping(state: ChatState): string[] {
  return Object.keys(state.typing).filter((address) => !sameAddress(address, state.me));
}

export function isOnline(state: ChatState, address: string): boolean {
  return state.online.some((a) => sameAddress(a, address));
}

/** The seq older history is paged below (`before=`): the oldest of the loaded window, not of every copy held. */
export function lowestSeq(state: ChatState): number | null {
  return state.oldestSeq;
}
