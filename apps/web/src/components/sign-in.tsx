"use client";
import { useState } from "react";
import { signIn } from "@/lib/auth";
import type { WalletKind } from "@/lib/session";
import { injectedProvider } from "@/lib/wallet";

/** Sign-in choices: the browser's wallet when there is one, and always a development burner wallet. */
export function SignIn() {
  const [busy, setBusy] = useState<WalletKind | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Rendered only after hydration (the session is unknown on the server), so window is safe to read here.
  const hasInjected = injectedProvider() !== null;

  async function run(kind: WalletKind) {
    setBusy(kind);
    setError(null);
    try {
      await signIn(kind);
    } catch (e) {
      setError(e instanceof Error ? e.message : "Sign-in failed");
    } finally {
      setBusy(null);
    }
  }

  return (
    <section className="card" aria-labelledby="signin-title">
      <h2 id="signin-title">Sign in with Ethereum</h2>
      {hasInjected && (
        <button data-testid="signin-injected" disabled={busy !== null} onClick={() => run("injected")}>
          {busy === "injected" ? "Waiting for your wallet…" : "Sign in with browser wallet"}
        </button>
      )}
      <button
        data-testid="signin-burner"
        className={hasInjected ? "secondary" : undefined}
        disabled={busy !== null}
        onClick={() => run("burner")}
      >
        {busy === "burner" ? "Signing in…" : "Burner wallet (development)"}
      </button>
      <p className="muted">
        The burner wallet is a throwaway key kept in this browser&apos;s storage, for development only.
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
