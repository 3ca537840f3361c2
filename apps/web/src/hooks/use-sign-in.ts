"use client";
import { useState } from "react";
import { NeedsTransaction, signIn } from "@/lib/auth";
import { errorText } from "@/lib/errors";
import type { WalletKind } from "@/lib/session";

export interface SignInState {
  /** The wallet being signed in with, while its prompt is open. */
  busy: WalletKind | null;
  error: string | null;
  /** The wallet refused to sign a message: it may sign in by a transaction, if the user chooses to. */
  needsTransaction: WalletKind | null;
  run(kind: WalletKind, byTransaction?: boolean): Promise<void>;
}

/** Signing in from a button: what is under way, what went wrong, and whether a transaction is on offer. */
export function useSignIn(): SignInState {
  const [busy, setBusy] = useState<WalletKind | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [needsTransaction, setNeedsTransaction] = useState<WalletKind | null>(null);

  async function run(kind: WalletKind, byTransaction = false) {
    setBusy(kind);
    setError(null);
    setNeedsTransaction(null);
    try {
      await signIn(kind, { byTransaction });
    } catch (e) {
      if (e instanceof NeedsTransaction) setNeedsTransaction(kind);
      else setError(errorText(e, "Sign-in failed"));
    } finally {
      setBusy(null);
    }
  }

  return { busy, error, needsTransaction, run };
}
