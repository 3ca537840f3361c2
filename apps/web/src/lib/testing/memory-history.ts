// The history cache in memory, for tests: what was saved, and what a test put there beforehand (for `owner`).
import type { CachedChat, History } from "../history";

export function memoryHistory(owner = "", cached: CachedChat[] = []): History & { saved: CachedChat[] } {
  const key = (who: string, chatId: string) => `${who.toLowerCase()}/${chatId}`;
  const held = new Map(cached.map((c) => [key(owner, c.chat.id), c]));
  const saved: CachedChat[] = [];
  return {
    saved,
    load: async (who, chatId) => held.get(key(who, chatId)) ?? null,
    save: async (who, c) => {
      saved.push(c);
      held.set(key(who, c.chat.id), c);
    },
    remove: async (who, chatId) => void held.delete(key(who, chatId)),
    forget: async (who) => {
      for (const k of [...held.keys()]) if (k.startsWith(key(who, ""))) held.delete(k);
    },
  };
}
