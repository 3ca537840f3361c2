// A local stand-in for the part of @xmtp/browser-sdk 7.1.0 that src/lib/xmtp.ts uses, for tests only (no network,
// no wasm). Method names, argument and return shapes follow node_modules/@xmtp/browser-sdk/dist/index.d.ts (the
// signatures below are taken from the SDK's own types, so a drift fails `tsc`); message ids of keyed texts are
// computed exactly as libxmtp computes them, which is what the server recomputes for content binding.
import type {
  AsyncStreamProxy,
  Client,
  ConsentState,
  Conversations,
  DecodedMessage,
  DeliveryStatus,
  Dm,
  GroupMember,
  GroupMessageKind,
  Identifier,
  IdentifierKind,
  PermissionLevel,
  Signer,
} from "@xmtp/browser-sdk";

type Sdk = typeof import("@xmtp/browser-sdk");
type SdkConversation = Dm<unknown>;
type SdkConversations = Conversations<unknown>;
type SdkClient = Client<unknown>;
type CreateOptions = Parameters<Sdk["Client"]["create"]>[1];

const ETHEREUM = 0 as IdentifierKind; // IdentifierKind.Ethereum
const PUBLISHED = 1 as DeliveryStatus; // DeliveryStatus.Published
const APPLICATION = 0 as GroupMessageKind; // GroupMessageKind.Application

// ---- libxmtp's id of a text sent with an idempotency key ----

const utf8 = new TextEncoder();
const bytes = (...parts: (number[] | Uint8Array | string)[]): Uint8Array => {
  const chunks = parts.map((p) => (typeof p === "string" ? utf8.encode(p) : Uint8Array.from(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    const low = n & 0x7f;
    n = Math.floor(n / 128);
    out.push(low | (n ? 0x80 : 0));
  } while (n);
  return out;
}

/** The protobuf EncodedContent of a plain text, byte for byte as libxmtp builds it. */
export function encodedText(text: string): Uint8Array {
  const content = utf8.encode(text);
  return bytes(
    [0x0a, 0x12, 0x0a, 0x08], "xmtp.org", [0x12, 0x04], "text", [0x18, 0x01], // type: xmtp.org/text:1.0
    [0x12, 0x11, 0x0a, 0x08], "encoding", [0x12, 0x05], "UTF-8", // parameters: {encoding: UTF-8}
    content.length ? bytes([0x22, ...varint(content.length)], content) : [], // content
  );
}

const hex = (data: ArrayBuffer | Uint8Array) =>
  Array.from(new Uint8Array(data), (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (value: string) => Uint8Array.from(value.match(/../g) ?? [], (h) => parseInt(h, 16));

/** hex(sha256(group_id ‖ "\t" ‖ idempotency_key ‖ "\t" ‖ EncodedContent(text))). */
export async function keyedTextMessageId(groupId: string, idempotencyKey: string, text: string): Promise<string> {
  const preimage = bytes(fromHex(groupId), "\t", idempotencyKey, "\t", encodedText(text));
  return hex(await crypto.subtle.digest("SHA-256", preimage as Uint8Array<ArrayBuffer>));
}

// ---- The network ----

export const inboxIdOf = (address: string) => address.slice(2).toLowerCase().padStart(64, "0");

interface StoredConversation {
  id: string;
  /** Lower-case addresses. */
  members: string[];
  messages: DecodedMessage<unknown>[];
  listeners: Set<(message: DecodedMessage<unknown>) => void>;
}

export interface SentText {
  conversationId: string;
  senderInboxId: string;
  text: string;
  opts: Parameters<SdkConversation["sendText"]>[1];
  id: string;
}

/** What a stand-in conversation offers: the SDK's own signatures for the methods xmtp.ts calls. */
export interface StandInConversation {
  readonly id: string;
  members: SdkConversation["members"];
  sendText: SdkConversation["sendText"];
  sendReply: SdkConversation["sendReply"];
  sendReaction: SdkConversation["sendReaction"];
  sendReadReceipt: SdkConversation["sendReadReceipt"];
  stream: SdkConversation["stream"];
}

/** A reply or reaction as the stand-in received it. */
export interface SentContent<T> {
  conversationId: string;
  senderInboxId: string;
  content: T;
  opts: Parameters<SdkConversation["sendText"]>[1];
  id: string;
}

export interface StandInClient {
  readonly inboxId: SdkClient["inboxId"];
  readonly conversations: {
    sync: SdkConversations["sync"];
    getConversationById(...args: Parameters<SdkConversations["getConversationById"]>): Promise<StandInConversation | undefined>;
    list(...args: Parameters<SdkConversations["list"]>): Promise<StandInConversation[]>;
    createDmWithIdentifier(
      ...args: Parameters<SdkConversations["createDmWithIdentifier"]>
    ): Promise<StandInConversation>;
  };
  canMessage: SdkClient["canMessage"];
  close: SdkClient["close"];
  closed: boolean;
}

const randomGroupId = () => hex(crypto.getRandomValues(new Uint8Array(16)));

export class StandInNetwork {
  readonly conversations = new Map<string, StoredConversation>();
  readonly registered = new Set<string>();
  readonly sends: SentText[] = [];
  readonly replies: SentContent<Parameters<SdkConversation["sendReply"]>[0]>[] = [];
  readonly reactions: SentContent<Parameters<SdkConversation["sendReaction"]>[0]>[] = [];
  /** Read receipts sent: by whom, in which conversation. */
  readonly readReceipts: { conversationId: string; senderInboxId: string }[] = [];
  /** Message streams opened and ended, across every conversation. */
  readonly streams = { opened: 0, ended: 0 };
  readonly creates: { identifier: Identifier; options: CreateOptions; signature: Uint8Array }[] = [];

  /** A conversation (group or DM) among `members`, under `id` (32 hex) or a fresh one. */
  addConversation(members: string[], id = randomGroupId()): string {
    this.conversations.set(id, { id, members: members.map((m) => m.toLowerCase()), messages: [], listeners: new Set() });
    for (const m of members) this.registered.add(m.toLowerCase());
    return id;
  }

  /** A client already signed in as `address` (what Client.create resolves to). */
  client(address: string): StandInClient {
    const me = address.toLowerCase();
    this.registered.add(me);
    const inboxId = inboxIdOf(me);
    const find = (id: string) => {
      const stored = this.conversations.get(id);
      return stored && stored.members.includes(me) ? this.handle(stored, inboxId) : undefined;
    };
    const client: StandInClient = {
      inboxId,
      closed: false,
      close: () => {
        client.closed = true;
      },
      canMessage: async (identifiers) =>
        new Map(identifiers.map((i) => [i.identifier.toLowerCase(), this.registered.has(i.identifier.toLowerCase())])),
      conversations: {
        sync: async () => undefined,
        getConversationById: async (id) => find(id),
        list: async (options) => {
          const mine = [...this.conversations.values()].filter((c) => c.members.includes(me));
          const limit = options?.limit === undefined ? mine.length : Number(options.limit);
          return mine.slice(0, limit).map((c) => this.handle(c, inboxId));
        },
        createDmWithIdentifier: async (identifier) => {
          const peer = identifier.identifier.toLowerCase();
          if (!this.registered.has(peer)) throw new Error(`${peer} is not on XMTP`);
          const existing = [...this.conversations.values()].find(
            (c) => c.members.length === 2 && c.members.includes(me) && c.members.includes(peer),
          );
          return this.handle(existing ?? this.conversations.get(this.addConversation([me, peer]))!, inboxId);
        },
      },
    };
    return client;
  }

  private handle(stored: StoredConversation, senderInboxId: string): StandInConversation {
    return {
      id: stored.id,
      members: async (): Promise<GroupMember[]> =>
        stored.members.map((address) => ({
          inboxId: inboxIdOf(address),
          accountIdentifiers: [{ identifier: address, identifierKind: ETHEREUM }],
          installationIds: [],
          permissionLevel: 0 as PermissionLevel,
          consentState: 1 as ConsentState,
        })),
      sendText: async (text, opts) => {
        const nowNs = BigInt(Date.now()) * 1_000_000n;
        // libxmtp: the key defaults to a timestamp; the same key and content give the same id, stored once.
        const id = await keyedTextMessageId(stored.id, opts?.idempotencyKey ?? String(nowNs), text);
        this.sends.push({ conversationId: stored.id, senderInboxId, text, opts, id });
        if (stored.messages.some((m) => m.id === id)) return id;
        const message: DecodedMessage<unknown> = {
          id,
          content: text,
          contentType: { authorityId: "xmtp.org", typeId: "text", versionMajor: 1, versionMinor: 0 },
          conversationId: stored.id,
          deliveryStatus: PUBLISHED,
          kind: APPLICATION,
          numReplies: 0n,
          reactions: [],
          senderInboxId,
          sentAt: new Date(Number(nowNs / 1_000_000n)),
          sentAtNs: nowNs,
        };
        stored.messages.push(message);
        // Streams hear of it asynchronously, the sender's own streams included.
        for (const listener of stored.listeners) queueMicrotask(() => listener(message));
        return id;
      },
      sendReply: async (reply, opts) => {
        const id = randomGroupId() + randomGroupId();
        this.replies.push({ conversationId: stored.id, senderInboxId, content: reply, opts, id });
        return id;
      },
      sendReaction: async (reaction, opts) => {
        const id = randomGroupId() + randomGroupId();
        this.reactions.push({ conversationId: stored.id, senderInboxId, content: reaction, opts, id });
        return id;
      },
      sendReadReceipt: async () => {
        this.readReceipts.push({ conversationId: stored.id, senderInboxId });
        return randomGroupId() + randomGroupId();
      },
      stream: async (options) => {
        const queue: DecodedMessage<unknown>[] = [];
        const listener = (message: DecodedMessage<unknown>) => {
          queue.push(message);
          options?.onValue?.(message);
        };
        stored.listeners.add(listener);
        this.streams.opened++;
        type Next = Awaited<ReturnType<AsyncStreamProxy<DecodedMessage<unknown>>["next"]>>;
        const done = { value: undefined, done: true };
        const proxy: AsyncStreamProxy<DecodedMessage<unknown>> = {
          isDone: false,
          // As the SDK's own proxy: `{ done: true, value: undefined }` once nothing is left (its type says T).
          next: async () => {
            const value = queue.shift();
            return value ? { value, done: false } : (done as unknown as Next);
          },
          return: async () => {
            if (!proxy.isDone) this.streams.ended++;
            stored.listeners.delete(listener);
            proxy.isDone = true;
            options?.onEnd?.();
            return done;
          },
          end: () => proxy.return(),
          [Symbol.asyncIterator]: () => proxy as unknown as AsyncIterator<DecodedMessage<unknown>>,
        };
        return proxy;
      },
    };
  }

  /**
   * The SDK module as xmtp.ts loads it. `create` says how Client.create behaves: "ok" signs in, "fail" rejects
   * the way an unreachable network does, "hang" never settles until `release()` is called.
   */
  sdk(create: "ok" | "fail" | "hang" = "ok") {
    let release: () => void = () => undefined;
    const clients: StandInClient[] = [];
    const createClient = async (signer: Signer, options?: CreateOptions): Promise<StandInClient> => {
      if (create === "fail") throw new Error("XMTP network unreachable");
      // Client.create: init with the signer's identifier, then register, signing the inbox's signature text.
      const identifier = await signer.getIdentifier();
      if (identifier.identifierKind !== ETHEREUM || identifier.identifier !== identifier.identifier.toLowerCase()) {
        throw new Error("Invalid identifier");
      }
      const signature = await signer.signMessage("XMTP : Authenticate to inbox");
      if (!(signature instanceof Uint8Array)) throw new Error("signMessage must resolve to bytes");
      this.creates.push({ identifier, options, signature });
      const client = this.client(identifier.identifier);
      clients.push(client);
      if (create === "hang") await new Promise<void>((resolve) => (release = resolve));
      return client;
    };
    const sdkModule = { Client: { create: createClient } } as unknown as Sdk;
    return { module: sdkModule, clients, load: async () => sdkModule, release: () => release() };
  }
}
