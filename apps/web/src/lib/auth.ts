// Sign-In with Ethereum against the server: nonce → EIP-4361 message (viem's formatter, which the server's strict
// parser accepts) → personal_sign → session token.
import { createSiweMessage } from "viem/siwe";
import { api } from "./api";
import { config } from "./config";
import { saveSession, type Session, type WalletKind } from "./session";
import { connectWallet } from "./wallet";

export async function signIn(kind: WalletKind): Promise<Session> {
  const wallet = await connectWallet(kind);
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
  const { token, address, expires_at } = await api.verify(message, signature);
  const session: Session = { token, address, expires_at, wallet: kind };
  saveSession(session);
  return session;
}
