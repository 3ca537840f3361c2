"use client";
import { useState } from "react";
import { signIn } from "@/lib/auth";
import type { WalletKind } from "@/lib/session";

/** The session ended and the wallet needs its owner to sign in again; the chat resumes where it was, outbox kept. */
export function SessionExpired({ wallet }: { wallet: WalletKind }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function again() {
    setBusy(true);
    setError(null);
    try {
      await signIn(wallet);
    } catch (e) {
      setError(e instanceof Error ? e.message : "Sign-in failed");
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="notice" role="alert" data-testid="session-expired">
      <span>Session expired — sign in again. Messages you write meanwhile wait on this device.</span>
      <button onClick={again} disabled={busy} data-testid="session-sign-in">
        {busy ? "Waiting for your wallet…" : "Sign in again"}
      </button>
      {error && <span className="error">{error}</span>}
    </div>
  );
}
