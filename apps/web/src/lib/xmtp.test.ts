// src/lib/xmtp.ts against a local stand-in of @xmtp/browser-sdk 7.1.0, and the stand-in's fidelity to libxmtp.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { XmtpCopy } from "./messages-reducer";
import { encodedText, keyedTextMessageId, StandInNetwork } from "./testing/xmtp-stand-in";
import type { Wallet } from "./wallet";
import { memoryHistory } from "./testing/memory-history";

vi.mock("socket.io-client", async () => ({ io: (await import("./testing/fake-socket")).fakeIo }));

const GROUP = "aed8a9cc52ca1c02c03a6d90171b1fd9";

function burner(): Wallet {
  const account = privateKeyToAccount(generatePrivateKey());
  return {
    kind: "burner",
    address: account.address,
    signMessage: (message) => account.signMessage({ message }),
    canSignMessages: true,
    chainRead: null,
    feeTokens: null,
    send: () => Promise.reject(new Error("no chain here")),
  };
}

/** xmtp.ts and config.ts read NEXT_PUBLIC_XMTP_ENV when first imported: load them afresh under `env`. */
async function freshXmtp(env: string) {
  vi.resetModules();
  vi.stubEnv("NEXT_PUBLIC_XMTP_ENV", env);
  return import("./xmtp");
}

beforeEach(() => vi.stubEnv("NEXT_PUBLIC_XMTP_ENV", "dev"));
afterEach(() => {
  vi.unstubAllEnvs();
  vi.unstubAllGlobals();
  vi.doUnmock("@xmtp/browser-sdk");
  vi.restoreAllMocks();
});

describe("XMTP stand-in fidelity (libxmtp keyed text ids)", () => {
  it("encodes a text as libxmtp's EncodedContent", () => {
    const hex = Buffer.from(encodedText("hello")).toString("hex");
    expect(hex).toBe(
      "0a120a08" + Buffer.from("xmtp.org").toString("hex") + "1204" + Buffer.from("text").toString("hex") + "1801" +
        "12110a08" + Buffer.from("encoding").toString("hex") + "1205" + Buffer.from("UTF-8").toString("hex") +
        "2205" + Buffer.from("hello").toString("hex"),
    );
  });

  it("reproduces the content-binding test vector", async () => {
    expect(await keyedTextMessageId(GROUP, "k-1", "hello")).toBe(
      "b65e598cf38f0693cbde7154edba99afb384ea1fe34bd3562c2c2fdf28783a45",
    );
  });

  it("returns the test-vector id from conversation.sendText with idempotencyKey", async () => {
    const network = new StandInNetwork();
    const me = burner().address;
    network.addConversation([me], GROUP);
    const conversation = await network.client(me).conversations.getConversationById(GROUP);
    expect(await conversation!.sendText("hello", { idempotencyKey: "k-1" })).toBe(
      "b65e598cf38f0693cbde7154edba99afb384ea1fe34bd3562c2c2fdf28783a45",
    );
  });

  it("length-prefixes long and non-ASCII texts with a multi-byte varint", () => {
    const text = "é".repeat(100); // 200 UTF-8 bytes → varint c8 01
    const encoded = encodedText(text);
    expect(Buffer.from(encoded.slice(39, 42)).toString("hex")).toBe("22c801");
    expect(encoded.length).toBe(42 + 200);
  });
});

describe("getXmtpClient", () => {
  it("creates the client through the SDK with an EOA signer for the wallet and the configured env", async () => {
    const { getXmtpClient } = await freshXmtp("dev");
    const network = new StandInNetwork();
    const sdk = network.sdk("ok");
    const wallet = burner();
    const client = await getXmtpClient(wallet, sdk.load);
    expect(client).toBe(sdk.clients[0]);
    expect(network.creates).toHaveLength(1);
    expect(network.creates[0]).toMatchObject({
      identifier: { identifier: wallet.address.toLowerCase(), identifierKind: 0 },
      options: { env: "dev" },
    });
    expect(await getXmtpClient(wallet, sdk.load)).toBe(client); // created once
    expect(network.creates).toHaveLength(1);
  });

  it("asks a wallet other than the burner for no XMTP signature until the user turned XMTP on", async () => {
    const items = new Map<string, string>();
    vi.stubGlobal("window", {
      localStorage: { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v) },
    });
    const { allowXmtp, getXmtpClient, xmtpAllowed } = await freshXmtp("dev");
    const network = new StandInNetwork();
    const load = vi.fn(network.sdk("ok").load);
    const key = burner();
    const signMessage = vi.fn(key.signMessage);
    const injected: Wallet = { ...key, kind: "injected", signMessage };
    expect(xmtpAllowed(injected)).toBe(false);
    expect(await getXmtpClient(injected, load)).toBeNull();
    expect(load).not.toHaveBeenCalled();
    expect(signMessage).not.toHaveBeenCalled();
    allowXmtp(injected.address); // the user tapped "Turn on XMTP"
    expect(xmtpAllowed(injected)).toBe(true);
    expect(await getXmtpClient(injected, load)).not.toBeNull();
    expect(network.creates).toHaveLength(1);
  });

  it("never loads the SDK when NEXT_PUBLIC_XMTP_ENV is off", async () => {
    let sdkImported = false;
    vi.doMock("@xmtp/browser-sdk", () => {
      sdkImported = true;
      return {};
    });
    const { getXmtpClient, xmtpEnabled } = await freshXmtp("off");
    const load = vi.fn(new StandInNetwork().sdk("ok").load);
    expect(xmtpEnabled()).toBe(false);
    expect(await getXmtpClient(burner(), load)).toBeNull();
    expect(await getXmtpClient(burner())).toBeNull(); // the default loader, i.e. import("@xmtp/browser-sdk")
    expect(load).not.toHaveBeenCalled();
    expect(sdkImported).toBe(false);
  });

  it("loads the SDK through the default import when XMTP is on (control for the test above)", async () => {
    const network = new StandInNetwork();
    const standIn = network.sdk("ok").module;
    let sdkImported = false;
    vi.doMock("@xmtp/browser-sdk", () => {
      sdkImported = true;
      return standIn;
    });
    const { getXmtpClient } = await freshXmtp("dev");
    expect(await getXmtpClient(burner())).not.toBeNull();
    expect(sdkImported).toBe(true);
  });

  it("never loads the SDK for an open chat when NEXT_PUBLIC_XMTP_ENV is off", async () => {
    const load = vi.fn(new StandInNetwork().sdk("ok").load);
    await freshXmtp("off");
    const key = generatePrivateKey();
    vi.stubGlobal("window", { localStorage: { getItem: () => key, setItem: () => undefined } });
    const { ChatConnection } = await import("./chat-connection");
    const { createStore } = await import("./store");
    const { initialChatState, messagesReducer } = await import("./messages-reducer");
    const address = privateKeyToAccount(key).address;
    const onXmtp = vi.fn();
    const connection = new ChatConnection({
      chatId: GROUP,
      session: { token: "t", address, expires_at: Date.now() + 60_000, wallet: "burner" },
      store: createStore(messagesReducer, initialChatState(GROUP, address)),
      outbox: { put: async () => undefined, list: async () => [], remove: async () => undefined, close: () => undefined },
      history: memoryHistory(),
      onSocket: () => undefined,
      onXmtp,
      onProblem: () => undefined,
      onAuthFailed: () => undefined,
      onAuthResumed: () => undefined,
      refreshSession: async () => null,
      loadXmtpSdk: load,
    });
    connection.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    connection.stop();
    expect(load).not.toHaveBeenCalled();
    expect(onXmtp).not.toHaveBeenCalled();
  });
});

describe("openXmtpChat", () => {
  async function open() {
    const { getXmtpClient, openXmtpChat } = await freshXmtp("dev");
    const network = new StandInNetwork();
    const me = burner();
    const peer = burner().address;
    network.addConversation([me.address, peer], GROUP);
    const client = await getXmtpClient(me, network.sdk("ok").load);
    const copies: XmtpCopy[] = [];
    const chat = await openXmtpChat(client!, GROUP, (copy) => copies.push(copy));
    const peerConversation = (await network.client(peer).conversations.getConversationById(GROUP))!;
    return { network, chat: chat!, copies, peer, peerConversation };
  }

  it("reports the others' texts with the checksummed sender, the XMTP id and the send time", async () => {
    const { copies, peer, peerConversation, network } = await open();
    const id = await peerConversation.sendText("hi", { idempotencyKey: "p-1" });
    await vi.waitFor(() => expect(copies).toHaveLength(1));
    const message = network.conversations.get(GROUP)!.messages[0]!;
    expect(copies[0]).toEqual({
      xmtp_id: id,
      chat_id: GROUP,
      sender: getAddress(peer),
      body: "hi",
      sent_at: message.sentAt.getTime(),
    });
  });

  it("does not report our own texts (they merge through the send path)", async () => {
    const { chat, copies } = await open();
    const id = await chat.sendText("mine", "client-1");
    expect(id).toBe(await keyedTextMessageId(GROUP, "client-1", "mine"));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(copies).toEqual([]);
  });

  it("answers null for a conversation the client is not in", async () => {
    const { getXmtpClient, openXmtpChat } = await freshXmtp("dev");
    const network = new StandInNetwork();
    const client = await getXmtpClient(burner(), network.sdk("ok").load);
    expect(await openXmtpChat(client!, GROUP, () => undefined)).toBeNull();
  });

  it("stops streaming once closed", async () => {
    const { chat, copies, peerConversation } = await open();
    chat.close();
    await new Promise((resolve) => setTimeout(resolve, 0));
    await peerConversation.sendText("late", { idempotencyKey: "p-2" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(copies).toEqual([]);
  });
});
