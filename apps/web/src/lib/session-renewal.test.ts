import { describe, expect, it } from "vitest";
import type { Session } from "./session";
import { renewalDelay, renewalDueAt } from "./session-renewal";

const DAY = 86_400_000;
const session = (issued_at: number | undefined, expires_at: number): Session => ({
  token: "t",
  address: "0x1111111111111111111111111111111111111111",
  wallet: "minipay",
  expires_at,
  ...(issued_at === undefined ? {} : { issued_at }),
});

describe("session renewal timing", () => {
  it("is due halfway through the token's lifetime", () => {
    expect(renewalDueAt(session(1000, 1000 + DAY))).toBe(1000 + DAY / 2);
  });

  it("waits until halfway, then renews at once", () => {
    const s = session(0, DAY);
    expect(renewalDelay(s, DAY / 4)).toBe(DAY / 4);
    expect(renewalDelay(s, DAY / 2)).toBe(0);
    expect(renewalDelay(s, DAY - 1)).toBe(0);
  });

  it("renews at once a session whose issue time is unknown (stored before renewals existed)", () => {
    expect(renewalDelay(session(undefined, 10 * DAY), 1)).toBe(0);
  });

  it("gives up on an expired token: only signing in again helps", () => {
    expect(renewalDelay(session(0, DAY), DAY)).toBeNull();
  });

  it("never asks a timer for longer than it can wait", () => {
    expect(renewalDelay(session(0, 120 * DAY), 0)).toBe(2 ** 31 - 1);
  });
});
