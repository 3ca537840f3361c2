// The signed-in session, kept in localStorage so a reload stays signed in. Components read it through
// useSession (src/hooks/use-session.ts), which re-renders on changes from this tab or another.

/** burner: a development key in this browser; injected: window.ethereum (MetaMask…); minipay: MiniPay's injected
 * wallet (no message signing: signs in by transaction); farcaster: the Farcaster client's wallet. */
export type WalletKind = "burner" | "injected" | "minipay" | "farcaster";

export interface Session {
  token: string;
  /** Checksummed, as the server returned it. */
  address: string;
  expires_at: number;
  /** When this token was issued (this device's clock): with expires_at, its lifetime, for renewal. */
  issued_at?: number;
  /** The server would not extend it any further (its sign-in is nearly SESSION_MAX_AGE_S old): not renewed again. */
  final?: boolean;
  wallet: WalletKind;
}

const KEY = "om.session";
const CHANGED = "om-session-changed";

export function readSessionRaw(): string | null {
  return window.localStorage.getItem(KEY);
}

export function parseSession(raw: string | null, now = Date.now()): Session | null {
  if (!raw) return null;
  try {
    const session = JSON.parse(raw) as Session;
    return typeof session.token === "string" && session.expires_at > now ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) window.localStorage.setItem(KEY, JSON.stringify(session));
  else window.localStorage.removeItem(KEY);
  window.dispatchEvent(new Event(CHANGED));
}

export function subscribeSession(onChange: () => void): () => void {
  window.addEventListener("storage", onChange);
  window.addEventListener(CHANGED, onChange);
  return () => {
    window.removeEventListener("storage", onChange);
    window.removeEventListener(CHANGED, onChange);
  };
}
