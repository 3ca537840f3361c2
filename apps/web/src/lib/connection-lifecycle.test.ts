import { describe, expect, it } from "vitest";
import { initialLifecycle, maySend, transition, type Lifecycle, type LifecycleEvent } from "./connection-lifecycle";

const run = (...events: LifecycleEvent[]): Lifecycle => events.reduce(transition, initialLifecycle);
const notes = { ending: false, signedOut: false, refreshed: false };

describe("ChatConnection's lifecycle", () => {
  it("starts live, and may send", () => {
    expect(initialLifecycle).toEqual({ kind: "live", ...notes });
    expect(maySend(initialLifecycle)).toBe(true);
  });

  it("refreshes once per connect, sending nothing meanwhile", () => {
    const refreshing = run({ type: "refreshStarted" });
    expect(refreshing).toEqual({ kind: "refreshing", ...notes, refreshed: true });
    expect(maySend(refreshing)).toBe(false);
    const renewed = transition(refreshing, { type: "refreshEnded", renewed: true });
    expect(renewed).toEqual({ kind: "live", ...notes, refreshed: true });
    // A second refusal before the socket connected again is not refreshed silently.
    expect(transition(renewed, { type: "refreshStarted" })).toBe(renewed);
    expect(run({ type: "refreshStarted" }, { type: "refreshEnded", renewed: true }, { type: "connected" }, { type: "refreshStarted" }).kind).toBe("refreshing");
  });

  it("expires when no new session could be had, and resumes with a newer one", () => {
    const expired = run({ type: "refreshStarted" }, { type: "refreshEnded", renewed: false });
    expect(expired.kind).toBe("expired");
    expect(maySend(expired)).toBe(false);
    expect(run({ type: "authFailed" }).kind).toBe("expired");
    expect(transition(expired, { type: "sessionChanged" })).toEqual({ kind: "live", ...notes });
  });

  it("refreshes nothing silently after a sign-out", () => {
    const signedOut = run({ type: "sessionEnding", signedOut: true });
    expect(signedOut).toEqual({ kind: "live", ...notes, ending: true, signedOut: true });
    expect(transition(signedOut, { type: "refreshStarted" })).toBe(signedOut);
    // A connect ends the ending, not the sign-out; a newer session ends both.
    const connected = transition(signedOut, { type: "connected" });
    expect(connected).toEqual({ kind: "live", ...notes, signedOut: true });
    expect(transition(connected, { type: "sessionChanged" })).toEqual({ kind: "live", ...notes });
  });

  it("rejects what does not fit the state", () => {
    const expired = run({ type: "authFailed" });
    expect(transition(expired, { type: "refreshStarted" })).toBe(expired);
    expect(transition(expired, { type: "refreshEnded", renewed: true })).toBe(expired);
    expect(transition(expired, { type: "authFailed" })).toBe(expired);
    const refreshing = run({ type: "refreshStarted" });
    expect(transition(refreshing, { type: "authFailed" })).toBe(refreshing);
    expect(transition(refreshing, { type: "sessionChanged" }).kind).toBe("refreshing");
    expect(transition(initialLifecycle, { type: "refreshEnded", renewed: false })).toBe(initialLifecycle);
  });

  it("stays closed whatever comes after stop", () => {
    const closed = run({ type: "stopped" });
    expect(closed).toEqual({ kind: "closed" });
    expect(maySend(closed)).toBe(false);
    const events: LifecycleEvent[] = [
      { type: "connected" },
      { type: "sessionEnding", signedOut: false },
      { type: "refreshStarted" },
      { type: "refreshEnded", renewed: true },
      { type: "authFailed" },
      { type: "sessionChanged" },
      { type: "stopped" },
    ];
    for (const event of events) expect(transition(closed, event)).toBe(closed);
  });

  it("has no session notes once closed (by type)", () => {
    const closed = run({ type: "stopped" });
    // @ts-expect-error a closed connection has no session to note anything of
    expect(closed.ending).toBeUndefined();
  });
});
