// What each message status and connection state means, in words people can read: a kind (drives icon and colour),
// a short label, and a one-line explanation shown on tap or hover.
import type { ViewMessage } from "./messages-reducer";

export type StatusKind = "sending" | "failed" | "pending" | "confirmed" | "verified" | "corrected" | "retracted";

export interface Explained {
  kind: string;
  icon: string;
  label: string;
  explanation: string;
}

const REASONS: Record<string, string> = {
  reverted: "the payment failed on chain",
  dropped: "the payment never reached the chain",
  not_sender: "the payment was not made by its sender",
  amount_mismatch: "the chain shows another amount",
  recipient_mismatch: "the chain shows another recipient",
  token_mismatch: "the chain shows another token",
  xmtp_mismatch: "XMTP holds other text",
};

export function reasonText(reason: string | null): string {
  return reason ? (REASONS[reason] ?? reason.replace(/_/g, " ")) : "";
}

type StatusInput = Pick<ViewMessage, "status" | "source" | "reason" | "xmtp_bound" | "error" | "tx">;

/** Whether a message wears its settlement badge: a payment, an XMTP copy, a correction or retraction, a refusal. A
 * plain message the server acknowledged is in no doubt: it shows its ticks, not 30 s of "Pending". */
export function settlementMatters(m: StatusInput): boolean {
  return !!m.error || !!m.tx || m.xmtp_bound || m.source === "xmtp" || m.status === "corrected" || m.status === "retracted";
}

export function messageStatus(m: StatusInput): Explained & { kind: StatusKind } {
  if (m.error) {
    return { kind: "failed", icon: "!", label: "Not sent", explanation: `Not sent: the server refused it (${m.error})` };
  }
  switch (m.status) {
    case "sending":
      return { kind: "sending", icon: "↑", label: "Sending", explanation: "Sending: kept on this device until the server has it" };
    case "provisional":
      return {
        kind: "pending",
        icon: "◷",
        label: "Pending",
        explanation: m.tx
          ? "Pending: shown instantly, confirmed once the payment is final on chain"
          : "Pending: shown instantly, being confirmed",
      };
    case "confirmed":
      if (m.xmtp_bound) {
        return { kind: "verified", icon: "✓✓", label: "Verified", explanation: "Verified: the same text is on XMTP, bound to this message" };
      }
      return {
        kind: "confirmed",
        icon: "✓",
        label: "Confirmed",
        explanation:
          m.source === "chain"
            ? "Confirmed: the payment is final on chain"
            : m.source === "xmtp"
              ? "Confirmed: the sender's XMTP copy matches"
              : "Confirmed: stored by the server",
      };
    case "corrected":
      return {
        kind: "corrected",
        icon: "✎",
        label: "Corrected",
        explanation: `Corrected: ${reasonText(m.reason) || "the source of truth differs"}; showing what it holds`,
      };
    case "retracted":
      return {
        kind: "retracted",
        icon: "✕",
        label: "Retracted",
        explanation: `Retracted: ${reasonText(m.reason) || "it did not hold"}`,
      };
  }
}

export type ConnectionState = "XMTP" | "Fallback" | "Offline";

const CONNECTION: Record<ConnectionState, Explained> = {
  XMTP: { kind: "XMTP", icon: "●", label: "XMTP", explanation: "XMTP: end-to-end on XMTP, the server as instant backup" },
  Fallback: {
    kind: "Fallback",
    icon: "●",
    label: "Fallback",
    explanation: "Fallback: XMTP is out of reach; messages go through the server, instant and stored",
  },
  Offline: {
    kind: "Offline",
    icon: "○",
    label: "Offline",
    explanation: "Offline: no connection; new messages wait on this device and go out when it is back",
  },
};

export function connectionStatus(state: ConnectionState): Explained {
  return CONNECTION[state];
}
