// Mirroring an XMTP conversation into a server chat under the same id — only ever into one with the same members.
// The server answers `conflict` when the id is registered with another member set (docs/protocol.md); a server chat
// that lacks some of the XMTP group's members is completed, anything else stays on XMTP alone.
import { api, ApiError } from "./api";

const lower = (addresses: readonly string[]) => new Set(addresses.map((a) => a.toLowerCase()));

export function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const left = lower(a);
  const right = lower(b);
  return left.size === right.size && [...left].every((m) => right.has(m));
}

export type MirrorPlan = { kind: "same" } | { kind: "add"; missing: string[] } | { kind: "xmtp-only" };

/** What to do about a server chat with `serverMembers` (unknown when the server would not tell: we are not in it)
 * for an XMTP conversation with `xmtpMembers`. */
export function planMirror(xmtpMembers: readonly string[], serverMembers: readonly string[] | undefined): MirrorPlan {
  if (!serverMembers) return { kind: "xmtp-only" };
  if (sameMembers(xmtpMembers, serverMembers)) return { kind: "same" };
  const server = lower(serverMembers);
  const xmtp = lower(xmtpMembers);
  if (![...server].every((m) => xmtp.has(m))) return { kind: "xmtp-only" };
  return { kind: "add", missing: xmtpMembers.filter((m) => !server.has(m.toLowerCase())) };
}

export type Mirrored = "mirrored" | "xmtp-only";

/** Registers the XMTP conversation `id` (all its members, ourselves included) with the server, reconciling a
 * registration that lacks members; "xmtp-only" when the server's chat under that id has other people in it. */
export async function mirrorConversation(token: string, id: string, members: string[]): Promise<Mirrored> {
  try {
    await api.createChat(token, { id, members });
    return "mirrored";
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "conflict") throw error;
    const plan = planMirror(members, error.wire?.members);
    if (plan.kind === "xmtp-only") return "xmtp-only";
    // As in the XMTP group (MLS), members added later do not get the messages from before they were added.
    if (plan.kind === "add") await api.addMembers(token, id, plan.missing, false);
    return "mirrored";
  }
}
