"use client";
import { useEffect, useState } from "react";
import { useHost } from "@/hooks/use-host";
import { useSignIn, type SignInState } from "@/hooks/use-sign-in";
import { errorText } from "@/lib/errors";
import { injectedProvider } from "@/lib/hosts";
import { generatedName } from "@/lib/names";
import type { WalletKind } from "@/lib/session";
import { connectWallet } from "@/lib/wallet";

/** Sign-in as the host allows: MiniPay connects by itself and signs in once by transaction; a Farcaster client
 * through its wallet; a browser with its wallet when it has one, and always a development burner wallet. */
export function SignIn() {
  const host = useHost();
  const signing = useSignIn();
  const { busy, run } = signing;
  const [miniPayError, setMiniPayError] = useState<string | null>(null);
  const [miniPayName, setMiniPayName] = useState<string | null>(null);

  // MiniPay's wallet is connected already: no connect button, just who you are.
  useEffect(() => {
    if (host !== "minipay") return;
    connectWallet("minipay").then(
      (wallet) => setMiniPayName(generatedName(wallet.address)),
      (e: unknown) => setMiniPayError(errorText(e, "MiniPay shared no account")),
    );
  }, [host]);

  const error = signing.error ?? miniPayError;

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
      <TransactionOffer signing={signing} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

/** After the wallet refused to sign a message: the transaction it could sign in with instead, if the user wants it. */
export function TransactionOffer({ signing }: { signing: SignInState }) {
  const kind = signing.needsTransaction;
  if (!kind) return null;
  return (
    <div className="notice" role="alert" data-testid="signin-tx-offer">
      <span>
        Your wallet does not sign messages. It can sign you in with a transaction to yourself instead, worth nothing;
        the network fee is a fraction of a cent.
      </span>
      <button data-testid="signin-tx" disabled={signing.busy !== null} onClick={() => signing.run(kind, true)}>
        Sign in with a transaction
      </button>
    </div>
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
