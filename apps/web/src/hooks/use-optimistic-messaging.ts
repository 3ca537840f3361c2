"use client";
// The chat page's one source of truth: the reducer's state for this chat (messages, typing, presence), the
// connection indicator, and the actions (send, typing, older history). The wiring lives in ChatConnection.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { ChatConnection } from "@/lib/chat-connection";
import {
  initialChatState,
  isOnline,
  messagesReducer,
  selectMessages,
  selectTyping,
  type Membership,
  type ViewMessage,
} from "@/lib/messages-reducer";
import { signIn } from "@/lib/auth";
import { readersOf, tickOf, unreadDivider, type Tick } from "@/lib/receipts";
import { deviceStorage, historyOf } from "@/lib/device-storage";
import { parseSession, readSessionRaw, type Session } from "@/lib/session";
import { createStore } from "@/lib/store";
import type { ConnectionState } from "@/lib/status-info";
import type { Chat, Tx } from "@/lib/types";

/** XMTP when an XMTP chat is open, else Fallback while the server's socket is up, else Offline. */
export function connectionIndicator(xmtpUp: boolean, socketUp: boolean): ConnectionState {
  return xmtpUp ? "XMTP" : socketUp ? "Fallback" : "Offline";
}

export interface OptimisticMessaging {
  chat: Chat | null;
  messages: ViewMessage[];
  /** Other members typing now. */
  typing: string[];
  isOnline(address: string): boolean;
  connection: ConnectionState;
  membership: Membership;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Last error worth showing (join refused, history not loaded); null when all is well. */
  problem: string | null;
  /** The session ended and could not be renewed silently: the user signs in again. */
  authFailed: boolean;
  /** Where the "N new messages" divider goes (fixed where the chat was opened); null when nothing was unread. */
  divider: { beforeKey: string; count: number } | null;
  /** How far our message at `seq` got, and who else has read it. */
  tickOf(seq: number): Tick;
  readersOf(seq: number): string[];
  send(body: string, tx?: Tx | null, replyTo?: string | null): void;
  /** The newest message seen on screen with the page in the foreground. */
  seen(seq: number): void;
  react(messageId: string, emoji: string, added: boolean): void;
  deleteMessage(messageId: string): void;
  notifyTyping(): void;
  stopTyping(): void;
  loadOlder(): void;
  discard(clientId: string): void;
  /** Shows the chat a members call answered with. */
  applyChat(chat: Chat): void;
}

/** After the server ended a session: the one stored since (renewed, or signed in again in another tab), else for a
 * burner wallet a silent new sign-in; null for wallets that need the user. */
async function refreshSession(me: Session, expiredToken: string): Promise<Session | null> {
  const stored = parseSession(readSessionRaw());
  if (stored && stored.token !== expiredToken && stored.address.toLowerCase() === me.address.toLowerCase()) return stored;
  return me.wallet === "burner" ? signIn("burner") : null;
}

export function useOptimisticMessaging(chatId: string, session: Session): OptimisticMessaging {
  // The page is keyed by chat and session, so one store per mount is one store per chat.
  const [store] = useState(() => createStore(messagesReducer, initialChatState(chatId, session.address)));
  const state = useSyncExternalStore(store.subscribe, store.getState, store.getState);
  const [socketUp, setSocketUp] = useState(false);
  const [xmtpUp, setXmtpUp] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [authFailed, setAuthFailed] = useState(false);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const connection = useRef<ChatConnection | null>(null);
  // The connection outlives renewed tokens: it opens with the session of its first render and is handed newer ones.
  const opening = useRef(session);

  useEffect(() => {
    const first = opening.current;
    const link = new ChatConnection({
      chatId,
      session: first,
      refreshSession: (expiredToken) => refreshSession(first, expiredToken),
      store,
      outbox: deviceStorage().outbox,
      history: historyOf(first),
      onSocket: setSocketUp,
      onXmtp: setXmtpUp,
      onProblem: setProblem,
      onAuthFailed: () => setAuthFailed(true),
      onAuthResumed: () => setAuthFailed(false),
    });
    connection.current = link;
    link.start();
    // Typing flags expire 5 s after their last renewal.
    const ticker = setInterval(() => store.dispatch({ type: "tick", now: Date.now() }), 1000);
    // A reload or a tab closed runs no React clean-up: write the history cache while the page is hidden or goes.
    const flush = () => link.flushHistory();
    const onVisibility = () => {
      if (document.visibilityState === "hidden") flush();
    };
    window.addEventListener("pagehide", flush);
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      window.removeEventListener("pagehide", flush);
      document.removeEventListener("visibilitychange", onVisibility);
      clearInterval(ticker);
      link.stop();
      connection.current = null;
    };
  }, [chatId, store]);

  useEffect(() => {
    connection.current?.sessionChanged(session);
  }, [session]);

  const messages = useMemo(() => selectMessages(state), [state]);
  const typing = useMemo(() => selectTyping(state), [state]);

  const divider = useMemo(() => unreadDivider(state, messages), [state, messages]);

  const send = useCallback((body: string, tx: Tx | null = null, replyTo: string | null = null) => {
    void connection.current?.send(body, tx, replyTo);
  }, []);
  const seen = useCallback((seq: number) => connection.current?.seen(seq), []);
  const react = useCallback((id: string, emoji: string, added: boolean) => void connection.current?.react(id, emoji, added), []);
  const deleteMessage = useCallback((id: string) => void connection.current?.deleteMessage(id), []);
  const notifyTyping = useCallback(() => connection.current?.typing(), []);
  const stopTyping = useCallback(() => connection.current?.stopTyping(), []);
  const discard = useCallback((clientId: string) => connection.current?.discard(clientId), []);
  const applyChat = useCallback((chat: Chat) => connection.current?.chatChanged(chat), []);
  const loadOlder = useCallback(() => {
    const link = connection.current;
    if (!link || loadingOlder) return;
    setLoadingOlder(true);
    link
      .loadOlder()
      .catch(() => setProblem("Older messages could not be loaded"))
      .finally(() => setLoadingOlder(false));
  }, [loadingOlder]);

  return {
    chat: state.chat,
    messages,
    typing,
    isOnline: (address: string) => isOnline(state, address),
    connection: connectionIndicator(xmtpUp, socketUp),
    membership: state.membership,
    hasOlder: state.hasOlder,
    loadingOlder,
    problem,
    authFailed,
    divider,
    tickOf: (seq: number) => tickOf(state, seq),
    readersOf: (seq: number) => readersOf(state, seq),
    send,
    seen,
    react,
    deleteMessage,
    notifyTyping,
    stopTyping,
    loadOlder,
    discard,
    applyChat,
  };
}
