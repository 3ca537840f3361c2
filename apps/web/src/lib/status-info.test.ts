import { describe, expect, it } from "vitest";
import type { ViewMessage } from "./messages-reducer";
import { connectionStatus, messageStatus, settlementMatters, type ConnectionState } from "./status-info";

type Input = Parameters<typeof messageStatus>[0];
const base: Input = { status: "provisional", source: "fallback", reason: null, xmtp_bound: false, error: null, tx: null };
const tx = { chain_id: 42220, hash: "0x01", to: "0x02", value: "1", token: null };
const of = (over: Partial<Input>) => messageStatus({ ...base, ...over });

describe("message statuses people can tell apart", () => {
  it("gives each state its own kind, icon and label", () => {
    const states: Partial<Input>[] = [
      { status: "sending" as ViewMessage["status"] },
      { status: "sending", error: "forbidden" },
      { status: "provisional" },
      { status: "confirmed" },
      { status: "confirmed", source: "xmtp", xmtp_bound: true },
      { status: "corrected", reason: "amount_mismatch" },
      { status: "retracted", reason: "reverted" },
    ];
    const shown = states.map(of);
    expect(shown.map((s) => s.kind)).toEqual(["sending", "failed", "pending", "confirmed", "verified", "corrected", "retracted"]);
    expect(new Set(shown.map((s) => s.icon)).size).toBe(shown.length);
    expect(new Set(shown.map((s) => s.label)).size).toBe(shown.length);
  });

  it("explains pending as shown instantly and being confirmed", () => {
    expect(of({}).explanation).toBe("Pending: shown instantly, being confirmed");
  });

  it("explains a pending payment as waiting for the chain", () => {
    expect(of({ tx }).explanation).toMatch(/^Pending: .*final on chain/);
  });

  it("says what confirmed a message", () => {
    expect(of({ status: "confirmed", source: "chain", tx }).explanation).toBe("Confirmed: the payment is final on chain");
    expect(of({ status: "confirmed", source: "fallback" }).explanation).toBe("Confirmed: stored by the server");
  });

  it("puts the reason of a retraction or correction in words", () => {
    expect(of({ status: "retracted", reason: "dropped" }).explanation).toBe("Retracted: the payment never reached the chain");
    expect(of({ status: "corrected", reason: "xmtp_mismatch" }).explanation).toMatch(/^Corrected: XMTP holds other text/);
  });

  it("shows a refused message as not sent, never as sending too", () => {
    const refused = of({ status: "sending", error: "You are not a member of this chat" });
    expect(refused).toMatchObject({ kind: "failed", label: "Not sent" });
    expect(refused.explanation).toContain("You are not a member of this chat");
  });

  it("counts only a confirmed bound copy as verified", () => {
    expect(of({ status: "provisional", xmtp_bound: true }).kind).toBe("pending");
  });
});

describe("connection states people can tell apart", () => {
  it("explains XMTP, Fallback and Offline each in one line", () => {
    const states: ConnectionState[] = ["XMTP", "Fallback", "Offline"];
    for (const state of states) {
      const shown = connectionStatus(state);
      expect(shown.label).toBe(state);
      expect(shown.explanation.startsWith(`${state}: `)).toBe(true);
      expect(shown.explanation).not.toContain("\n");
    }
    expect(connectionStatus("Offline").explanation).toMatch(/wait on this device/);
  });
});

describe("settlementMatters", () => {
  const plain = { status: "provisional", source: "fallback", reason: null, xmtp_bound: false, error: null, tx: null } as const;
  it("leaves a plain message to its ticks, pending or confirmed", () => {
    expect(settlementMatters(plain)).toBe(false);
    expect(settlementMatters({ ...plain, status: "confirmed" })).toBe(false);
    expect(settlementMatters({ ...plain, status: "sending", source: null })).toBe(false);
  });
  it("badges payments, XMTP copies, corrections, retractions and refusals", () => {
    const tx = { chain_id: 42220, hash: "0x1", to: "0x2", value: "1", token: null };
    expect(settlementMatters({ ...plain, tx })).toBe(true);
    expect(settlementMatters({ ...plain, status: "confirmed", xmtp_bound: true })).toBe(true);
    expect(settlementMatters({ ...plain, source: "xmtp" })).toBe(true);
    expect(settlementMatters({ ...plain, status: "corrected" })).toBe(true);
    expect(settlementMatters({ ...plain, status: "retracted" })).toBe(true);
    expect(settlementMatters({ ...plain, status: "sending", source: null, error: "too_large" })).toBe(true);
  });
});
