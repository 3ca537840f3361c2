// Wire types of docs/protocol.md (v1.2), as the server sends them. The v1.2 fields are optional here: a v1.1 server
// leaves them out, and the app reads their absence as "none" (no reactions, not deleted, nothing unread).

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
  /** v1.2: the id of an earlier message of the same chat this one answers (XMTP reply:1.0). */
  reply_to?: string | null;
  /** v1.2: emoji → who reacted with it (at most its 50 latest), sorted by lower-case address (XMTP reaction:1.0). */
  reactions?: Record<string, string[]>;
  /** v1.2: emoji → how many reacted with it in all. */
  reaction_counts?: Record<string, number>;
  /** v1.2: its sender deleted it for everyone: body "", original null, reactions {}. */
  deleted?: boolean;
}

export interface Chat {
  id: string;
  members: string[];
  title: string | null;
  created_by: string;
  created_at: number;
  last_seq: number;
  rev: number;
  /** v1.2, as the caller sees it: the latest message by seq in its current state (null before one reached them). */
  last_message?: Message | null;
  /** v1.2: the caller's positions. */
  read_seq?: number;
  delivered_seq?: number;
  /** v1.2: messages after read_seq from others and not deleted (1000 means 1000 or more). */
  unread?: number;
}

/** `chat:confirmed` (this server's extension, docs/protocol.md): the clock confirmed, by the fallback, every message of
 * the chat that was provisional with no `tx` and no `xmtp_id` (or deleted) and seq up to `through_seq`, at the revs
 * `first_rev`..`rev` — one event per chat instead of a `message:update` each. */
export interface ChatConfirmed {
  chat_id: string;
  through_seq: number;
  first_rev: number;
  rev: number;
  updated_at: number;
}

/** v1.2: a member's read and delivered positions in a chat. */
export interface Positions {
  address: string;
  read_seq: number;
  delivered_seq: number;
}

/** v1.2 `receipt`: a member's positions moved. */
export interface ReceiptEvent extends Positions {
  chat_id: string;
}

/** v1.2 `chat:activity`: a new message (or the latest deleted) in one of the address's chats. */
export interface ChatActivity {
  chat_id: string;
  last_seq: number;
  rev: number;
  last_message: Message;
}

/** v1.2 `GET/PUT /api/me/settings`. */
export interface Settings {
  read_receipts: boolean;
  push_previews?: boolean;
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
  /** v1.2: positions of the members who share them and have marked or sent, and the caller's own. */
  receipts?: Positions[];
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
