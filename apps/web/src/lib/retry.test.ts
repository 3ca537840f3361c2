import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RETRY_MS, retryDelay, Retryer } from "./retry";

describe("retryDelay", () => {
  it("waits what the server asked for on a refusal worth retrying", () => {
    expect(retryDelay({ code: "rate_limited", retry_after_ms: 2500 })).toBe(2500);
  });

  it("waits the default when the server did not say", () => {
    for (const code of ["rate_limited", "unavailable", "internal"]) expect(retryDelay({ code })).toBe(RETRY_MS);
  });

  it("does not retry a final refusal", () => {
    for (const code of ["forbidden", "not_found", "invalid", "unauthorized"]) expect(retryDelay({ code })).toBeNull();
  });
});

describe("Retryer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("retries once, after the delay, and waits until then", () => {
    const retry = vi.fn();
    const retryer = new Retryer(retry);
    expect(retryer.waiting).toBe(false);
    retryer.after(1000);
    expect(retryer.waiting).toBe(true);
    vi.advanceTimersByTime(999);
    expect(retry).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(retry).toHaveBeenCalledTimes(1);
    expect(retryer.waiting).toBe(false);
    vi.advanceTimersByTime(10_000);
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it("is no longer waiting when its retry runs (the retry may ask for another)", () => {
    let retryer: Retryer | null = null;
    const seen: boolean[] = [];
    retryer = new Retryer(() => seen.push(retryer!.waiting));
    retryer.after(10);
    vi.advanceTimersByTime(10);
    expect(seen).toEqual([false]);
  });

  it("keeps only the newest retry", () => {
    const retry = vi.fn();
    const retryer = new Retryer(retry);
    retryer.after(1000);
    retryer.after(3000);
    vi.advanceTimersByTime(2000);
    expect(retry).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(retry).toHaveBeenCalledTimes(1);
  });

  it("drops a cancelled retry", () => {
    const retry = vi.fn();
    const retryer = new Retryer(retry);
    retryer.after(1000);
    retryer.cancel();
    expect(retryer.waiting).toBe(false);
    vi.advanceTimersByTime(5000);
    expect(retry).not.toHaveBeenCalled();
  });
});
