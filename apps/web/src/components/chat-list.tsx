"use client";
import Link from "next/link";
import { shortAddress } from "@/lib/format";
import type { Chat } from "@/lib/types";

export function chatTitle(chat: Chat, me: string): string {
  if (chat.title) return chat.title;
  const others = chat.members.filter((m) => m.toLowerCase() !== me.toLowerCase());
  return others.length ? others.map(shortAddress).join(", ") : "Just me";
}

export function ChatList({ chats, me }: { chats: Chat[] | null; me: string }) {
  return (
    <ul className="chat-list" data-testid="chat-list" aria-busy={chats === null}>
      {chats?.map((chat) => (
        <li key={chat.id} data-testid="chat-item" data-chat-id={chat.id}>
          <Link href={`/chats/${encodeURIComponent(chat.id)}`}>
            {chatTitle(chat, me)}
            <span className="muted">
              {" "}
              · {chat.last_seq} {chat.last_seq === 1 ? "message" : "messages"}
            </span>
          </Link>
        </li>
      ))}
      {chats?.length === 0 && <li className="muted">No chats yet: start one below.</li>}
    </ul>
  );
}
