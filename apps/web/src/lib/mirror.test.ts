// Mirroring XMTP conversations on the server (issue 7: chat-id squatting), against the XMTP stand-in and a server
// stand-in that answers `conflict` as docs/protocol.md says.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { ApiError } from "./api";
import { planMirror } from "./mirror";
import { StandInNetwork } from "./testing/xmtp-stand-in";
import type { Chat } from "./types";
import type { Wallet } from "./wallet";

const rest = vi.hoisted(() => ({ createChat: vi.fn(), addMembers: vi.fn() }));
vi.mock("./api", async (importOriginal) => ({ ...(await importOriginal<typeof import("./api")>()), api: rest }));

const address = () => privateKeyToAccount(generatePrivateKey()).address;

function burner(): Wallet {
  const account = privateKeyToAccount(generatePrivateKey());
  return {
    kind: "burner",
    address: account.address,
    canSignMessages: true,
    chainRead: null,
    feeTokens: null,
    signMessage: (message) => account.signMessage({ message }),
    send: () => Promise.reject(new Error("no chain here")),
  };
}

/** The server's registrations: the first wins; a later one with other members is `conflict`, with the members
 * only for a caller who is one of them. */
function server(me: string) {
  const chats = new Map<string, string[]>();
  const lower = (list: string[]) => list.map((m) => m.toLowerCase()).sort().join();
  rest.createChat.mockImplementation(async (_token: string, body: { id: string; members: string[] }) => {
    const asked = [...new Set([...body.members, me].map((m) => m.toLowerCase()))];
    const held = chats.get(body.id);
    if (!held) chats.set(body.id, asked);
    else if (lower(held) !== lower(asked)) {
      const member = held.includes(me.toLowerCase());
      throw new ApiError("conflict", "registered with other members", 409, {
        code: "conflict",
        message: "registered with other members",
        ...(member ? { members: held } : {}),
      });
    }
    return { chat: { id: body.id, members: chats.get(body.id) } as Chat };
  });
  rest.addMembers.mockImplementation(async (_token: string, id: string, members: string[]) => {
    chats.set(id, [...new Set([...chats.get(id)!, ...members.map((m) => m.toLowerCase())])]);
    return { chat: { id, members: chats.get(id) } as Chat };
  });
  return chats;
}

async function setup() {
  vi.resetModules();
  vi.stubEnv("NEXT_PUBLIC_XMTP_ENV", "dev");
  const xmtp = await import("./xmtp");
  const network = new StandInNetwork();
  const me = burner();
  const client = (await xmtp.getXmtpClient(me, network.sdk("ok").load))!;
  return { xmtp, network, me: me.address, client, chats: server(me.address) };
}

beforeEach(() => {
  rest.createChat.mockReset();
  rest.addMembers.mockReset();
});
afterEach(() => vi.unstubAllEnvs());

describe("planMirror", () => {
  const [a, b, c] = [address(), address(), address()];

  it("uses a server chat with the same members, in any order and case", () => {
    expect(planMirror([a, b], [b.toLowerCase(), a])).toEqual({ kind: "same" });
  });

  it("completes a server chat that lacks some of the XMTP group's members", () => {
    expect(planMirror([a, b, c], [a, b])).toEqual({ kind: "add", missing: [c] });
  });

  it("keeps to XMTP when the server chat has someone the XMTP group does not", () => {
    expect(planMirror([a, b], [a, b, c])).toEqual({ kind: "xmtp-only" });
    expect(planMirror([a, b], [a, c])).toEqual({ kind: "xmtp-only" });
  });

  it("keeps to XMTP when the server will not say who is in its chat (we are not)", () => {
    expect(planMirror([a, b], undefined)).toEqual({ kind: "xmtp-only" });
  });
});

describe("registerXmtpConversations", () => {
  it("registers a new conversation under its XMTP id with all its members", async () => {
    const h = await setup();
    const peer = address();
    const id = h.network.addConversation([h.me, peer]);
    expect(await h.xmtp.registerXmtpConversations(h.client, "token")).toEqual([]);
    expect(h.chats.get(id)?.sort()).toEqual([h.me, peer].map((m) => m.toLowerCase()).sort());
  });

  it("asks the server once per conversation and member set, not on every visit to the chat list", async () => {
    const h = await setup();
    const peer = address();
    h.network.addConversation([h.me, peer]);
    await h.xmtp.registerXmtpConversations(h.client, "token");
    await h.xmtp.registerXmtpConversations(h.client, "token"); // back from a chat: Home mounts again
    expect(rest.createChat).toHaveBeenCalledOnce();
    h.network.addConversation([h.me, peer, address()]);
    await h.xmtp.registerXmtpConversations(h.client, "token");
    expect(rest.createChat).toHaveBeenCalledTimes(2); // only the new one
  });

  it("adds the missing members to a server chat that holds only some of them, then uses it", async () => {
    const h = await setup();
    const [peer, late] = [address(), address()];
    const id = h.network.addConversation([h.me, peer, late]);
    h.chats.set(id, [h.me, peer].map((m) => m.toLowerCase()));
    expect(await h.xmtp.registerXmtpConversations(h.client, "token")).toEqual([]);
    expect(rest.addMembers).toHaveBeenCalledWith("token", id, [late], false); // from then on, as on XMTP
    expect(h.chats.get(id)).toContain(late.toLowerCase());
  });

  it("keeps a conversation whose id the server holds with someone else in it on XMTP alone", async () => {
    const h = await setup();
    const [peer, squatter] = [address(), address()];
    const id = h.network.addConversation([h.me, peer]);
    h.chats.set(id, [h.me, peer, squatter].map((m) => m.toLowerCase()));
    expect(await h.xmtp.registerXmtpConversations(h.client, "token")).toEqual([id]);
    expect(rest.addMembers).not.toHaveBeenCalled();
    expect(h.chats.get(id)).toContain(squatter.toLowerCase());
  });

  it("keeps a conversation whose id someone else registered without us on XMTP alone", async () => {
    const h = await setup();
    const id = h.network.addConversation([h.me, address()]);
    h.chats.set(id, [address(), address()].map((m) => m.toLowerCase()));
    expect(await h.xmtp.registerXmtpConversations(h.client, "token")).toEqual([id]);
  });

  it("opens no DM on a server chat held by others under the XMTP DM's id", async () => {
    const h = await setup();
    const peer = address();
    h.network.registered.add(peer.toLowerCase());
    const id = h.network.addConversation([h.me, peer]);
    h.chats.set(id, [peer, address()].map((m) => m.toLowerCase()));
    expect(await h.xmtp.startXmtpDm(h.client, "token", peer)).toBeNull();
  });
});
