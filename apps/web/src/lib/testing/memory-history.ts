// The history cache in memory, for tests: what was saved, and what a test put there beforehand.
import type { CachedChat, History } from "../history";

export function memoryHistory(cached: CachedChat[] = []): History & { saved: CachedChat[] } {
  const held = new Map(cached.map((c) => [c.chat.id, c]));
  const saved: CachedChat[] = [];
  return {
    saved,
    load: async (_owner, chatId) => held.get(chatId) ?? null,
    save: async (_owner, c) => {
      saved.push(c);
      held.set(c.chat.id, c);
    },
    forget: async () => held.clear(),
  };
}
