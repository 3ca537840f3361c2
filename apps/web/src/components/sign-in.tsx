"use client";
import { useEffect, useState } from "react";
import { useHost } from "@/hooks/use-host";
import { signIn } from "@/lib/auth";
import { injectedProvider } from "@/lib/hosts";
import { generatedName } from "@/lib/names";
import type { WalletKind } from "@/lib/session";
import { connectWallet } from "@/lib/wallet";

/** Sign-in as the host allows: MiniPay connects by itself and signs in once by transaction; a Farcaster client
 * through its wallet; a browser with its wallet when it has one, and always a development burner wallet. */
export function SignIn() {
  const host = useHost();
  const [busy, setBusy] = useState<WalletKind | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [miniPayName, setMiniPayName] = useState<string | null>(null);

  // MiniPay's wallet is connected already: no connect button, just who you are.
  useEffect(() => {
    if (host !== "minipay") return;
    connectWallet("minipay").then(
      (wallet) => setMiniPayName(generatedName(wallet.address)),
      (e: unknown) => setError(e instanceof Error ? e.message : "MiniPay shared no account"),
    );
  }, [host]);

  async function run(kind: WalletKind) {
    setBusy(kind);
    setError(null);
    try {
      await signIn(kind);
    } catch (e) {
      setError(e instanceof Error ? ((e as { shortMessage?: string }).shortMessage ?? e.message) : "Sign-in failed");
    } finally {
      setBusy(null);
    }
  }

  if (host === null) return <p className="muted">Loading…</p>;

  return (
    <section className="card" aria-labelledby="signin-title">
      {host === "minipay" ? (
        <>
          <h2 id="signin-title">Welcome{miniPayName ? `, ${miniPayName}` : ""}</h2>
          <p className="muted">
            Confirm one transaction to yourself, worth nothing, to prove this wallet is yours — once on this device. The
            network fee is a fraction of a cent, paid in your stablecoin.
          </p>
          <button data-testid="signin-minipay" disabled={busy !== null || !miniPayName} onClick={() => run("minipay")}>
            {busy === "minipay" ? "Confirm in MiniPay…" : "Sign in"}
          </button>
        </>
      ) : host === "farcaster" ? (
        <>
          <h2 id="signin-title">Sign in</h2>
          <button data-testid="signin-farcaster" disabled={busy !== null} onClick={() => run("farcaster")}>
            {busy === "farcaster" ? "Waiting for your wallet…" : "Sign in with your Farcaster wallet"}
          </button>
        </>
      ) : (
        <BrowserChoices busy={busy} run={run} />
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

function BrowserChoices({ busy, run }: { busy: WalletKind | null; run(kind: WalletKind): void }) {
  // Rendered only after hydration (the session is unknown on the server), so window is safe to read here.
  const hasInjected = injectedProvider() !== null;
  return (
    <>
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
    </>
  );
}
