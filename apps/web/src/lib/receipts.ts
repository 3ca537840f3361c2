// Read and delivered positions (contract v1.2) turned into what a chat shows and what it marks: the ticks of our
// messages (✓ acknowledged, ✓✓ delivered, ✓✓ read), who has seen one in a group, the "N new messages" divider, and
// the next `mark` due. Pure functions over the reducer's state.
import type { ChatState, ViewMessage } from "./messages-reducer";
import type { Positions } from "./types";

export type Tick = "sent" | "delivered" | "read";

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The positions of the other current members (a member who left no longer counts). */
function othersPositions(state: ChatState): Positions[] {
  const members = state.chat?.members;
  return Object.values(state.positions).filter(
    (p) => !same(p.address, state.me) && (!members || members.some((m) => same(m, p.address))),
  );
}

/** How far our message at `seq` got: read by someone, delivered to someone's device, or acknowledged by the server. */
export function tickOf(state: ChatState, seq: number): Tick {
  const others = othersPositions(state);
  if (others.some((p) => p.read_seq >= seq)) return "read";
  if (others.some((p) => p.delivered_seq >= seq)) return "delivered";
  return "sent";
}

/** Who else has read the message at `seq` (those who share receipts). */
export function readersOf(state: ChatState, seq: number): string[] {
  return othersPositions(state)
    .filter((p) => p.read_seq >= seq)
    .map((p) => p.address);
}

/** Where the "N new messages" divider goes: before the first message after our read position when we opened the
 * chat, counting the others' messages that were unread then and are not deleted (not those that came while the
 * chat was open); null when nothing was unread. */
export function unreadDivider(state: ChatState, messages: ViewMessage[]): { beforeKey: string; count: number } | null {
  const { unreadFrom: from, unreadTo: to } = state;
  if (from === null || to === null) return null;
  const unread = messages.filter(
    (m) => m.seq !== null && m.seq > from && m.seq <= to && !same(m.sender, state.me) && !m.deleted,
  );
  const first = unread[0];
  return first ? { beforeKey: first.key, count: unread.length } : null;
}

export interface MarkRequest {
  read_seq?: number;
  delivered_seq?: number;
}

/** The `mark` due now: delivered up to the newest message this device holds, read up to `seenSeq` (the newest one
 * seen on screen with the page in the foreground); null when our positions are there already or were asked for. */
export function markDue(state: ChatState, seenSeq: number, asked: MarkRequest): MarkRequest | null {
  const held = Object.values(state.byId).reduce((max, m) => Math.max(max, m.seq), 0);
  const mine = state.positions[state.me.toLowerCase()];
  const read = Math.min(seenSeq, held);
  const delivered = Math.max(held, read);
  const request: MarkRequest = {};
  if (read > (mine?.read_seq ?? 0) && read > (asked.read_seq ?? 0)) request.read_seq = read;
  if (delivered > (mine?.delivered_seq ?? 0) && delivered > (asked.delivered_seq ?? 0)) request.delivered_seq = delivered;
  return request.read_seq === undefined && request.delivered_seq === undefined ? null : request;
}
