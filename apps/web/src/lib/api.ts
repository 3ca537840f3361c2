// REST calls to the server (docs/protocol.md). Errors come back as ApiError with the server's code.
import { config } from "./config";
import type { Chat, ChatPage, Message, SessionAnswer, Settings, WireError } from "./types";

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** The error object as the server sent it (a `conflict` may carry the chat's `members`). */
    readonly wire: WireError | null = null,
  ) {
    super(message);
  }
}

async function call<T>(path: string, token: string | null, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(`${config.serverUrl}${path}`, {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  } catch {
    throw new ApiError("network", "The server cannot be reached", 0);
  }
  const data = (await res.json().catch(() => null)) as (T & { error?: WireError }) | null;
  if (!res.ok || data === null) {
    const error = data?.error;
    throw new ApiError(error?.code ?? "internal", error?.message ?? `HTTP ${res.status}`, res.status, error ?? null);
  }
  return data;
}

const chatPath = (chatId: string) => `/api/chats/${encodeURIComponent(chatId)}`;
const post = (body: unknown) => ({ method: "POST", body });

export const api = {
  nonce: () => call<{ nonce: string }>("/api/auth/nonce", null),
  // For a sign-in transaction, which makes its nonce public: a bound one signs in only with `proof`, kept here.
  boundNonce: () => call<{ nonce: string; proof: string }>("/api/auth/nonce?bound=true", null),
  verify: (message: string, signature: string) =>
    call<SessionAnswer>("/api/auth/verify", null, post({ message, signature })),
  verifyTx: (txHash: string, proof: string) =>
    call<SessionAnswer>("/api/auth/verify-tx", null, post({ tx_hash: txHash, proof })),
  renew: (token: string) => call<SessionAnswer>("/api/auth/renew", token, post({})),
  logout: (token: string) => call<Record<string, never>>("/api/auth/logout", token, post({})),
  listChats: (token: string, cursor: string | null = null, limit = 100) =>
    call<ChatPage>(`/api/chats?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, token),
  chat: (token: string, chatId: string) => call<{ chat: Chat }>(chatPath(chatId), token),
  createChat: (token: string, body: { members: string[]; id?: string; title?: string }) =>
    call<{ chat: Chat }>("/api/chats", token, post(body)),
  // New members see the chat from then on, unless `shareHistory` gives them as much of it as the caller sees.
  addMembers: (token: string, chatId: string, members: string[], shareHistory = false) =>
    call<{ chat: Chat }>(`${chatPath(chatId)}/members`, token, post({ members, share_history: shareHistory })),
  removeMember: (token: string, chatId: string, address: string) =>
    call<{ chat: Chat }>(`${chatPath(chatId)}/members/${address}`, token, { method: "DELETE" }),
  messagesBefore: (token: string, chatId: string, before: number, limit = 50) =>
    call<{ messages: Message[]; has_more: boolean }>(`${chatPath(chatId)}/messages?before=${before}&limit=${limit}`, token),
  // v1.2: a PUT changes the fields it names and answers them all.
  settings: (token: string) => call<{ settings: Settings }>("/api/me/settings", token),
  putSettings: (token: string, change: Partial<Settings>) =>
    call<{ settings: Settings }>("/api/me/settings", token, { method: "PUT", body: change }),
  // v1.2 notifications: the server's VAPID key, this browser's push subscription, a Farcaster account tied by Quick Auth.
  pushKey: () => call<{ public_key: string }>("/api/push/key", null),
  putPushSubscription: (token: string, subscription: PushSubscriptionJSON) =>
    call<Record<string, never>>("/api/push/subscriptions", token, { method: "PUT", body: subscription }),
  deletePushSubscription: (token: string, endpoint: string) =>
    call<Record<string, never>>("/api/push/subscriptions", token, { method: "DELETE", body: { endpoint } }),
  linkFarcaster: (token: string, quickAuthToken: string) =>
    call<{ fid: number; address: string }>("/api/farcaster/link", token, post({ token: quickAuthToken })),
  changes: (token: string, chatId: string, sinceRev: number) =>
    call<{ changes: Message[]; has_more: boolean }>(`${chatPath(chatId)}/changes?since_rev=${sinceRev}`, token),
};
