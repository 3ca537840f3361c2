// What the service worker shows for a push (contract v1.2 "Notifications") and where a tap on it leads: pure
// functions, so that the words and the target can be tested without a browser.
import { counted } from "./format";
import { generatedName } from "./names";
import { reasonText } from "./status-info";

/** The decrypted push payload, as the server sends it. */
export interface PushPayload {
  type: "message" | "payment";
  chat_id: string;
  message_id: string;
  sender: string;
  /** Others' messages since the last push to this subscription and chat, this one included. */
  count: number;
  /** The body's first 120 characters; null when the receiver turned previews off. */
  preview: string | null;
  /** For a payment: confirmed, corrected or retracted, and why. */
  status?: string;
  reason?: string | null;
}

export interface ShownNotification {
  title: string;
  body: string;
  /** One notification per chat: a newer push replaces the older one instead of piling up. */
  tag: string;
  data: { url: string };
}

const isString = (value: unknown): value is string => typeof value === "string";

/** The payload, or null for anything that is not one (a push the app cannot read shows nothing made up). */
export function parsePayload(data: unknown): PushPayload | null {
  if (typeof data !== "object" || data === null) return null;
  const p = data as Record<string, unknown>;
  if ((p.type !== "message" && p.type !== "payment") || !isString(p.chat_id) || !isString(p.sender)) return null;
  if (!isString(p.message_id) || typeof p.count !== "number" || !(p.preview === null || isString(p.preview))) return null;
  return {
    type: p.type,
    chat_id: p.chat_id,
    message_id: p.message_id,
    sender: p.sender,
    count: Math.max(1, Math.floor(p.count)),
    preview: p.preview,
    ...(isString(p.status) ? { status: p.status } : {}),
    ...(isString(p.reason) ? { reason: p.reason } : {}),
  };
}

/** The chat's page on this app's origin: what a tap on its notification opens. */
export function chatUrl(chatId: string, origin: string): string {
  return `${origin}/chats/${encodeURIComponent(chatId)}`;
}

function messageBody(p: PushPayload): string {
  if (p.count > 1) return p.preview === null ? `${counted(p.count, "new message")}` : `${p.count} new messages, the latest: ${p.preview}`;
  return p.preview ?? "New message";
}

/** A settled payment in words that hold for its status: a retracted claim neither says nor quotes "paid" (its text is
 * what did not hold), and a corrected one's text is not called final. */
function payment(p: PushPayload, name: string): { title: string; body: string } {
  const what = p.preview === null ? "A payment" : `“${p.preview}”`;
  const why = reasonText(p.reason ?? null);
  switch (p.status) {
    case "confirmed":
      return { title: `Payment from ${name}`, body: `${what} is final` };
    case "corrected":
      return { title: `Payment from ${name}`, body: `${what} was corrected: ${why || "the chain shows other values"}` };
    case "retracted":
      return { title: `No payment from ${name}`, body: `A claimed payment did not hold: ${why || "it was retracted"}` };
    default:
      return { title: `Payment from ${name}`, body: `${what} changed` };
  }
}

/** The notification for a push: the sender's name as everyone sees it, and what came, never more than the payload says. */
export function notificationFor(p: PushPayload, origin: string, nameOf: (address: string) => string = generatedName): ShownNotification {
  const name = nameOf(p.sender);
  return {
    ...(p.type === "payment" ? payment(p, name) : { title: name, body: messageBody(p) }),
    tag: `${p.type}:${p.chat_id}`,
    data: { url: chatUrl(p.chat_id, origin) },
  };
}

/** Of the app's open windows (their URLs, in order), the one to bring forward for `target`: one showing it already,
 * else the first (navigated there); null when none is open (a new one is opened). */
export function windowFor(urls: readonly string[], target: string): { index: number; navigate: boolean } | null {
  const same = urls.indexOf(target);
  if (same >= 0) return { index: same, navigate: false };
  return urls.length > 0 ? { index: 0, navigate: true } : null;
}
