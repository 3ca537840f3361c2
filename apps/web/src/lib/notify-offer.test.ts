import { describe, expect, it } from "vitest";
import { base64UrlBytes, notifyOffer } from "./notify-offer";

const ALL = { serviceWorker: true, pushManager: true, notification: true };

describe("notifyOffer", () => {
  it("a browser with Web Push is offered it", () => {
    expect(notifyOffer("browser", ALL, false)).toBe("web-push");
  });
  it("a browser without it is offered nothing", () => {
    expect(notifyOffer("browser", { ...ALL, pushManager: false }, false)).toBeNull();
    expect(notifyOffer("browser", { ...ALL, serviceWorker: false }, false)).toBeNull();
  });
  it("a Farcaster client is offered the add once, never Web Push", () => {
    expect(notifyOffer("farcaster", ALL, false)).toBe("farcaster");
    expect(notifyOffer("farcaster", ALL, true)).toBeNull();
  });
  it("MiniPay, or a host not known yet, is offered nothing", () => {
    expect(notifyOffer("minipay", ALL, false)).toBeNull();
    expect(notifyOffer(null, ALL, false)).toBeNull();
  });
});

describe("base64UrlBytes", () => {
  it("decodes unpadded base64url", () => {
    expect([...base64UrlBytes("-_8")]).toEqual([0xfb, 0xff]);
    expect([...base64UrlBytes("AQID")]).toEqual([1, 2, 3]);
  });
});
