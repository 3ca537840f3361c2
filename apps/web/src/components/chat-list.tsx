"use client";
import Link from "next/link";
import { AvatarPicture } from "@/components/avatar";
import { chatTitle, isDm } from "@/lib/chat-title";
import { listTime, previewOf, unreadBadge } from "@/lib/chat-preview";
import type { Chat } from "@/lib/types";

/** The chats as a messenger lists them: picture, name, latest message, its time, and how many are unread. */
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
        {chats?.map((chat) => {
          const title = chatTitle(chat, me, nameOf);
          const other = isDm(chat) ? chat.members.find((m) => m.toLowerCase() !== me.toLowerCase()) : undefined;
          const preview = previewOf(chat, me, nameOf);
          const badge = unreadBadge(chat.unread);
          return (
            <li key={chat.id} data-testid="chat-item" data-chat-id={chat.id} data-unread={chat.unread ?? 0}>
              <Link href={`/chats/${encodeURIComponent(chat.id)}`} aria-label={badge ? `${title}, ${chat.unread} unread` : title}>
                <AvatarPicture seed={other ?? chat.id} label={title} />
                <span className="chat-row">
                  <span className="chat-row-top">
                    <span className="chat-name">{title}</span>
                    {preview.at !== null && <time className="chat-time">{listTime(preview.at)}</time>}
                  </span>
                  <span className="chat-row-bottom">
                    <span className={`chat-preview${preview.deleted ? " deleted" : ""}`} data-testid="chat-preview">
                      {preview.text}
                    </span>
                    {badge && (
                      <span className="unread" data-testid="unread">
                        {badge}
                      </span>
                    )}
                  </span>
                </span>
              </Link>
            </li>
          );
        })}
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
