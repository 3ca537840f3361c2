import type { Chat } from "./types";

/** A DM's two members never change (docs/protocol.md); anything else is a group. */
export function isDm(chat: Pick<Chat, "id">): boolean {
  return chat.id.startsWith("dm:");
}

/** The chat's title, else the names of the others in it. */
export function chatTitle(chat: Chat, me: string, nameOf: (address: string) => string): string {
  if (chat.title) return chat.title;
  const others = chat.members.filter((m) => m.toLowerCase() !== me.toLowerCase());
  return others.length ? others.map(nameOf).join(", ") : "Only you";
}
