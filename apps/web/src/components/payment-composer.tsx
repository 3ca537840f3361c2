"use client";
import { useState, type FormEvent } from "react";
import { shortAddress } from "@/lib/format";
import { parseCeloAmount, payNative } from "@/lib/payments";
import type { Session } from "@/lib/session";
import type { Tx } from "@/lib/types";
import { walletForSession } from "@/lib/wallet";

/** Sends CELO to the other DM member through the wallet, then posts the payment as a chat message. */
export function PaymentComposer({
  session,
  recipient,
  onPaid,
}: {
  session: Session;
  /** The other member of a DM; null in a group or before the chat is known. */
  recipient: string | null;
  onPaid(body: string, tx: Tx): void;
}) {
  const [amount, setAmount] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function pay(event: FormEvent) {
    event.preventDefault();
    const value = parseCeloAmount(amount);
    if (!recipient) return;
    if (value === null) {
      setError("Enter an amount in CELO, like 0.5");
      return;
    }
    const wallet = walletForSession(session.wallet, session.address);
    if (!wallet) {
      setError("The wallet of this session is not available: sign in again");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const tx = await payNative(wallet, recipient, value);
      onPaid(`Paid ${amount.trim()} CELO`, tx);
      setAmount("");
    } catch (e) {
      // viem errors carry a one-line summary; the full text is too long for a phone screen.
      const message = e instanceof Error ? ((e as { shortMessage?: string }).shortMessage ?? e.message) : "";
      setError(`Payment not sent${message ? `: ${message}` : ""}`);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="pay" onSubmit={pay} aria-label="Send a payment">
      <label className="visually-hidden" htmlFor="pay-amount">
        Amount in CELO
      </label>
      <input
        id="pay-amount"
        data-testid="pay-amount"
        inputMode="decimal"
        placeholder={recipient ? `CELO to ${shortAddress(recipient)}` : "Payments: DMs only"}
        value={amount}
        disabled={!recipient}
        onChange={(e) => setAmount(e.target.value)}
      />
      <button data-testid="pay-send" type="submit" className="secondary" disabled={!recipient || busy}>
        {busy ? "Paying…" : "Pay"}
      </button>
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
