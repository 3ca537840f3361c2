"use client";
import { TransactionOffer } from "@/components/sign-in";
import { useSignIn } from "@/hooks/use-sign-in";
import type { WalletKind } from "@/lib/session";

/** The session ended and the wallet needs its owner to sign in again; the chat resumes where it was, outbox kept. */
export function SessionExpired({ wallet }: { wallet: WalletKind }) {
  const signing = useSignIn();
  return (
    <div className="notice" role="alert" data-testid="session-expired">
      <span>Session expired — sign in again. Messages you write meanwhile wait on this device.</span>
      <button onClick={() => signing.run(wallet)} disabled={signing.busy !== null} data-testid="session-sign-in">
        {signing.busy ? "Waiting for your wallet…" : "Sign in again"}
      </button>
      <TransactionOffer signing={signing} />
      {signing.error && <span className="error">{signing.error}</span>}
    </div>
  );
}
