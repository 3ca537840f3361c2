// A server Message for tests: `seq` drives its id, rev and times; anything else can be overridden.
import type { Message } from "../types";

export function serverMessage(chatId: string, seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `${chatId}/${seq}`,
    chat_id: chatId,
    seq,
    rev: seq,
    client_id: `c${seq}`,
    sender: "0x2222222222222222222222222222222222222222",
    body: `message ${seq}`,
    tx: null,
    xmtp_id: null,
    xmtp_bound: false,
    status: "provisional",
    source: "fallback",
    reason: null,
    original: null,
    sent_at: 1000 + seq,
    updated_at: 1000 + seq,
    ...over,
  };
}
