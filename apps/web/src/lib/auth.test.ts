// Renewing a session against the server (mocked): what the answer may and may not change on this device.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renew } from "./auth";
import { parseSession, readSessionRaw, saveSession, type Session } from "./session";
import { renewalDelay } from "./session-renewal";

const rest = vi.hoisted(() => ({ renew: vi.fn() }));
vi.mock("./api", async (importOriginal) => ({ ...(await importOriginal<typeof import("./api")>()), api: rest }));

const ADDRESS = "0x1111111111111111111111111111111111111111";
const HOUR = 3_600_000;
const stored = () => parseSession(readSessionRaw());

beforeEach(() => {
  const items = new Map<string, string>();
  vi.stubGlobal("window", {
    localStorage: {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
      removeItem: (k: string) => void items.delete(k),
    },
    dispatchEvent: () => true,
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
  rest.renew.mockReset();
});

function signedIn(expiresIn = 10 * HOUR): Session {
  const session: Session = { token: "old", address: ADDRESS, expires_at: Date.now() + expiresIn, issued_at: Date.now() - 14 * HOUR, wallet: "minipay" };
  saveSession(session);
  return session;
}

describe("renew", () => {
  it("keeps the fresh token and when it was issued", async () => {
    const session = signedIn();
    rest.renew.mockResolvedValue({ token: "new", address: ADDRESS, expires_at: Date.now() + 24 * HOUR });
    expect(await renew(session)).toMatchObject({ token: "new", wallet: "minipay" });
    expect(stored()).toMatchObject({ token: "new", wallet: "minipay" });
    expect(renewalDelay(stored()!, Date.now())).toBeGreaterThan(11 * HOUR);
  });

  it("does not sign back in a user who signed out while the renewal was on its way", async () => {
    const session = signedIn();
    let answer: (a: unknown) => void = () => undefined;
    rest.renew.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const renewing = renew(session);
    saveSession(null); // "Sign out"
    answer({ token: "new", address: ADDRESS, expires_at: Date.now() + 24 * HOUR });
    expect(await renewing).toBeNull();
    expect(readSessionRaw()).toBeNull();
  });

  it("leaves a newer sign-in alone", async () => {
    const session = signedIn();
    let answer: (a: unknown) => void = () => undefined;
    rest.renew.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const renewing = renew(session);
    saveSession({ ...session, token: "signed-in-again" });
    answer({ token: "new", address: ADDRESS, expires_at: Date.now() + 24 * HOUR });
    expect(await renewing).toBeNull();
    expect(stored()?.token).toBe("signed-in-again");
  });

  it("stops renewing once the server cannot extend the session (it reached SESSION_MAX_AGE_S)", async () => {
    const session = signedIn(2 * HOUR);
    rest.renew.mockResolvedValue({ token: "new", address: ADDRESS, expires_at: session.expires_at });
    await renew(session);
    // Renewing again at half of what is left would halve the wait each time: dozens of calls near the end.
    expect(renewalDelay(stored()!, Date.now())).toBeNull();
  });
});
