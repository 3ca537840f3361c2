"use client";
import { useState, type FormEvent } from "react";
import { config } from "@/lib/config";
import { pay } from "@/lib/payments";
import type { Session } from "@/lib/session";
import { parseAmount, type Token } from "@/lib/tokens";
import type { Tx } from "@/lib/types";
import { walletForSession } from "@/lib/wallet";

/** The chain's own coin, offered beside the stablecoins where the wallet shows it (not in MiniPay). */
const NATIVE = "CELO";

/** Sends a payment to the other DM member through the wallet, then posts it as a chat message. */
export function PaymentComposer({
  session,
  recipient,
  recipientName,
  onPaid,
}: {
  session: Session;
  /** The other member of a DM; null in a group or before the chat is known. */
  recipient: string | null;
  recipientName: string | null;
  onPaid(body: string, tx: Tx): void;
}) {
  // MiniPay holds stablecoins only (USDT first: its listing requires it); elsewhere CELO comes first.
  const choices = session.wallet === "minipay" ? config.tokens.map((t) => t.symbol) : [NATIVE, ...config.tokens.map((t) => t.symbol)];
  const [symbol, setSymbol] = useState(choices[0] ?? NATIVE);
  const [amount, setAmount] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const token: Token | null = config.tokens.find((t) => t.symbol === symbol) ?? null;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!recipient) return;
    const value = parseAmount(amount, token?.decimals ?? 18);
    if (value === null) {
      setError(`Enter an amount in ${symbol}, like 0.5`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const wallet = await walletForSession(session.wallet, session.address);
      if (!wallet) {
        setError("The wallet of this session is not available: sign in again");
        return;
      }
      const tx = await pay(wallet, recipient, value, token);
      onPaid(`Paid ${amount.trim()} ${symbol}`, tx);
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
    <form className="pay" onSubmit={submit} aria-label="Send a payment">
      <label className="visually-hidden" htmlFor="pay-amount">
        Amount
      </label>
      <input
        id="pay-amount"
        data-testid="pay-amount"
        inputMode="decimal"
        placeholder={recipient ? `Amount to ${recipientName ?? "them"}` : "Payments: DMs only"}
        value={amount}
        disabled={!recipient}
        onChange={(e) => setAmount(e.target.value)}
      />
      <label className="visually-hidden" htmlFor="pay-token">
        Currency
      </label>
      <select
        id="pay-token"
        data-testid="pay-token"
        value={symbol}
        disabled={!recipient}
        onChange={(e) => setSymbol(e.target.value)}
      >
        {choices.map((choice) => (
          <option key={choice}>{choice}</option>
        ))}
      </select>
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
