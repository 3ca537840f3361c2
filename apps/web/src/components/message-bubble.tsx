"use client";
import { useState } from "react";
import { Explained } from "@/components/explained";
import { MessageActions } from "@/components/message-actions";
import { Reactions } from "@/components/reactions";
import { DELETED_TEXT } from "@/lib/chat-preview";
import { config } from "@/lib/config";
import { formatTime } from "@/lib/format";
import type { ViewMessage } from "@/lib/messages-reducer";
import { formatAmount } from "@/lib/payments";
import type { Tick } from "@/lib/receipts";
import { messageStatus, settlementMatters } from "@/lib/status-info";

export interface BubbleActions {
  onReply(message: ViewMessage): void;
  onReact(messageId: string, emoji: string, added: boolean): void;
  onDelete(messageId: string): void;
  /** Scrolls to the message with this server id (a reply's quote was tapped). */
  onJump(messageId: string): void;
  onDiscard(clientId: string): void;
}

const TICK_LABEL: Record<Tick, string> = { sent: "Sent", delivered: "Delivered", read: "Read" };

export function MessageBubble({
  message: m,
  me,
  mine,
  showSender,
  group,
  nameOf,
  replied,
  tick,
  readers,
  actions,
}: {
  message: ViewMessage;
  me: string;
  mine: boolean;
  /** In a group, whose it is; a DM's header names the one other person already. */
  showSender: boolean;
  group: boolean;
  nameOf(address: string): string;
  /** The message this one answers, when it is loaded. */
  replied: ViewMessage | null;
  /** Our message's ticks (null for others' messages and ours not yet acknowledged). */
  tick: Tick | null;
  /** Who else has read it (groups show "Seen by N"). */
  readers: string[];
  actions: BubbleActions;
}) {
  const [menu, setMenu] = useState(false);
  const [seenBy, setSeenBy] = useState(false);
  const status = messageStatus(m);
  const original = m.status === "corrected" ? m.original : null;
  const id = m.id;
  const picked = (emoji: string) => (m.reactions[emoji] ?? []).some((a) => a.toLowerCase() === me.toLowerCase());
  return (
    <li
      className={`bubble${mine ? " mine" : ""}${m.deleted ? " deleted" : ""}`}
      data-testid="message"
      data-id={id ?? ""}
      data-status={m.status}
      data-kind={status.kind}
      data-client-id={m.client_id}
      data-seq={m.seq ?? ""}
      data-body={m.body}
      data-tick={tick ?? ""}
      data-deleted={m.deleted ? "true" : "false"}
    >
      {showSender && <div className="sender">{m.sender ? nameOf(m.sender) : "Someone on XMTP"}</div>}
      {m.reply_to && (
        <button type="button" className="quote" data-testid="reply-quote" onClick={() => actions.onJump(m.reply_to!)}>
          <span className="quote-name">{replied ? nameOf(replied.sender) : "Reply"}</span>
          <span className="quote-body">
            {!replied ? "An earlier message" : replied.deleted ? DELETED_TEXT : replied.body}
          </span>
        </button>
      )}
      {m.tx && (
        <div className="payment">
          {formatAmount(m.tx, config.tokens)} → {nameOf(m.tx.to)}
        </div>
      )}
      <div className="body">{m.deleted ? DELETED_TEXT : m.body}</div>
      {original && (
        <details>
          <summary>Original</summary>
          {original.body}
          {original.tx ? ` (${formatAmount(original.tx, config.tokens)} to ${nameOf(original.tx.to)})` : ""}
        </details>
      )}
      {id && !m.deleted && (
        <Reactions
          reactions={m.reactions}
          counts={m.reaction_counts}
          me={me}
          nameOf={nameOf}
          onReact={(emoji, added) => actions.onReact(id, emoji, added)}
        />
      )}
      <div className="meta">
        {id && !m.deleted && (
          <button
            type="button"
            className="more"
            data-testid="message-menu"
            aria-label="Reply, react, copy or delete"
            aria-expanded={menu}
            onClick={() => setMenu((shown) => !shown)}
          >
            ⋯
          </button>
        )}
        <span>{formatTime(m.sent_at)}</span>
        {settlementMatters(m) && (
          <Explained info={status} testId="status" className={`status status-${status.kind}${mine ? " end" : ""}`} />
        )}
        {mine && m.status === "sending" && !m.error && (
          <span className="ticks" data-testid="ticks" aria-label="Sending">
            ◷
          </span>
        )}
        {tick && (
          <span className={`ticks tick-${tick}${group ? "" : " dm"}`} data-testid="ticks" aria-label={TICK_LABEL[tick]}>
            {tick === "sent" ? "✓" : "✓✓"}
          </span>
        )}
        {group && tick && readers.length > 0 && (
          <button
            type="button"
            className="link seen"
            data-testid="seen-by"
            aria-expanded={seenBy}
            onClick={() => setSeenBy((shown) => !shown)}
          >
            Seen by {readers.length}
          </button>
        )}
      </div>
      {seenBy && readers.length > 0 && (
        <div className="who" data-testid="seen-by-names">
          Seen by {readers.map(nameOf).join(", ")}
        </div>
      )}
      {menu && id && (
        <MessageActions
          body={m.body}
          picked={picked}
          canDelete={mine}
          onReact={(emoji, added) => actions.onReact(id, emoji, added)}
          onReply={() => actions.onReply(m)}
          onDelete={() => actions.onDelete(id)}
          onDone={() => setMenu(false)}
        />
      )}
      {m.error && (
        <div className="error" role="alert">
          {m.error}{" "}
          <button className="secondary" onClick={() => actions.onDiscard(m.client_id)}>
            Discard
          </button>
        </div>
      )}
    </li>
  );
}
