import { Explained } from "@/components/explained";
import { config } from "@/lib/config";
import { formatTime } from "@/lib/format";
import type { ViewMessage } from "@/lib/messages-reducer";
import { formatAmount } from "@/lib/payments";
import { messageStatus } from "@/lib/status-info";

export function MessageBubble({
  message: m,
  mine,
  showSender,
  nameOf,
  onDiscard,
}: {
  message: ViewMessage;
  mine: boolean;
  /** In a group, whose it is; a DM's header names the one other person already. */
  showSender: boolean;
  nameOf(address: string): string;
  onDiscard(clientId: string): void;
}) {
  const status = messageStatus(m);
  const original = m.status === "corrected" ? m.original : null;
  return (
    <li
      className={`bubble${mine ? " mine" : ""}`}
      data-testid="message"
      data-status={m.status}
      data-kind={status.kind}
      data-client-id={m.client_id}
      data-seq={m.seq ?? ""}
      data-body={m.body}
    >
      {showSender && <div className="sender">{m.sender ? nameOf(m.sender) : "Someone on XMTP"}</div>}
      {m.tx && (
        <div className="payment">
          {formatAmount(m.tx, config.tokens)} → {nameOf(m.tx.to)}
        </div>
      )}
      <div className="body">{m.body}</div>
      {original && (
        <details>
          <summary>Original</summary>
          {original.body}
          {original.tx ? ` (${formatAmount(original.tx, config.tokens)} to ${nameOf(original.tx.to)})` : ""}
        </details>
      )}
      <div className="meta">
        <span>{formatTime(m.sent_at)}</span>
        <Explained info={status} testId="status" className={`status status-${status.kind}${mine ? " end" : ""}`} />
      </div>
      {m.error && (
        <div className="error" role="alert">
          {m.error}{" "}
          <button className="secondary" onClick={() => onDiscard(m.client_id)}>
            Discard
          </button>
        </div>
      )}
    </li>
  );
}
