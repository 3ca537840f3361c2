// This tab's one IndexedDB connection, shared by the outbox and the history cache.
import { database } from "./db";
import { openHistory, type History } from "./history";
import { openOutbox, type Outbox } from "./outbox";

let shared: { outbox: Outbox; history: History } | null = null;

export function deviceStorage(): { outbox: Outbox; history: History } {
  if (!shared) {
    const db = database();
    shared = { outbox: openOutbox(db), history: openHistory(db) };
  }
  return shared;
}
