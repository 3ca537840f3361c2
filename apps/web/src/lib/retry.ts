// The send pump's retrying, on its own: which refusals are worth sending again, after how long, and the one timer
// that waits it out (the pump sends nothing while it runs, so a retried message stays ahead of those behind it).
import type { WireError } from "./types";

/** A send timed out on a live connection, or was refused without saying how long to wait: try again this much later. */
export const RETRY_MS = 1000;
/** Codes worth sending the same message again for; anything else is a final refusal. */
const RETRYABLE = new Set(["rate_limited", "unavailable", "internal"]);

/** How long to wait before sending again after this refusal; null when it is final. */
export function retryDelay(error: Pick<WireError, "code" | "retry_after_ms">): number | null {
  return RETRYABLE.has(error.code) ? (error.retry_after_ms ?? RETRY_MS) : null;
}

/** One pending retry at a time: `after` replaces any earlier one, `cancel` drops it. */
export class Retryer {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly retry: () => void) {}

  /** A retry is waiting: nothing is sent meanwhile. */
  get waiting(): boolean {
    return this.timer !== undefined;
  }

  after(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retry();
    }, delayMs);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
