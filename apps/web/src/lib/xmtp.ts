// XMTP, the primary path when a client can be had. Everything here is lazy and best-effort: the SDK (wasm and
// workers) is imported only when NEXT_PUBLIC_XMTP_ENV is not "off", creation is bounded by a timeout, and every
// failure resolves to null so the app carries on over the server alone ("Fallback"). Nothing here throws.
import type { Client, Conversation, Dm, Group, Identifier, Reaction, Reply, Signer, XmtpEnv } from "@xmtp/browser-sdk";
import { getAddress, hexToBytes } from "viem";
import { config } from "./config";
import type { XmtpCopy } from "./messages-reducer";
import { mirrorConversation, type Mirrored } from "./mirror";
import type { Wallet } from "./wallet";

type Sdk = typeof import("@xmtp/browser-sdk");
/** Loads the SDK module; the default is the lazy import, so the wasm and workers load only when XMTP is wanted. */
export type XmtpSdkLoader = () => Promise<Sdk>;
const loadSdk: XmtpSdkLoader = () => import("@xmtp/browser-sdk");
export type XmtpClient = Client<unknown>;
type AnyConversation = Conversation<unknown> | Dm<unknown> | Group<unknown>;

const CREATE_TIMEOUT_MS = 8000;
const ETHEREUM = 0; // IdentifierKind.Ethereum; the enum lives in the SDK, which is not loaded up front.

export function xmtpEnabled(): boolean {
  return config.xmtpEnv !== "off";
}

const XMTP_ON = "om.xmtp-on:";

/** Whether an XMTP client may be created for this wallet without asking now. Creating one makes the wallet sign
 * XMTP's identity message: the burner signs here, prompting nobody, but any other wallet pops up a signature
 * request, so that happens only once its owner turned XMTP on (on this device; remembered). */
export function xmtpAllowed(wallet: { kind: Wallet["kind"]; address: string }): boolean {
  return wallet.kind === "burner" || window.localStorage.getItem(XMTP_ON + wallet.address.toLowerCase()) === "1";
}

/** The user asked for XMTP with this address (the next getXmtpClient may prompt the wallet). */
export function allowXmtp(address: string): void {
  window.localStorage.setItem(XMTP_ON + address.toLowerCase(), "1");
}

/** XMTP conversation ids are 32 hex characters; the server binds content to them (docs/protocol.md). */
export function isXmtpConversationId(chatId: string): boolean {
  return /^[0-9a-f]{32}$/i.test(chatId);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(null);
      },
    );
  });
}

const ethereumIdentifier = (address: string): Identifier => ({
  identifier: address.toLowerCase(),
  identifierKind: ETHEREUM as Identifier["identifierKind"],
});

async function createClient(wallet: Wallet, load: XmtpSdkLoader): Promise<XmtpClient | null> {
  const sdk = await load();
  const signer: Signer = {
    type: "EOA",
    getIdentifier: () => ethereumIdentifier(wallet.address),
    signMessage: async (message) => hexToBytes(await wallet.signMessage(message)),
  };
  // The SDK's own type (Omit over a union) drops `env`, which Client.create does read: hence the cast.
  const options = { env: config.xmtpEnv as XmtpEnv } as Parameters<Sdk["Client"]["create"]>[1];
  const creating = sdk.Client.create(signer, options);
  const client = await withTimeout(creating, CREATE_TIMEOUT_MS);
  // A client that shows up after we gave up is closed, not leaked.
  if (!client) creating.then((late) => late.close(), () => undefined);
  return client;
}

let current: { address: string; client: Promise<XmtpClient | null> } | null = null;

/** The XMTP client for this wallet, created once; null when XMTP is off, not turned on for this wallet, or
 * unreachable. */
export function getXmtpClient(wallet: Wallet, load: XmtpSdkLoader = loadSdk): Promise<XmtpClient | null> {
  // XMTP's identity is a signed message: a wallet that signs none (MiniPay) has no XMTP inbox.
  if (!xmtpEnabled() || !wallet.canSignMessages || !xmtpAllowed(wallet)) return Promise.resolve(null);
  if (current?.address !== wallet.address) {
    current = { address: wallet.address, client: createClient(wallet, load).catch(() => null) };
  }
  return current.client;
}

async function memberAddresses(conversation: AnyConversation): Promise<Map<string, string>> {
  const byInbox = new Map<string, string>();
  for (const member of await conversation.members()) {
    const eth = member.accountIdentifiers.find((id) => Number(id.identifierKind) === ETHEREUM);
    if (eth) byInbox.set(member.inboxId, getAddress(eth.identifier));
  }
  return byInbox;
}

/** A message on XMTP that a reply or reaction refers to: its XMTP id and its sender's address. */
export interface XmtpRef {
  xmtp_id: string;
  sender: string;
}

export interface XmtpChat {
  /** The conversation's members, checksummed, ourselves included. */
  members: string[];
  /** Sends with the client_id as idempotency key (so the server can bind the copy); the XMTP id, or null. */
  sendText(text: string, clientId: string): Promise<string | null>;
  /** XMTP's reply content type (reply:1.0, a text inside), with the client_id as idempotency key; the id, or null. */
  sendReply(text: string, to: XmtpRef, clientId: string): Promise<string | null>;
  /** XMTP's reaction content type (reaction:1.0, a Unicode emoji added or removed); the id, or null. */
  sendReaction(to: XmtpRef, emoji: string, added: boolean): Promise<string | null>;
  /** XMTP's read receipt content type (readReceipt:1.0): read up to now; the id, or null. */
  sendReadReceipt(): Promise<string | null>;
  close(): void;
}

const REACTION_ADDED = 1; // ReactionAction.Added; the enums live in the SDK, which is not loaded up front.
const REACTION_REMOVED = 2; // ReactionAction.Removed
const REACTION_UNICODE = 1; // ReactionSchema.Unicode

/** A plain text as XMTP's EncodedContent (text:1.0, UTF-8): what a reply carries. */
export function textContent(text: string): Reply["content"] {
  return {
    type: { authorityId: "xmtp.org", typeId: "text", versionMajor: 1, versionMinor: 0 },
    parameters: { encoding: "UTF-8" },
    content: new TextEncoder().encode(text),
  };
}

/** The reaction content of `emoji` on `reference` (sent by `referenceInboxId`), added or removed. */
export function reactionContent(reference: string, referenceInboxId: string, emoji: string, added: boolean): Reaction {
  return {
    reference,
    referenceInboxId,
    action: (added ? REACTION_ADDED : REACTION_REMOVED) as Reaction["action"],
    content: emoji,
    schema: REACTION_UNICODE as Reaction["schema"],
  };
}

/** Opens an XMTP conversation and streams the others' text messages to `onCopy`; null when it cannot. */
export async function openXmtpChat(
  client: XmtpClient,
  chatId: string,
  onCopy: (copy: XmtpCopy) => void,
): Promise<XmtpChat | null> {
  try {
    const conversation = await client.conversations.getConversationById(chatId);
    if (!conversation) return null;
    const senders = await memberAddresses(conversation);
    const stream = await conversation.stream({
      onValue: (message) => {
        // Our own copies are merged through the send path; non-text content (membership changes…) is not chat.
        if (!message || message.senderInboxId === client.inboxId || typeof message.content !== "string") return;
        onCopy({
          xmtp_id: message.id,
          chat_id: chatId,
          sender: senders.get(message.senderInboxId) ?? null,
          body: message.content,
          sent_at: message.sentAt.getTime(),
        });
      },
      onError: () => undefined,
    });
    const inboxOf = (address: string) =>
      [...senders].find(([, member]) => member.toLowerCase() === address.toLowerCase())?.[0] ?? "";
    return {
      members: [...senders.values()],
      sendText: (text, clientId) =>
        conversation.sendText(text, { idempotencyKey: clientId }).catch(() => null),
      sendReply: (text, to, clientId) =>
        conversation
          .sendReply({ content: textContent(text), reference: to.xmtp_id, referenceInboxId: inboxOf(to.sender) }, { idempotencyKey: clientId })
          .catch(() => null),
      sendReaction: (to, emoji, added) =>
        conversation.sendReaction(reactionContent(to.xmtp_id, inboxOf(to.sender), emoji, added)).catch(() => null),
      sendReadReceipt: () => conversation.sendReadReceipt().catch(() => null),
      close: () => void stream.end().catch(() => undefined),
    };
  } catch {
    return null;
  }
}

/** Opens (or finds) the XMTP DM with `peer` and mirrors it on the server; its chat id, or null when the peer is
 * not on XMTP, XMTP fails, or the server holds that id with other members ("xmtp-only": the caller uses a server DM). */
export async function startXmtpDm(client: XmtpClient, token: string, peer: string): Promise<string | null> {
  try {
    const identifier = ethereumIdentifier(peer);
    const reachable = await client.canMessage([identifier]);
    if (!reachable.get(identifier.identifier)) return null;
    const dm = await client.conversations.createDmWithIdentifier(identifier);
    const members = [...(await memberAddresses(dm)).values()];
    return (await mirrorConversation(token, dm.id, members)) === "mirrored" ? dm.id : null;
  } catch {
    return null;
  }
}

/** What this page load already settled with the server: `${inbox}/${conversation}` → its members and the outcome.
 * Chat creation shares a small per-address budget with the user's own (CHAT_RATE_PER_MIN): asking again for every
 * conversation each time the chat list shows would spend it, and the user's next "Start DM" would be refused. */
const settled = new Map<string, { members: string; outcome: Mirrored }>();

/** Mirrors every XMTP conversation on the server under its XMTP id, so each appears in the chat list; the ids of
 * those that stay on XMTP alone (the server holds their id with other members). */
export async function registerXmtpConversations(client: XmtpClient, token: string): Promise<string[]> {
  const xmtpOnly: string[] = [];
  try {
    await client.conversations.sync();
    const conversations = await client.conversations.list({ limit: 100n });
    for (const conversation of conversations) {
      const members = [...(await memberAddresses(conversation)).values()];
      const key = `${client.inboxId}/${conversation.id}`;
      const fingerprint = members.map((m) => m.toLowerCase()).sort().join();
      const known = settled.get(key);
      const mirrored =
        known?.members === fingerprint
          ? known.outcome
          : await mirrorConversation(token, conversation.id, members).catch(() => null);
      if (mirrored) settled.set(key, { members: fingerprint, outcome: mirrored });
      if (mirrored === "xmtp-only") xmtpOnly.push(conversation.id);
    }
  } catch {
    // Best effort: the chats stay reachable through XMTP itself.
  }
  return xmtpOnly;
}
