"use client";
import Link from "next/link";
import { chatTitle } from "@/lib/chat-title";
import { counted } from "@/lib/format";
import type { Chat } from "@/lib/types";

export function ChatList({
  chats,
  me,
  nameOf,
  hasMore,
  loadingMore,
  onLoadMore,
}: {
  chats: Chat[] | null;
  me: string;
  nameOf(address: string): string;
  hasMore: boolean;
  loadingMore: boolean;
  onLoadMore(): void;
}) {
  return (
    <>
      <ul className="chat-list" data-testid="chat-list" aria-busy={chats === null}>
        {chats?.map((chat) => (
          <li key={chat.id} data-testid="chat-item" data-chat-id={chat.id}>
            <Link href={`/chats/${encodeURIComponent(chat.id)}`}>
              {chatTitle(chat, me, nameOf)}
              <span className="muted">
                {" "}
                · {chat.members.length > 2 || chat.title ? `${counted(chat.members.length, "member")} · ` : ""}
                {chat.last_seq} {chat.last_seq === 1 ? "message" : "messages"}
              </span>
            </Link>
          </li>
        ))}
        {chats?.length === 0 && <li className="muted">No chats yet: start one below.</li>}
      </ul>
      {hasMore && (
        <button className="secondary" data-testid="chats-more" disabled={loadingMore} onClick={onLoadMore}>
          {loadingMore ? "Loading…" : "Load more chats"}
        </button>
      )}
    </>
  );
}
