// The chat list, page by page (GET /api/chats with a cursor): pages are appended in order, a chat seen on an
// earlier page (it moved up while paging) is not shown twice.
import type { Chat, ChatPage } from "./types";

export interface ChatListState {
  chats: Chat[];
  /** Where the next page starts; null when there is none. */
  cursor: string | null;
}

/** A server without paging answers `{chats}` alone: one page, nothing after it. */
export function readPage(page: Partial<ChatPage> & { chats: Chat[] }): ChatPage {
  return { chats: page.chats, has_more: page.has_more ?? false, next_cursor: page.has_more ? (page.next_cursor ?? null) : null };
}

export function firstPage(page: ChatPage): ChatListState {
  return appendPage({ chats: [], cursor: null }, page);
}

export function appendPage(state: ChatListState, page: ChatPage): ChatListState {
  const seen = new Set(state.chats.map((c) => c.id));
  return { chats: [...state.chats, ...page.chats.filter((c) => !seen.has(c.id))], cursor: page.has_more ? page.next_cursor : null };
}
