// ChatConnection's lifecycle as one explicit state, changed only through `transition`: whether its session is live,
// being refreshed, expired (only the user can sign in again) or the connection closed, and what the server said of
// the session meanwhile. Whether the socket itself is up is the socket's to say.

/** What is known of the session besides its kind; reset by a connect or a newer session. */
interface SessionNotes {
  /** The server said the session ends (`session:expired`): its disconnect is no cue to reconnect with the same token. */
  ending: boolean;
  /** It was signed out (here or in another tab): nothing is got silently in its place (a burner's silent sign-in
   * would undo the sign-out). */
  signedOut: boolean;
  /** A silent refresh was tried and the socket has not connected since: a second refusal goes to the user. */
  refreshed: boolean;
}

export type Lifecycle =
  /** Sending and joining as usual. */
  | ({ kind: "live" } & SessionNotes)
  /** Waiting for a silent new session: nothing is sent meanwhile. */
  | ({ kind: "refreshing" } & SessionNotes)
  /** The server refused the token and no new session could be had silently: nothing is sent until a newer session. */
  | ({ kind: "expired" } & SessionNotes)
  /** Stopped for good. */
  | { kind: "closed" };

export type LifecycleEvent =
  | { type: "connected" }
  | { type: "sessionEnding"; signedOut: boolean }
  | { type: "refreshStarted" }
  | { type: "refreshEnded"; renewed: boolean }
  | { type: "authFailed" }
  | { type: "sessionChanged" }
  | { type: "stopped" };

export const initialLifecycle: Lifecycle = { kind: "live", ending: false, signedOut: false, refreshed: false };

/** The next state; the same object when the event means nothing in this state (a closed connection stays closed, an
 * expired one starts no refresh). */
export function transition(state: Lifecycle, event: LifecycleEvent): Lifecycle {
  if (state.kind === "closed") return state;
  switch (event.type) {
    case "stopped":
      return { kind: "closed" };
    case "connected":
      return { ...state, ending: false, refreshed: false };
    case "sessionEnding":
      return { ...state, ending: true, signedOut: state.signedOut || event.signedOut };
    case "refreshStarted":
      return state.kind === "live" && !state.refreshed && !state.signedOut ? { ...state, kind: "refreshing", refreshed: true } : state;
    case "refreshEnded":
      return state.kind === "refreshing" ? { ...state, kind: event.renewed ? "live" : "expired" } : state;
    case "authFailed":
      return state.kind === "live" ? { ...state, kind: "expired" } : state;
    case "sessionChanged":
      return { ...state, kind: state.kind === "expired" ? "live" : state.kind, signedOut: false, refreshed: false };
  }
}

/** Whether the connection may send now (as far as its session goes). */
export function maySend(state: Lifecycle): boolean {
  return state.kind === "live";
}
