import { formatCelo, formatTime, shortAddress } from "@/lib/format";
import type { ViewMessage } from "@/lib/messages-reducer";

const STATUS_LABEL: Record<ViewMessage["status"], string> = {
  sending: "sending…",
  provisional: "pending",
  confirmed: "confirmed",
  corrected: "corrected",
  retracted: "retracted",
};

function originalText(m: ViewMessage): string | null {
  if (!m.original) return null;
  const tx = m.original.tx ? ` (${formatCelo(m.original.tx.value)} to ${shortAddress(m.original.tx.to)})` : "";
  return `Originally: ${m.original.body}${tx}`;
}

export function MessageBubble({
  message: m,
  mine,
  onDiscard,
}: {
  message: ViewMessage;
  mine: boolean;
  onDiscard(clientId: string): void;
}) {
  const original = m.status === "corrected" ? originalText(m) : null;
  return (
    <li
      className={`bubble${mine ? " mine" : ""}`}
      data-testid="message"
      data-status={m.status}
      data-client-id={m.client_id}
      data-seq={m.seq ?? ""}
      data-body={m.body}
      title={original ?? undefined}
    >
      {!mine && <div className="muted">{shortAddress(m.sender)}</div>}
      {m.tx && (
        <div className="payment">
          {formatCelo(m.tx.value)} → {shortAddress(m.tx.to)}
        </div>
      )}
      <div className="body">{m.body}</div>
      {original && (
        <details>
          <summary>Original</summary>
          {original}
        </details>
      )}
      <div className="meta">
        {m.xmtp_bound && (
          <span title="The same message is on XMTP, bound to this text" aria-label="verified on XMTP">
            ✓ XMTP
          </span>
        )}
        <span>{formatTime(m.sent_at)}</span>
        <span className={`status-${m.status}`}>
          {STATUS_LABEL[m.status]}
          {m.reason && m.status !== "confirmed" ? `: ${m.reason.replace(/_/g, " ")}` : ""}
        </span>
      </div>
      {m.error && (
        <div className="error" role="alert">
          Not sent: {m.error}{" "}
          <button className="secondary" onClick={() => onDiscard(m.client_id)}>
            Discard
          </button>
        </div>
      )}
    </li>
  );
}
