// Wire types of docs/protocol.md (v1.1), as the server sends them.

export type ServerStatus = "provisional" | "confirmed" | "corrected" | "retracted";

export interface Tx {
  chain_id: number;
  hash: string;
  to: string;
  /** Decimal string, base units (wei). */
  value: string;
  token: string | null;
}

export interface Message {
  id: string;
  chat_id: string;
  seq: number;
  rev: number;
  client_id: string;
  sender: string;
  body: string;
  tx: Tx | null;
  xmtp_id: string | null;
  xmtp_bound: boolean;
  status: ServerStatus;
  source: "fallback" | "xmtp" | "chain";
  reason: string | null;
  original: { body: string; tx: Tx | null } | null;
  sent_at: number;
  updated_at: number;
}

export interface Chat {
  id: string;
  members: string[];
  title: string | null;
  created_by: string;
  created_at: number;
  last_seq: number;
  rev: number;
}

export interface WireError {
  code: string;
  message: string;
  retry_after_ms?: number;
  /** Beside a `conflict` on a registered chat id, for its members: the chat's current members. */
  members?: string[];
}

/** The answer of every sign-in and renewal. */
export interface SessionAnswer {
  token: string;
  address: string;
  expires_at: number;
}

/** One page of `GET /api/chats`. */
export interface ChatPage {
  chats: Chat[];
  has_more: boolean;
  next_cursor: string | null;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: WireError };

export interface JoinAck {
  chat: Chat;
  changes: Message[];
  has_more: boolean;
  online: string[];
}

export interface TypingEvent {
  chat_id: string;
  address: string;
  typing: boolean;
}

export interface PresenceEvent {
  chat_id: string;
  address: string;
  online: boolean;
}
