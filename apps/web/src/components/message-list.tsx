"use client";
import { useLayoutEffect, useRef } from "react";
import { MessageBubble } from "@/components/message-bubble";
import type { ViewMessage } from "@/lib/messages-reducer";

const NEAR_EDGE_PX = 80;

/** The scrolling list: stays pinned to the newest message, and loads older history when scrolled to the top. */
export function MessageList({
  messages,
  me,
  group,
  nameOf,
  hasOlder,
  loadingOlder,
  onLoadOlder,
  onDiscard,
}: {
  messages: ViewMessage[];
  me: string;
  /** A group's bubbles name their sender; a DM's do not. */
  group: boolean;
  nameOf(address: string): string;
  hasOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder(): void;
  onDiscard(clientId: string): void;
}) {
  const list = useRef<HTMLOListElement>(null);
  // What the list looked like before this render: decides between "keep my place" and "follow the newest".
  const before = useRef({ firstKey: "", height: 0, top: 0, nearBottom: true });

  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    const previous = before.current;
    const firstKey = messages[0]?.key ?? "";
    if (previous.firstKey && firstKey !== previous.firstKey && !previous.nearBottom) {
      // Older messages were put above: keep the same messages in view.
      el.scrollTop = previous.top + (el.scrollHeight - previous.height);
    } else if (previous.nearBottom) {
      el.scrollTop = el.scrollHeight;
    }
    before.current = { firstKey, height: el.scrollHeight, top: el.scrollTop, nearBottom: isNearBottom(el) };
  }, [messages]);

  function onScroll() {
    const el = list.current;
    if (!el) return;
    before.current = { ...before.current, height: el.scrollHeight, top: el.scrollTop, nearBottom: isNearBottom(el) };
    if (el.scrollTop < NEAR_EDGE_PX && hasOlder && !loadingOlder) onLoadOlder();
  }

  return (
    <ol className="messages" data-testid="messages" aria-live="polite" aria-label="Messages" ref={list} onScroll={onScroll}>
      {hasOlder && (
        <li className="row" style={{ justifyContent: "center" }}>
          <button className="secondary" data-testid="load-older" disabled={loadingOlder} onClick={onLoadOlder}>
            {loadingOlder ? "Loading…" : "Load older messages"}
          </button>
        </li>
      )}
      {messages.map((m) => {
        const mine = m.sender.toLowerCase() === me.toLowerCase();
        return <MessageBubble key={m.key} message={m} mine={mine} showSender={group && !mine} nameOf={nameOf} onDiscard={onDiscard} />;
      })}
    </ol>
  );
}

function isNearBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_EDGE_PX;
}
