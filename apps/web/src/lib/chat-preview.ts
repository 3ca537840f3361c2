// One line of the chat list under a chat's name: its latest message as a messenger shows it ("You: …" for ours, the
// sender's name in a group, "This message was deleted"), and when it came.
import { isDm } from "./chat-title";
import { counted } from "./format";
import type { Chat } from "./types";

export interface Preview {
  text: string;
  /** When the latest message was sent; null without one. */
  at: number | null;
  deleted: boolean;
}

export const DELETED_TEXT = "This message was deleted";

export function previewOf(chat: Chat, me: string, nameOf: (address: string) => string): Preview {
  const last = chat.last_message;
  if (!last) {
    // A v1.1 server tells no latest message: how many there are is all there is to say.
    return { text: chat.last_seq ? counted(chat.last_seq, "message") : "No messages yet", at: null, deleted: false };
  }
  const body = last.deleted ? DELETED_TEXT : last.body.replace(/\s+/g, " ").trim();
  const who = last.sender.toLowerCase() === me.toLowerCase() ? "You: " : isDm(chat) ? "" : `${nameOf(last.sender)}: `;
  return { text: `${who}${body}`, at: last.sent_at, deleted: !!last.deleted };
}

/** The time for a list row: the hour today, the weekday within a week, else the date. */
export function listTime(at: number, now: number = Date.now()): string {
  const then = new Date(at);
  const today = new Date(now);
  if (then.toDateString() === today.toDateString()) return then.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (now - at < 6 * 24 * 3600 * 1000) return then.toLocaleDateString([], { weekday: "short" });
  return then.toLocaleDateString([], { day: "numeric", month: "short" });
}

/** The unread badge's text: up to 99, then "99+" (the server counts exactly up to 999). */
export function unreadBadge(unread: number | undefined): string | null {
  if (!unread) return null;
  return unread > 99 ? "99+" : String(unread);
}
