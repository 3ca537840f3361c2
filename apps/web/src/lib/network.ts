// The browser's own word on the network (`online`/`offline` events): a socket would notice a lost network only when
// its pings go unanswered (~30 s), so a connection lets go at once and comes back when the browser says it can.
import type { Socket } from "socket.io-client";

export type NetworkEvents = Pick<EventTarget, "addEventListener" | "removeEventListener">;

/** The page's window where there is one (not in tests or on the server). */
export function browserNetwork(): NetworkEvents | null {
  return typeof window !== "undefined" && typeof window.addEventListener === "function" ? window : null;
}

/** Disconnects `socket()` when the browser goes offline and connects it again when it is back; returns the unwatch. */
export function followNetwork(network: NetworkEvents | null, socket: () => Pick<Socket, "connected" | "connect" | "disconnect"> | null): () => void {
  if (!network) return () => undefined;
  const offline = () => socket()?.disconnect();
  const online = () => {
    const current = socket();
    if (current && !current.connected) current.connect();
  };
  network.addEventListener("offline", offline);
  network.addEventListener("online", online);
  return () => {
    network.removeEventListener("offline", offline);
    network.removeEventListener("online", online);
  };
}
