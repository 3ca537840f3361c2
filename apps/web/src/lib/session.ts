// The signed-in session, kept in localStorage so a reload stays signed in. Components read it through
// useSession (src/hooks/use-session.ts), which re-renders on changes from this tab or another.

export type WalletKind = "burner" | "injected";

export interface Session {
  token: string;
  /** Checksummed, as the server returned it. */
  address: string;
  expires_at: number;
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
