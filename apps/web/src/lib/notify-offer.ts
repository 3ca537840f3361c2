// Which way of reaching someone whose app is closed this place offers (contract v1.2 "Notifications"): Web Push in a
// browser that has it, the client's own notifications inside a Farcaster client (asked once), nothing inside MiniPay.
import type { Host } from "./hosts";

export type NotifyOffer = "web-push" | "farcaster" | null;

/** What the browser has of Web Push. */
export interface PushAbilities {
  serviceWorker: boolean;
  pushManager: boolean;
  notification: boolean;
}

/** Null while the host is not known yet, inside MiniPay (no push there), or where nothing would work. */
export function notifyOffer(host: Host | null, can: PushAbilities, farcasterAsked: boolean): NotifyOffer {
  if (host === "farcaster") return farcasterAsked ? null : "farcaster";
  if (host !== "browser") return null;
  return can.serviceWorker && can.pushManager && can.notification ? "web-push" : null;
}

/** A VAPID key as `applicationServerKey` takes it: the bytes of its base64url text. */
export function base64UrlBytes(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}
