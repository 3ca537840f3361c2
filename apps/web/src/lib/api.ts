// REST calls to the server (docs/protocol.md). Errors come back as ApiError with the server's code.
import { config } from "./config";
import type { Chat, Message, WireError } from "./types";

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
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
    throw new ApiError(error?.code ?? "internal", error?.message ?? `HTTP ${res.status}`, res.status);
  }
  return data;
}

const chatPath = (chatId: string) => `/api/chats/${encodeURIComponent(chatId)}`;

export const api = {
  nonce: () => call<{ nonce: string }>("/api/auth/nonce", null),
  verify: (message: string, signature: string) =>
    call<{ token: string; address: string; expires_at: number }>("/api/auth/verify", null, {
      method: "POST",
      body: { message, signature },
    }),
  listChats: (token: string) => call<{ chats: Chat[] }>("/api/chats", token),
  createChat: (token: string, body: { members: string[]; id?: string; title?: string }) =>
    call<{ chat: Chat }>("/api/chats", token, { method: "POST", body }),
  messagesBefore: (token: string, chatId: string, before: number, limit = 50) =>
    call<{ messages: Message[]; has_more: boolean }>(`${chatPath(chatId)}/messages?before=${before}&limit=${limit}`, token),
  changes: (token: string, chatId: string, sinceRev: number) =>
    call<{ changes: Message[]; has_more: boolean }>(`${chatPath(chatId)}/changes?since_rev=${sinceRev}`, token),
};
