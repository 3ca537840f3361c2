// A chat's position in its stream of revs: the highest rev seen with nothing missing below it, the place to resume
// from after a reconnect (after Synapse's stream tokens and centrifuge's StreamPosition). While a hole is paged over
// REST (a cut catch-up), revs seen live beyond it wait until the hole is closed.

/** A hole being paged: its cursor is the position meanwhile. */
export interface CatchUp {
  /** Last rev paged so far: everything up to it is seen. */
  cursor: number;
  /** Highest rev seen on the socket meanwhile (or before the cut ack): counts once the catch-up completes. */
  liveMax: number;
}

export interface StreamPosition {
  /** Highest rev known to be seen completely, without holes (the catch-up's cursor while one is open). */
  highestRev: number;
  /** An open catch-up, else null. */
  catchUp: CatchUp | null;
}

/** A rev seen live (the socket delivers in rev order): the new position, or while a hole is paged the same one with
 * the rev remembered for when it closes. Unchanged, the same object comes back. */
export function seenLive<P extends StreamPosition>(position: P, rev: number): P | StreamPosition {
  const highest = Math.max(position.highestRev, rev);
  const { catchUp } = position;
  if (!catchUp) return highest === position.highestRev ? position : { highestRev: highest, catchUp };
  if (highest <= catchUp.liveMax) return position;
  return { highestRev: position.highestRev, catchUp: { ...catchUp, liveMax: highest } };
}

/** A consistent snapshot through `rev` (a join's full answer, or a catch-up done): nothing up to it is missing. */
export function snapshot(position: StreamPosition, rev: number): StreamPosition {
  return { highestRev: Math.max(position.highestRev, position.catchUp?.liveMax ?? 0, rev), catchUp: null };
}

/** A join cut short: seen without holes from `from` through `pagedTo`; the rest is paged from there, and what was
 * seen live so far counts once that is done. */
export function cut(position: StreamPosition, from: number, pagedTo: number | undefined): StreamPosition {
  const cursor = Math.max(from, pagedTo ?? from);
  const liveMax = Math.max(position.catchUp?.liveMax ?? 0, position.highestRev);
  return { highestRev: cursor, catchUp: { cursor, liveMax } };
}

/** A page of the catch-up through `rev`; `completeRev` once the hole is paged, which closes it. */
export function paged(position: StreamPosition, rev: number, completeRev: number | null): StreamPosition {
  const { catchUp } = position;
  if (!catchUp) return position;
  const cursor = Math.max(catchUp.cursor, rev);
  if (completeRev === null) return { highestRev: cursor, catchUp: { ...catchUp, cursor } };
  return snapshot(position, Math.max(cursor, completeRev));
}
