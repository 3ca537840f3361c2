// The chat list kept alive between two reads of `GET /api/chats` (contract v1.2): `chat:update` puts a chat in (or
// refreshes it), `chat:removed` takes it out, `chat:activity` moves it to the top with its latest message and counts
// it unread when it is someone else's, and our own `receipt` (another device read on) lowers the count; what the
// list shows of others' messages has reached this device (`undelivered`). Pure functions; a stale or repeated event
// (a rev already held) changes nothing.
import type { ChatListState } from "./chat-pages";
import type { Chat, ChatActivity, ReceiptEvent } from "./types";

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** At the top: what just happened in it is the newest thing in the list. */
function toTop(list: ChatListState, chat: Chat): ChatListState {
  return { ...list, chats: [chat, ...list.chats.filter((c) => c.id !== chat.id)] };
}

/** A chat we were added to (at the top), or one whose members or title changed (in its place). */
export function chatUpdated(list: ChatListState, chat: Chat): ChatListState {
  const at = list.chats.findIndex((c) => c.id === chat.id);
  if (at < 0) return toTop(list, chat);
  const chats = [...list.chats];
  chats[at] = { ...list.chats[at], ...chat };
  return { ...list, chats };
}

export function chatRemoved(list: ChatListState, chatId: string): ChatListState {
  const chats = list.chats.filter((c) => c.id !== chatId);
  return chats.length === list.chats.length ? list : { ...list, chats };
}

/** A new message in one of our chats (or its latest deleted); null when the chat is not in the list (it is read
 * from the server then). */
export function chatActivity(list: ChatListState, event: ChatActivity, me: string): ChatListState | null {
  const held = list.chats.find((c) => c.id === event.chat_id);
  if (!held) return null;
  if (event.rev <= held.rev) return list;
  const message = event.last_message;
  const read = held.read_seq ?? 0;
  const fresh = event.last_seq > held.last_seq;
  let unread = held.unread ?? 0;
  let positions: Partial<Chat> = {};
  if (same(message.sender, me)) {
    // Sending moves our positions to it: nothing before it is unread any more.
    const seq = Math.max(read, message.seq);
    positions = { read_seq: seq, delivered_seq: Math.max(held.delivered_seq ?? 0, seq) };
    unread = 0;
  } else if (message.seq > read) {
    if (fresh && !message.deleted) unread += 1;
    else if (!fresh && message.deleted && held.last_message && !held.last_message.deleted) unread = Math.max(0, unread - 1);
  }
  const chat: Chat = { ...held, ...positions, last_seq: Math.max(held.last_seq, event.last_seq), rev: event.rev, last_message: message, unread };
  return fresh ? toTop(list, chat) : chatUpdated(list, chat);
}

/** Our own positions moved (read on another device, or in a chat open here): what is read is no longer unread. */
export function ownReceipt(list: ChatListState, event: ReceiptEvent, me: string): ChatListState {
  const held = list.chats.find((c) => c.id === event.chat_id);
  if (!held || !same(event.address, me) || event.read_seq <= (held.read_seq ?? 0)) return list;
  const left = Math.max(0, held.last_seq - event.read_seq);
  const unread = Math.min(held.unread ?? 0, left);
  return chatUpdated(list, { ...held, read_seq: event.read_seq, delivered_seq: Math.max(held.delivered_seq ?? 0, event.delivered_seq), unread });
}

/** The chats whose latest message, someone else's, has reached this device (the list shows it) past our delivered
 * position: each with the `delivered_seq` to mark. */
export function undelivered(list: ChatListState, me: string): { chat_id: string; delivered_seq: number }[] {
  return list.chats.flatMap((chat) => {
    const last = chat.last_message;
    if (!last || last.deleted || same(last.sender, me) || (chat.delivered_seq ?? 0) >= chat.last_seq) return [];
    return [{ chat_id: chat.id, delivered_seq: chat.last_seq }];
  });
}
