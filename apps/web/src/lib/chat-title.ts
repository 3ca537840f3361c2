import type { Chat } from "./types";

/** A DM's two members never change (docs/protocol.md); anything else is a group. */
export function isDm(chat: Pick<Chat, "id">): boolean {
  return chat.id.startsWith("dm:");
}

/** Names an untitled chat shows before "and N more": a header has room for two whole names, not for every one. */
const NAMED = 2;

/** The chat's title, else the names of the others in it (at most two, then how many more: never cut mid-name). */
export function chatTitle(chat: Chat, me: string, nameOf: (address: string) => string): string {
  if (chat.title) return chat.title;
  const others = chat.members.filter((m) => m.toLowerCase() !== me.toLowerCase());
  if (!others.length) return "Only you";
  const named = others.slice(0, others.length > NAMED + 1 ? NAMED : NAMED + 1).map(nameOf);
  const more = others.length - named.length;
  return more ? `${named.join(", ")} and ${more} more` : named.join(", ");
}
