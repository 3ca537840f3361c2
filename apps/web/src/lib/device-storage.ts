// This tab's one IndexedDB connection, shared by the outbox and the history cache.
import { database } from "./db";
import { openHistory, type History } from "./history";
import { openOutbox, type Outbox } from "./outbox";
import { parseSession, readSessionRaw, type Session } from "./session";

let shared: { outbox: Outbox; history: History } | null = null;

export function deviceStorage(): { outbox: Outbox; history: History } {
  if (!shared) {
    const db = database();
    shared = { outbox: openOutbox(db), history: openHistory(db) };
  }
  return shared;
}

/** The history cache as one session (and its renewals) may write it: not at all once it has ended (signed out here
 * or in another tab), so that a chat closing after the sign-out cannot put back what the sign-out forgot. */
export function historyOf(session: Session): History {
  const history = deviceStorage().history;
  const current = () => parseSession(readSessionRaw())?.address.toLowerCase() === session.address.toLowerCase();
  return { ...history, save: (owner, cached) => (current() ? history.save(owner, cached) : Promise.resolve()) };
}
