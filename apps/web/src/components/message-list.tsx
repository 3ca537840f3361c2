"use client";
import { Fragment, useCallback, useEffect, useLayoutEffect, useMemo, useRef } from "react";
import { MessageBubble, type BubbleActions } from "@/components/message-bubble";
import { counted } from "@/lib/format";
import type { ViewMessage } from "@/lib/messages-reducer";
import type { Tick } from "@/lib/receipts";

const NEAR_EDGE_PX = 80;
/** A message counts as seen when this much of it is on screen. */
const SEEN_RATIO = 0.5;

/** The scrolling list: opens at the first unread message (under an "N new messages" divider), then stays pinned to
 * the newest; loads older history when scrolled to the top; reports what is seen (on screen, page in the
 * foreground) so it can be marked read. */
export function MessageList({
  messages,
  me,
  group,
  nameOf,
  hasOlder,
  loadingOlder,
  onLoadOlder,
  divider,
  tickOf,
  readersOf,
  onSeen,
  actions,
}: {
  messages: ViewMessage[];
  me: string;
  /** A group's bubbles name their sender and say who has seen ours; a DM's do not. */
  group: boolean;
  nameOf(address: string): string;
  hasOlder: boolean;
  loadingOlder: boolean;
  onLoadOlder(): void;
  divider: { beforeKey: string; count: number } | null;
  tickOf(seq: number): Tick;
  readersOf(seq: number): string[];
  onSeen(seq: number): void;
  actions: Omit<BubbleActions, "onJump">;
}) {
  const list = useRef<HTMLOListElement>(null);
  // What the list looked like before this render: decides between "keep my place" and "follow the newest".
  const before = useRef({ firstKey: "", height: 0, top: 0, nearBottom: true });
  /** Whether the view was opened at the first unread message already (once per chat view). */
  const openedAtUnread = useRef(false);
  const byId = useMemo(() => new Map(messages.flatMap((m) => (m.id ? [[m.id, m] as const] : []))), [messages]);

  useLayoutEffect(() => {
    const el = list.current;
    if (!el) return;
    const previous = before.current;
    const firstKey = messages[0]?.key ?? "";
    const line = divider && !openedAtUnread.current ? el.querySelector<HTMLElement>('[data-testid="unread-divider"]') : null;
    if (line) {
      openedAtUnread.current = true;
      el.scrollTop = line.offsetTop - el.offsetTop - 8;
    } else if (previous.firstKey && firstKey !== previous.firstKey && !previous.nearBottom) {
      // Older messages were put above: keep the same messages in view.
      el.scrollTop = previous.top + (el.scrollHeight - previous.height);
    } else if (previous.nearBottom) {
      el.scrollTop = el.scrollHeight;
    }
    before.current = { firstKey, height: el.scrollHeight, top: el.scrollTop, nearBottom: isNearBottom(el) };
  }, [messages, divider]);

  // Seen = at least half on screen while the page is in the foreground; hidden tabs read nothing.
  useEffect(() => {
    const root = list.current;
    if (!root || typeof IntersectionObserver === "undefined") return;
    const visible = new Set<number>();
    const report = () => {
      if (document.visibilityState === "visible" && visible.size) onSeen(Math.max(...visible));
    };
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const seq = Number((entry.target as HTMLElement).dataset.seq);
          if (!seq) continue;
          if (entry.isIntersecting && entry.intersectionRatio >= SEEN_RATIO) visible.add(seq);
          else visible.delete(seq);
        }
        report();
      },
      { root, threshold: [0, SEEN_RATIO, 1] },
    );
    for (const el of root.querySelectorAll<HTMLElement>("[data-seq]")) if (el.dataset.seq) observer.observe(el);
    document.addEventListener("visibilitychange", report);
    return () => {
      observer.disconnect();
      document.removeEventListener("visibilitychange", report);
    };
  }, [messages, onSeen]);

  const onJump = useCallback((id: string) => {
    const el = list.current;
    const target = el?.querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"]`);
    if (!el || !target) return;
    // At once, not smoothly: what changes while a smooth scroll runs (a reaction, a receipt) would pull the view
    // back to the newest. The highlight says where it went.
    target.scrollIntoView({ block: "center" });
    before.current = { ...before.current, top: el.scrollTop, nearBottom: isNearBottom(el) };
    target.classList.remove("flash");
    void target.offsetWidth; // restart the highlight
    target.classList.add("flash");
  }, []);

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
        const acked = mine && m.seq !== null && !m.error;
        return (
          <Fragment key={m.key}>
            {divider?.beforeKey === m.key && (
              <li className="unread-divider" data-testid="unread-divider" role="separator">
                {counted(divider.count, "new message")}
              </li>
            )}
            <MessageBubble
              message={m}
              me={me}
              mine={mine}
              showSender={group && !mine}
              group={group}
              nameOf={nameOf}
              replied={m.reply_to ? (byId.get(m.reply_to) ?? null) : null}
              tick={acked ? tickOf(m.seq!) : null}
              readers={acked && group ? readersOf(m.seq!) : []}
              actions={{ ...actions, onJump }}
            />
          </Fragment>
        );
      })}
    </ol>
  );
}

function isNearBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_EDGE_PX;
}
