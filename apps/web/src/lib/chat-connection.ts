// One open chat's link to the server (Socket.IO) and, when available, to XMTP. It turns socket events, acks,
// REST pages and XMTP copies into reducer actions, and owns the send path: outbox first, then the socket (and
// XMTP), re-sending the outbox with the same client_ids on every (re)connect. React stays out of it.
import { io, type Socket } from "socket.io-client";
import { api } from "./api";
import { config } from "./config";
import { lowestSeq, type Action, type ChatState, type LocalMessage } from "./messages-reducer";
import { nextCreatedAt, type Outbox } from "./outbox";
import type { Session } from "./session";
import type { Store } from "./store";
import type { Ack, JoinAck, Message, PresenceEvent, Tx, TypingEvent } from "./types";
import { walletForSession } from "./wallet";
import {
  getXmtpClient,
  isXmtpConversationId,
  openXmtpChat,
  xmtpEnabled,
  type XmtpChat,
  type XmtpSdkLoader,
} from "./xmtp";

const ACK_TIMEOUT_MS = 10_000;
const RETRY_MS = 1000;
/** Renew the typing flag this often while typing; the server drops it after 5 s without renewal. */
const TYPING_RENEW_MS = 2000;
/** Codes worth sending the same message again for; anything else is a final refusal. */
const RETRYABLE = new Set(["rate_limited", "unavailable", "internal"]);

export interface ChatConnectionOptions {
  chatId: string;
  session: Session;
  store: Store<ChatState, Action>;
  outbox: Outbox;
  onSocket(connected: boolean): void;
  onXmtp(ready: boolean): void;
  onProblem(message: string | null): void;
  onAuthFailed(): void;
  /** Where the XMTP SDK comes from; the lazy import of @xmtp/browser-sdk unless given. */
  loadXmtpSdk?: XmtpSdkLoader;
}

export class ChatConnection {
  private socket: Socket | null = null;
  private xmtp: XmtpChat | null = null;
  private stopped = false;
  private joinedOnce = false;
  private outboxLoaded: Promise<void> = Promise.resolve();
  /** client_ids with a `send` awaiting its ack on the current connection. */
  private readonly inflight = new Set<string>();
  /** client_id → server message id, and → XMTP id: both known means an `attest` is due. */
  private readonly serverIds = new Map<string, string>();
  private readonly xmtpIds = new Map<string, string>();
  private readonly attested = new Set<string>();
  private typingSentAt = 0;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly o: ChatConnectionOptions) {}

  start(): void {
    this.outboxLoaded = this.loadOutbox();
    this.connectSocket();
    void this.connectXmtp();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.connectTimer);
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
    this.xmtp?.close();
    this.xmtp = null;
  }

  private get chatId() {
    return this.o.chatId;
  }

  private dispatch(action: Action) {
    if (!this.stopped) this.o.store.dispatch(action);
  }

  private async loadOutbox(): Promise<void> {
    const entries = await this.o.outbox.list(this.chatId, this.o.session.address).catch(() => []);
    this.dispatch({ type: "localAdded", entries });
  }

  private connectSocket(): void {
    const socket = io(config.serverUrl, {
      transports: ["websocket"], // the server refuses long-polling
      auth: { token: this.o.session.token },
      // Come back quickly after an outage: the outbox is waiting.
      reconnectionDelay: 500,
      reconnectionDelayMax: 2000,
      randomizationFactor: 0.3,
      autoConnect: false,
    });
    this.socket = socket;
    // Connect on the next task: React's development double mount stops this connection at once, and a socket
    // closed while still connecting makes the browser log a warning.
    this.connectTimer = setTimeout(() => socket.connect(), 0);
    socket.on("connect", () => {
      this.o.onSocket(true);
      this.o.onProblem(null);
      this.join(socket);
      void this.flush();
    });
    socket.on("disconnect", (reason) => {
      this.inflight.clear();
      this.typingSentAt = 0;
      this.o.onSocket(false);
      // The client reconnects by itself except after a server-side disconnect.
      if (reason === "io server disconnect" && !this.stopped) socket.connect();
    });
    socket.on("connect_error", (error) => {
      if (error.message === "unauthorized") {
        socket.disconnect();
        this.o.onAuthFailed();
      }
    });
    const onMessage = (message: Message) => this.dispatch({ type: "socketMessages", messages: [message] });
    socket.on("message", onMessage);
    socket.on("message:update", onMessage);
    socket.on("typing", (event: TypingEvent) => {
      if (event.chat_id === this.chatId) {
        this.dispatch({ type: "typing", address: event.address, typing: event.typing, now: Date.now() });
      }
    });
    socket.on("presence", (event: PresenceEvent) => {
      if (event.chat_id === this.chatId) this.dispatch({ type: "presence", address: event.address, online: event.online });
    });
  }

  /** First join: the latest page; every later one: all changes after the highest rev seen, so nothing is missed. */
  private join(socket: Socket): void {
    const sinceRev = this.joinedOnce ? this.o.store.getState().highestRev : null;
    const payload = sinceRev === null ? { chat_id: this.chatId } : { chat_id: this.chatId, since_rev: sinceRev };
    socket.timeout(ACK_TIMEOUT_MS).emit("join", payload, (err: Error | null, ack: Ack<JoinAck>) => {
      if (this.stopped || socket !== this.socket) return;
      if (err) {
        if (socket.connected) this.join(socket);
        return;
      }
      if (!ack.ok) {
        this.o.onProblem(ack.error.message);
        return;
      }
      this.joinedOnce = true;
      this.dispatch({ type: "joined", ack, sinceRev });
      if (sinceRev !== null && ack.has_more) void this.catchUp(ack.chat.rev);
    });
  }

  /** Pages the rest of a catch-up that `join` cut short. */
  private async catchUp(targetRev: number): Promise<void> {
    try {
      for (;;) {
        const since = this.o.store.getState().highestRev;
        const page = await api.changes(this.o.session.token, this.chatId, since);
        this.dispatch({ type: "changesPage", messages: page.changes, completeRev: page.has_more ? null : targetRev });
        if (!page.has_more || this.stopped) return;
      }
    } catch {
      // The next reconnect resumes from the highest rev reached.
    }
  }

  /** Sends every pending message again, oldest first, with its original client_id. */
  private async flush(): Promise<void> {
    await this.outboxLoaded;
    const pending = Object.values(this.o.store.getState().local)
      .filter((m) => !m.error)
      .sort((a, b) => a.created_at - b.created_at);
    for (const message of pending) this.emitSend(message);
    for (const clientId of this.xmtpIds.keys()) this.attestIfDue(clientId);
  }

  private emitSend(message: LocalMessage): void {
    const socket = this.socket;
    const id = message.client_id;
    if (!socket?.connected || this.inflight.has(id)) return;
    this.inflight.add(id);
    const payload = {
      chat_id: this.chatId,
      client_id: id,
      body: message.body,
      ...(message.tx ? { tx: message.tx } : {}),
      ...(message.xmtp_id ? { xmtp_id: message.xmtp_id, keyed: true } : {}),
    };
    socket.timeout(ACK_TIMEOUT_MS).emit("send", payload, (err: Error | null, ack: Ack<{ message: Message }>) => {
      this.inflight.delete(id);
      if (this.stopped || socket !== this.socket) return;
      if (err) {
        // Timed out on a live connection: try again; after a disconnect the reconnect flushes it.
        if (socket.connected) this.retry(id, RETRY_MS);
        return;
      }
      if (ack.ok) {
        this.dispatch({ type: "sendAcked", clientId: id, message: ack.message });
        void this.o.outbox.remove(id).catch(() => undefined);
        this.serverIds.set(id, ack.message.id);
        if (ack.message.xmtp_id) this.attested.add(id);
        this.attestIfDue(id);
      } else if (RETRYABLE.has(ack.error.code)) {
        this.retry(id, ack.error.retry_after_ms ?? RETRY_MS);
      } else {
        this.dispatch({ type: "sendRejected", clientId: id, error: ack.error.message });
        void this.o.outbox.remove(id).catch(() => undefined);
      }
    });
  }

  private retry(clientId: string, delayMs: number): void {
    setTimeout(() => {
      const latest = this.o.store.getState().local[clientId];
      if (latest && !latest.error && !this.stopped) this.emitSend(latest);
    }, delayMs);
  }

  async send(body: string, tx: Tx | null = null): Promise<void> {
    const message: LocalMessage = {
      client_id: crypto.randomUUID(),
      chat_id: this.chatId,
      sender: this.o.session.address,
      body,
      tx,
      created_at: nextCreatedAt(),
    };
    this.dispatch({ type: "localAdded", entries: [message] });
    this.stopTyping();
    // Written before it is sent, so a reload or crash cannot lose it. Without IndexedDB it is still sent.
    await this.o.outbox.put(message).catch(() => undefined);
    this.emitSend(message);
    if (this.xmtp) void this.sendOverXmtp(this.xmtp, message);
  }

  private async sendOverXmtp(xmtp: XmtpChat, message: LocalMessage): Promise<void> {
    const xmtpId = await xmtp.sendText(message.body, message.client_id);
    if (!xmtpId || this.stopped) return;
    this.xmtpIds.set(message.client_id, xmtpId);
    const pending = this.o.store.getState().local[message.client_id];
    if (pending) {
      // Not acked yet: a re-send will carry the XMTP id itself.
      this.dispatch({ type: "localXmtp", clientId: message.client_id, xmtpId });
      await this.o.outbox.put({ ...message, xmtp_id: xmtpId }).catch(() => undefined);
    }
    this.attestIfDue(message.client_id);
  }

  /** Links our server message to its XMTP copy; keyed, so the server can bind the copy to the content. */
  private attestIfDue(clientId: string): void {
    const messageId = this.serverIds.get(clientId);
    const xmtpId = this.xmtpIds.get(clientId);
    const socket = this.socket;
    if (!messageId || !xmtpId || this.attested.has(clientId) || !socket?.connected) return;
    this.attested.add(clientId);
    socket
      .timeout(ACK_TIMEOUT_MS)
      .emit(
        "attest",
        { chat_id: this.chatId, message_id: messageId, xmtp_id: xmtpId, keyed: true },
        (err: Error | null, ack: Ack<{ message: Message }>) => {
          if (err) this.attested.delete(clientId); // retried on the next flush
          else if (ack.ok) this.dispatch({ type: "fetchedMessages", messages: [ack.message] });
        },
      );
  }

  /** Called on every keystroke; tells the others at most every 2 s. */
  typing(): void {
    const now = Date.now();
    if (!this.socket?.connected || now - this.typingSentAt < TYPING_RENEW_MS) return;
    this.typingSentAt = now;
    this.socket.emit("typing", { chat_id: this.chatId, typing: true });
  }

  stopTyping(): void {
    if (this.typingSentAt === 0) return;
    this.typingSentAt = 0;
    if (this.socket?.connected) this.socket.emit("typing", { chat_id: this.chatId, typing: false });
  }

  /** One page of older history over REST, below the lowest seq held. */
  async loadOlder(): Promise<void> {
    const state = this.o.store.getState();
    const lowest = lowestSeq(state);
    if (!state.hasOlder || lowest === null || lowest <= 1) return;
    const page = await api.messagesBefore(this.o.session.token, this.chatId, lowest);
    this.dispatch({ type: "olderPage", messages: page.messages, hasMore: page.has_more });
  }

  /** Drops a message the server refused for good. */
  discard(clientId: string): void {
    this.dispatch({ type: "localRemoved", clientId });
    void this.o.outbox.remove(clientId).catch(() => undefined);
  }

  private async connectXmtp(): Promise<void> {
    if (!xmtpEnabled() || !isXmtpConversationId(this.chatId)) return;
    const wallet = walletForSession(this.o.session.wallet, this.o.session.address);
    if (!wallet) return;
    const client = await getXmtpClient(wallet, this.o.loadXmtpSdk);
    if (!client || this.stopped) return;
    const chat = await openXmtpChat(client, this.chatId, (copy) => this.dispatch({ type: "xmtpReceived", copy }));
    if (!chat) return;
    if (this.stopped) {
      chat.close();
      return;
    }
    this.xmtp = chat;
    this.o.onXmtp(true);
  }
}
