// Keeping a session alive without signing in again (MiniPay signs in by transaction, which costs a fee): the token
// is renewed once less than half its lifetime is left — on app open and on a timer — while it is still valid.
import type { Session } from "./session";

/** After a failed renewal that may succeed later (the server was away), try again this much later. */
export const RENEW_RETRY_MS = 60_000;
/** setTimeout holds at most 2^31 - 1 ms; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** When the token is due for renewal: halfway through its lifetime (at once when the issue time is unknown). */
export function renewalDueAt(session: Session): number {
  const issued = session.issued_at;
  return issued === undefined ? 0 : issued + (session.expires_at - issued) / 2;
}

/** How long to wait before renewing: 0 when due now, null when renewing cannot help (the token has expired, or the
 * server would not extend it: only a new sign-in helps). */
export function renewalDelay(session: Session, now: number): number | null {
  if (session.expires_at <= now || session.final) return null;
  return Math.min(MAX_TIMER_MS, Math.max(0, renewalDueAt(session) - now));
}
