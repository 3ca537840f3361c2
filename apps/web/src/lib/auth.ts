// Signing in against the server, two ways: Sign-In with Ethereum (nonce → EIP-4361 message, viem's formatter, which
// the server's strict parser accepts → personal_sign), or — for wallets that cannot sign messages (MiniPay, or one
// that refuses personal_sign once the user agrees) — a zero-value transaction to oneself whose data names the domain
// and the nonce. Then a session token, renewed before it expires so that signing in again is rare, until signing out.
import { stringToHex } from "viem";
import { createSiweMessage } from "viem/siwe";
import { api } from "./api";
import { config } from "./config";
import { parseSession, readSessionRaw, saveSession, type Session, type WalletKind } from "./session";
import type { SessionAnswer } from "./types";
import { connectWallet, type Wallet } from "./wallet";

/** EIP-1193's "Unsupported Method": a wallet that will not sign messages. */
const UNSUPPORTED_METHOD = 4200;

/** The provider error code behind an error, however deeply viem wrapped it. */
export function providerErrorCode(error: unknown): number | null {
  for (let e = error; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "number") return code;
  }
  return null;
}

/** The wallet refused to sign a message (EIP-1193 4200). It can still sign in by a transaction, but that costs a
 * network fee and the wallet shows a transaction, not a sign-in: only when the user chooses it (signIn's
 * `byTransaction`), never in their place. */
export class NeedsTransaction extends Error {
  constructor() {
    super("This wallet does not sign messages");
  }
}

/** The data of a sign-in transaction: the UTF-8 bytes of this sentence (docs/protocol.md). */
export function signInText(domain: string, nonce: string): string {
  return `optimistic-messaging sign-in ${domain} ${nonce}`;
}

async function signInWithMessage(wallet: Wallet): Promise<SessionAnswer> {
  const { nonce } = await api.nonce();
  const message = createSiweMessage({
    address: wallet.address,
    chainId: config.chainId,
    // The server only accepts the domains it serves (the page's host) and binds the session to them.
    domain: window.location.host,
    uri: window.location.origin,
    nonce,
    version: "1",
    issuedAt: new Date(),
    statement: "Sign in to Optimistic Messaging.",
  });
  const signature = await wallet.signMessage(message);
  return api.verify(message, signature);
}

async function signInByTransaction(wallet: Wallet): Promise<SessionAnswer> {
  const { nonce, proof } = await api.boundNonce();
  const hash = await wallet.send({ to: wallet.address, value: 0n, data: stringToHex(signInText(window.location.host, nonce)) });
  return api.verifyTx(hash, proof);
}

function keep(answer: SessionAnswer, wallet: WalletKind, final = false): Session {
  const session: Session = { ...answer, wallet, issued_at: Date.now(), ...(final ? { final } : {}) };
  saveSession(session);
  return session;
}

/** Signs in with the wallet of `kind`: by a signed message where it can sign one, else (MiniPay) by a transaction;
 * `byTransaction` when the user chose the transaction after a NeedsTransaction. */
export async function signIn(kind: WalletKind, { byTransaction = false } = {}): Promise<Session> {
  const wallet = await connectWallet(kind);
  if (!wallet.canSignMessages || byTransaction) return keep(await signInByTransaction(wallet), kind);
  try {
    return keep(await signInWithMessage(wallet), kind);
  } catch (error) {
    throw providerErrorCode(error) === UNSUPPORTED_METHOD ? new NeedsTransaction() : error;
  }
}

/** A fresh token for a still-valid session; the server refuses once the first sign-in is too old, and stops
 * extending it as that age nears (then the session is kept as final: renewing it again would gain nothing). Null,
 * and nothing stored, when the session was replaced or ended while the answer was on its way: a renewal must not
 * undo a sign-out. */
export async function renew(session: Session): Promise<Session | null> {
  const answer = await api.renew(session.token);
  if (parseSession(readSessionRaw())?.token !== session.token) return null;
  return keep(answer, session.wallet, answer.expires_at <= session.expires_at);
}

/** How long signing out waits for the server before it forgets the session here anyway. */
export const SIGN_OUT_WAIT_MS = 5_000;

/** Signs out: first the server ends the session on every node (this token, every renewal of it, and its sockets
 * elsewhere), then this device forgets it. Best effort: an unreachable, slow or refusing server (the token already
 * expired or ended) does not keep the user signed in here. */
export async function signOut(token: string): Promise<void> {
  let waited: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    api.logout(token).catch(() => undefined),
    new Promise((resolve) => (waited = setTimeout(resolve, SIGN_OUT_WAIT_MS))),
  ]);
  clearTimeout(waited);
  saveSession(null);
}
