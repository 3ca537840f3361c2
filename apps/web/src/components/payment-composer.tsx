"use client";
import { useRef, useState, type FormEvent } from "react";
import { formatUnits } from "viem";
import { config } from "@/lib/config";
import { errorText } from "@/lib/errors";
import { pay, Shortfall } from "@/lib/payments";
import type { Session } from "@/lib/session";
import { parseAmount, type Token } from "@/lib/tokens";
import type { Tx } from "@/lib/types";
import { paymentsOff, walletForSession } from "@/lib/wallet";

/** The chain's own coin, offered beside the stablecoins where the wallet shows it (not in MiniPay). */
const NATIVE = "CELO";
/** MiniPay's own page for adding money (its deeplink), for a balance too low to pay. */
const ADD_CASH = "https://link.minipay.xyz/add_cash";

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
  // Set at once (state is only seen at the next render): a second tap meanwhile would start a second payment.
  const paying = useRef(false);
  const [error, setError] = useState<{ text: string; addCash: boolean } | null>(null);
  const token: Token | null = config.tokens.find((t) => t.symbol === symbol) ?? null;
  // Not offered where it cannot work (the development wallet without a chain node): said once, not after a try.
  const off = recipient ? paymentsOff(session.wallet) : null;
  const payTo = off ? null : recipient;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!payTo || paying.current) return;
    const decimals = token?.decimals ?? 18;
    const value = parseAmount(amount, decimals);
    if (value === null) {
      setError({ text: `Enter an amount in ${symbol}, like 0.5`, addCash: false });
      return;
    }
    paying.current = true;
    setBusy(true);
    setError(null);
    try {
      const wallet = await walletForSession(session.wallet, session.address);
      if (!wallet) {
        setError({ text: "The wallet of this session is not available: sign in again", addCash: false });
        return;
      }
      const tx = await pay(wallet, payTo, value, token);
      // What was paid, as the claim says it (not as typed: "1,50" is 1.5).
      onPaid(`Paid ${formatUnits(value, decimals)} ${symbol}`, tx);
      setAmount("");
    } catch (e) {
      if (e instanceof Shortfall) setError({ text: e.message, addCash: session.wallet === "minipay" });
      else setError({ text: `Payment not sent: ${errorText(e, "the wallet refused it")}`, addCash: false });
    } finally {
      paying.current = false;
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
        placeholder={payTo ? `Amount to ${recipientName ?? "them"}` : off ? "Payments are off" : "Payments: DMs only"}
        value={amount}
        disabled={!payTo}
        onChange={(e) => setAmount(e.target.value)}
      />
      <label className="visually-hidden" htmlFor="pay-token">
        Currency
      </label>
      <select
        id="pay-token"
        data-testid="pay-token"
        value={symbol}
        disabled={!payTo}
        onChange={(e) => setSymbol(e.target.value)}
      >
        {choices.map((choice) => (
          <option key={choice}>{choice}</option>
        ))}
      </select>
      <button data-testid="pay-send" type="submit" className="secondary" disabled={!payTo || busy}>
        {busy ? "Paying…" : "Pay"}
      </button>
      {off && (
        <p className="muted pay-error" data-testid="pay-off">
          {off}
        </p>
      )}
      {error && (
        <p className="error pay-error" role="alert" data-testid="pay-error">
          {error.text}
          {error.addCash && (
            <>
              {" "}
              <a href={ADD_CASH} data-testid="add-cash">
                Add cash in MiniPay
              </a>
            </>
          )}
        </p>
      )}
    </form>
  );
}
