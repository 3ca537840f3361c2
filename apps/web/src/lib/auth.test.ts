// Signing in and renewing against the server (mocked): what is signed or sent only when asked, and what an answer
// may and may not change on this device.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "./api";
import { NeedsTransaction, renew, SIGN_OUT_WAIT_MS, signIn, signOut } from "./auth";
import { parseSession, readSessionRaw, saveSession, type Session } from "./session";
import { renewalDelay } from "./session-renewal";
import type { Wallet } from "./wallet";

const rest = vi.hoisted(() => ({
  renew: vi.fn(),
  logout: vi.fn(),
  nonce: vi.fn(),
  boundNonce: vi.fn(),
  verify: vi.fn(),
  verifyTx: vi.fn(),
}));
vi.mock("./api", async (importOriginal) => ({ ...(await importOriginal<typeof import("./api")>()), api: rest }));
const wallets = vi.hoisted(() => ({ connectWallet: vi.fn() }));
vi.mock("./wallet", async (importOriginal) => ({ ...(await importOriginal<typeof import("./wallet")>()), ...wallets }));

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
    location: { host: "app.example", origin: "https://app.example" },
  });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  for (const fn of [...Object.values(rest), ...Object.values(wallets)]) fn.mockReset();
});

function signedIn(expiresIn = 10 * HOUR): Session {
  const now = Date.now();
  const session: Session = { token: "old", address: ADDRESS, expires_at: now + expiresIn, issued_at: now - 14 * HOUR, wallet: "minipay" };
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

describe("signIn with a wallet that will not sign messages", () => {
  /** An injected wallet answering personal_sign with EIP-1193's 4200 (Unsupported Method), wrapped as viem does. */
  function refusingWallet(): Wallet & { send: ReturnType<typeof vi.fn> } {
    const unsupported = Object.assign(new Error("Unsupported method"), { cause: { code: 4200 } });
    return {
      kind: "injected",
      address: ADDRESS,
      canSignMessages: true,
      chainRead: null,
      feeTokens: null,
      signMessage: () => Promise.reject(unsupported),
      send: vi.fn(async () => `0x${"ab".repeat(32)}` as const),
    };
  }

  beforeEach(() => {
    rest.nonce.mockResolvedValue({ nonce: "abcdef0123456789" });
    rest.boundNonce.mockResolvedValue({ nonce: "fedcba9876543210", proof: "0123456789abcdef0123456789abcdef" });
    rest.verifyTx.mockResolvedValue({ token: "by-tx", address: ADDRESS, expires_at: Date.now() + 24 * HOUR });
  });

  it("sends no transaction the user did not ask for: it says a transaction would do", async () => {
    const wallet = refusingWallet();
    wallets.connectWallet.mockResolvedValue(wallet);
    await expect(signIn("injected")).rejects.toBeInstanceOf(NeedsTransaction);
    expect(wallet.send).not.toHaveBeenCalled();
    expect(readSessionRaw()).toBeNull();
  });

  it("signs in by a transaction to itself once the user chose that", async () => {
    const wallet = refusingWallet();
    wallets.connectWallet.mockResolvedValue(wallet);
    expect(await signIn("injected", { byTransaction: true })).toMatchObject({ token: "by-tx", wallet: "injected" });
    expect(wallet.send).toHaveBeenCalledExactlyOnceWith(expect.objectContaining({ to: ADDRESS, value: 0n }));
  });

  it("signs in by a bound nonce and hands its proof with the transaction, which anyone can read", async () => {
    const wallet = refusingWallet();
    wallets.connectWallet.mockResolvedValue(wallet);
    await signIn("injected", { byTransaction: true });
    expect(wallet.send).toHaveBeenCalledWith(expect.objectContaining({ data: expect.stringContaining("66656463") })); // "fedc"
    expect(rest.verifyTx).toHaveBeenCalledWith(expect.any(String), "0123456789abcdef0123456789abcdef");
  });
});

describe("signOut", () => {
  it("asks the server to end the session with its token before forgetting it here", async () => {
    signedIn();
    let storedWhenAsked: string | null = null;
    rest.logout.mockImplementation(async () => {
      storedWhenAsked = stored()?.token ?? null;
      return {};
    });
    await signOut("old");
    expect(rest.logout).toHaveBeenCalledExactlyOnceWith("old");
    expect(storedWhenAsked).toBe("old");
    expect(readSessionRaw()).toBeNull();
  });

  it("signs out here even when the server cannot be reached or refuses the token", async () => {
    for (const error of [new ApiError("network", "The server cannot be reached", 0), new ApiError("unauthorized", "x", 401)]) {
      signedIn();
      rest.logout.mockRejectedValueOnce(error);
      await signOut("old");
      expect(readSessionRaw()).toBeNull();
    }
  });

  it("does not keep the user waiting on a server that never answers", async () => {
    vi.useFakeTimers();
    signedIn();
    rest.logout.mockReturnValue(new Promise(() => undefined));
    const signingOut = signOut("old");
    await vi.advanceTimersByTimeAsync(SIGN_OUT_WAIT_MS);
    await signingOut;
    expect(readSessionRaw()).toBeNull();
  });
});
