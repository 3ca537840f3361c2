import { describe, expect, it } from "vitest";
import { generatedName } from "./names";
import { chatUrl, notificationFor, parsePayload, windowFor, type PushPayload } from "./notifications";

const ORIGIN = "https://app.example";
const SENDER = "0x1111111111111111111111111111111111111111";
const message = (over: Partial<PushPayload> = {}): PushPayload => ({
  type: "message",
  chat_id: "chat one",
  message_id: "m-1",
  sender: SENDER,
  count: 1,
  preview: "gm",
  ...over,
});

describe("parsePayload", () => {
  it("takes the server's payload and refuses anything else", () => {
    expect(parsePayload({ ...message(), extra: 1 })).toEqual(message());
    expect(parsePayload({ ...message(), type: "other" })).toBeNull();
    expect(parsePayload({ ...message(), preview: 3 })).toBeNull();
    expect(parsePayload({ ...message(), count: "2" })).toBeNull();
    expect(parsePayload("gm")).toBeNull();
    expect(parsePayload(null)).toBeNull();
  });
  it("keeps a payment's status and reason", () => {
    const p = parsePayload({ ...message({ type: "payment" }), status: "retracted", reason: "reverted" });
    expect(p).toMatchObject({ type: "payment", status: "retracted", reason: "reverted" });
  });
});

describe("notificationFor", () => {
  it("one message: the sender's name and the text", () => {
    expect(notificationFor(message(), ORIGIN)).toEqual({
      title: generatedName(SENDER),
      body: "gm",
      tag: "message:chat one",
      data: { url: `${ORIGIN}/chats/chat%20one` },
    });
  });
  it("previews off: no text at all", () => {
    expect(notificationFor(message({ preview: null }), ORIGIN).body).toBe("New message");
    expect(notificationFor(message({ preview: null, count: 3 }), ORIGIN).body).toBe("3 new messages");
  });
  it("several messages: how many, and the latest when previews are on", () => {
    expect(notificationFor(message({ count: 3 }), ORIGIN).body).toBe("3 new messages, the latest: gm");
  });
  it("a payment says what became of it, never 'paid' for a retracted one", () => {
    const pay = (status: string, reason: string | null = null) =>
      notificationFor(message({ type: "payment", preview: "Paid 1.5 USDT", status, reason }), ORIGIN);
    expect(pay("confirmed")).toMatchObject({ title: `Payment from ${generatedName(SENDER)}`, body: "“Paid 1.5 USDT” is final" });
    expect(pay("corrected", "amount_mismatch").body).toBe("“Paid 1.5 USDT” was corrected: the chain shows another amount");
    expect(pay("retracted", "reverted")).toMatchObject({
      title: `No payment from ${generatedName(SENDER)}`,
      body: "A claimed payment did not hold: the payment failed on chain",
    });
    for (const shown of [pay("retracted", "reverted"), pay("retracted")]) {
      expect(`${shown.title} ${shown.body}`).not.toMatch(/paid/i);
    }
    expect(notificationFor(message({ type: "payment", preview: null, status: "confirmed" }), ORIGIN).body).toBe(
      "A payment is final",
    );
  });
});

describe("a tap on a notification", () => {
  const target = chatUrl("c1", ORIGIN);
  it("brings forward the window showing the chat", () => {
    expect(windowFor([`${ORIGIN}/`, target], target)).toEqual({ index: 1, navigate: false });
  });
  it("else takes the first window there", () => {
    expect(windowFor([`${ORIGIN}/`, chatUrl("c2", ORIGIN)], target)).toEqual({ index: 0, navigate: true });
  });
  it("else opens one", () => {
    expect(windowFor([], target)).toBeNull();
  });
});
