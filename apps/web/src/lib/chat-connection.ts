// One open chat's link to the server (Socket.IO) and, when available, to XMTP. It turns socket events, acks,
// REST pages and XMTP copies into reducer actions, and owns the send path: outbox first, then the socket (and
// XMTP), re-sending the outbox with the same client_ids on every (re)connect. React stays out of it.
import { io, type Socket } from "socket.io-client";
import { api, ApiError } from "./api";
import { config } from "./config";
import { initialLifecycle, maySend, transition, type Lifecycle, type LifecycleEvent } from "./connection-lifecycle";
import { HistoryWriter, type History } from "./history";
import { lowestSeq, type Action, type ChatState, type LocalMessage } from "./messages-reducer";
import { sameMembers } from "./mirror";
import { browserNetwork, followNetwork, type NetworkEvents } from "./network";
import { Marker } from "./marker";
import { nextCreatedAt, type Outbox } from "./outbox";
import { RETRY_MS, retryDelay, Retryer } from "./retry";
import type { Session } from "./session";
import type { Store } from "./store";
import type { Ack, Chat, ChatConfirmed, JoinAck, Message, PresenceEvent, ReceiptEvent, Tx, TypingEvent } from "./types";
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
/** The server's protocol extensions this client takes (docs/protocol.md): plain messages confirmed per chat. */
export const SOCKET_FEATURES = ["chat:confirmed"];
/** After the server refused the connection for another reason than the token (too many sockets for this address),
 * which socket.io-client does not retry by itself: try again this much later. */
export const REFUSED_RETRY_MS = 5000;
/** The first join waits this long at most for the history cache (IndexedDB can be slow, or stuck). */
const CACHE_WAIT_MS = 500;
/** Renew the typing flag this often while typing; the server drops it after 5 s without renewal. */
const TYPING_RENEW_MS = 2000;

export interface ChatConnectionOptions {
  chatId: string;
  /** The session the chat opens with; sessionChanged() hands over its successors. */
  session: Session;
  /** After the server ended the session (`session:expired`, or a refused token): a valid session other than the
   * one with `expiredToken`, got silently where that is possible (a renewed one, a burner signing in again), or
   * null when only the user can sign in again. */
  refreshSession(expiredToken: string): Promise<Session | null>;
  store: Store<ChatState, Action>;
  outbox: Outbox;
  history: History;
  onSocket(connected: boolean): void;
  onXmtp(ready: boolean): void;
  onProblem(message: string | null): void;
  onAuthFailed(): void;
  /** A session handed over after onAuthFailed: the chat carries on (the "sign in again" notice can go). */
  onAuthResumed(): void;
  /** Where the XMTP SDK comes from; the lazy import of @xmtp/browser-sdk unless given. */
  loadXmtpSdk?: XmtpSdkLoader;
  /** Where the browser says it went offline or online; the window unless given. */
  network?: NetworkEvents | null;
}

export class ChatConnection {
  private socket: Socket | null = null;
  private xmtp: XmtpChat | null = null;
  /** Live, refreshing, expired or closed: changed only through `move`. */
  private lifecycle: Lifecycle = initialLifecycle;
  private joinedOnce = false;
  private outboxLoaded: Promise<void> = Promise.resolve();
  /** The history cache read (or found empty, or given up on): the first join waits for it, to ask only for what
   * came since. */
  private historyLoaded: Promise<void> = Promise.resolve();
  private readonly historyWriter: HistoryWriter;
  private unsubscribe: () => void = () => undefined;
  /** The socket whose `join` awaits its ack: one at a time. */
  private joining: Socket | null = null;
  /** The one `send` awaiting its ack on the current connection: sends go one at a time, oldest first, so a
   * retryable refusal can hold back everything behind it and the server stores them in the order written. */
  private sendSlot: { clientId: string } | null = null;
  /** Waiting out a retryable refusal before sending again. */
  private readonly retryer = new Retryer(() => void this.pump());
  /** The newest token we hold: the next (re)connect and every REST call use it. */
  private token: string;
  /** The token the current (or last) connection was opened with: what the server ends or refuses on the socket. */
  private connectedWith: string | null = null;
  /** Bumped to abandon a running catch-up (a newer join or a disconnect). */
  private catchUpGeneration = 0;
  /** client_id → server message id, and → XMTP id: both known means an `attest` is due. */
  private readonly serverIds = new Map<string, string>();
  private readonly xmtpIds = new Map<string, string>();
  private readonly attested = new Set<string>();
  private typingSentAt = 0;
  /** Called once by stop(): what waits on this chat gives up. */
  private readonly onStop = new Set<() => void>();
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Our read and delivered positions, sent as `mark`. */
  private readonly marker: Marker;
  /** client_ids sent over XMTP as replies: their XMTP copy is no text, so the server cannot bind it to the content. */
  private readonly xmtpReplies = new Set<string>();

  constructor(private readonly o: ChatConnectionOptions) {
    this.token = o.session.token;
    this.marker = new Marker({
      chatId: o.chatId,
      state: () => o.store.getState(),
      socket: () => {
        const socket = this.socket;
        const joined = o.store.getState().membership === "member" && this.joining === null;
        return socket?.connected && joined && maySend(this.lifecycle) ? socket : null;
      },
      marked: (p) => {
        const before = o.store.getState().positions[o.session.address.toLowerCase()]?.read_seq ?? 0;
        this.dispatch({ type: "receipt", positions: { address: o.session.address, ...p } });
        // Where XMTP is the path, its copy of the chat hears that we read on too (its read receipt content type).
        if (p.read_seq > before && this.xmtp) void this.xmtp.sendReadReceipt();
      },
    });
    this.historyWriter = new HistoryWriter(o.history, o.session.address, () => o.store.getState());
  }

  start(): void {
    this.historyLoaded = Promise.race([this.loadHistory(), new Promise<void>((r) => setTimeout(r, CACHE_WAIT_MS))]);
    this.outboxLoaded = this.loadOutbox();
    this.unsubscribe = this.o.store.subscribe(() => this.historyWriter.changed());
    this.connectSocket();
    const unwatch = followNetwork(this.o.network === undefined ? browserNetwork() : this.o.network, () => this.socket);
    this.onStop.add(unwatch);
    void this.connectXmtp();
  }

  stop(): void {
    this.historyWriter.close();
    this.unsubscribe();
    this.move({ type: "stopped" });
    this.marker.stop();
    clearTimeout(this.connectTimer);
    this.retryer.cancel();
    this.catchUpGeneration++;
    this.socket?.removeAllListeners();
    this.socket?.disconnect();
    this.socket = null;
    this.xmtp?.close();
    this.xmtp = null;
    for (const giveUp of [...this.onStop]) giveUp();
    this.onStop.clear();
  }

  private get chatId() {
    return this.o.chatId;
  }

  private get stopped(): boolean {
    return this.lifecycle.kind === "closed";
  }

  /** The one place the lifecycle changes; returns the new state. */
  private move(event: LifecycleEvent): Lifecycle {
    this.lifecycle = transition(this.lifecycle, event);
    return this.lifecycle;
  }

  /** Applies an action; any local entry it settles or drops (ack, echo, catch-up, discard) leaves the outbox too. */
  private dispatch(action: Action) {
    if (this.stopped) return;
    const before = this.o.store.getState().local;
    this.o.store.dispatch(action);
    this.marker.due();
    const after = this.o.store.getState().local;
    if (after === before) return;
    for (const clientId of Object.keys(before)) {
      if (!(clientId in after)) this.removeFromOutbox(clientId);
    }
  }

  private removeFromOutbox(clientId: string): void {
    void this.o.outbox.remove(clientId).catch(() => undefined);
  }

  private async loadHistory(): Promise<void> {
    const cached = await this.o.history.load(this.o.session.address, this.chatId).catch(() => null);
    if (!cached) return;
    this.dispatch({ type: "restored", cached });
    this.historyWriter.loaded();
  }

  /** Writes what the history cache does not hold yet (the page is being hidden or unloaded). */
  flushHistory(): void {
    this.historyWriter.flush();
  }

  /** What we hold of the server's copies is no history of this server (its data was reset, or the chat is gone):
   * drop it, here and in the cache, and keep only what we wrote ourselves. */
  private startAfresh(): void {
    void this.o.history.remove(this.o.session.address, this.chatId).catch(() => undefined);
    this.joinedOnce = false;
    this.serverIds.clear();
    this.attested.clear();
    this.dispatch({ type: "serverReset" });
  }

  private async loadOutbox(): Promise<void> {
    const entries = await this.o.outbox.list(this.chatId, this.o.session.address).catch(() => []);
    this.dispatch({ type: "localAdded", entries });
    // Entries the server already holds (acked before the page closed) are not pending: drop them for good.
    const state = this.o.store.getState();
    for (const entry of entries) {
      if (entry.chat_id === this.chatId && !state.local[entry.client_id]) this.removeFromOutbox(entry.client_id);
    }
  }

  /** The server refused the session token (expired): ask the user to sign in again, once. */
  private authFailed(event: LifecycleEvent = { type: "authFailed" }): void {
    const before = this.lifecycle;
    if (this.move(event) !== before && this.lifecycle.kind === "expired") this.o.onAuthFailed();
  }

  /** The server ended or refused the session of `refused`: carry on with a newer token when we hold one already (a
   * renewal came while the socket ran on the old one), else with a fresh session when it can be had without the user,
   * else ask them. Rejoining with the same highest rev and flushing the outbox follow from the reconnect. */
  private async refreshSession(refused: string | null): Promise<void> {
    if (this.lifecycle.kind !== "live") return;
    if (refused !== this.token) {
      this.reconnect();
      return;
    }
    if (this.move({ type: "refreshStarted" }).kind !== "refreshing") {
      // Refreshed once already since the last connect, or signed out: only the user can sign in again.
      this.authFailed();
      return;
    }
    const next = await this.o.refreshSession(this.token).catch(() => null);
    if (this.stopped) return;
    if (!next) {
      this.authFailed({ type: "refreshEnded", renewed: false });
      return;
    }
    this.move({ type: "refreshEnded", renewed: true });
    this.token = next.token;
    this.reconnect();
  }

  /** A new connection, with the current token. */
  private reconnect(): void {
    const socket = this.socket;
    if (!socket) return;
    if (socket.connected) socket.disconnect();
    socket.connect();
  }

  /** A newer session for the same address (renewed, or signed in again after an expiry). */
  sessionChanged(session: Session): void {
    if (session.token === this.token || session.expires_at <= Date.now()) return;
    this.token = session.token;
    const wasExpired = this.lifecycle.kind === "expired";
    this.move({ type: "sessionChanged" });
    if (!wasExpired) return;
    this.o.onAuthResumed();
    this.reconnect();
  }

  private connectSocket(): void {
    const socket = io(config.serverUrl, {
      transports: ["websocket"], // the server refuses long-polling
      // Read at every (re)connect, so a renewed token is the one used.
      auth: (give) => {
        this.connectedWith = this.token;
        give({ token: this.token, features: SOCKET_FEATURES });
      },
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
      this.move({ type: "connected" });
      this.marker.connected();
      this.o.onSocket(true);
      this.o.onProblem(null);
      void this.historyLoaded.then(() => this.join(socket));
      void this.flush();
    });
    socket.on("disconnect", (reason) => {
      this.sendSlot = null;
      this.joining = null;
      this.catchUpGeneration++;
      this.typingSentAt = 0;
      this.o.onSocket(false);
      this.dispatch({ type: "disconnected" });
      // The client reconnects by itself except after a server-side disconnect; one that ends the session needs a
      // new session first.
      if (reason !== "io server disconnect" || this.stopped) return;
      if (this.lifecycle.kind !== "closed" && this.lifecycle.ending) void this.refreshSession(this.connectedWith);
      else socket.connect();
    });
    socket.on("connect_error", (error) => {
      if (error.message === "unauthorized") {
        socket.disconnect();
        void this.refreshSession(this.connectedWith);
      } else if (!socket.active && !this.stopped) {
        // Refused by the server (a network failure leaves the socket active: socket.io-client retries that itself).
        clearTimeout(this.connectTimer);
        this.connectTimer = setTimeout(() => {
          if (!this.stopped && !socket.connected) socket.connect();
        }, REFUSED_RETRY_MS);
      }
    });
    // Sent just before the server disconnects a socket whose token expires or whose session was signed out
    // ({expires_at, reason: "expired" | "logout"}).
    socket.on("session:expired", (event?: { reason?: string }) => {
      this.move({ type: "sessionEnding", signedOut: event?.reason === "logout" });
    });
    socket.on("chat:update", (chat: Chat) => this.dispatch({ type: "chatUpdated", chat }));
    socket.on("chat:removed", (event: { chat_id: string }) => this.dispatch({ type: "chatRemoved", chatId: event.chat_id }));
    const onMessage = (message: Message) => this.dispatch({ type: "socketMessages", messages: [message] });
    socket.on("message", onMessage);
    socket.on("message:update", onMessage);
    socket.on("chat:confirmed", (event: ChatConfirmed) => this.dispatch({ type: "chatConfirmed", event }));
    socket.on("typing", (event: TypingEvent) => {
      if (event.chat_id === this.chatId) {
        this.dispatch({ type: "typing", address: event.address, typing: event.typing, now: Date.now() });
      }
    });
    socket.on("receipt", (event: ReceiptEvent) => {
      if (event.chat_id !== this.chatId) return;
      const { address, read_seq, delivered_seq } = event;
      this.dispatch({ type: "receipt", positions: { address, read_seq, delivered_seq } });
    });
    socket.on("presence", (event: PresenceEvent) => {
      if (event.chat_id === this.chatId) this.dispatch({ type: "presence", address: event.address, online: event.online });
    });
  }

  /** A chat not seen before: the latest page; one joined before or restored from the history cache: all changes
   * after the highest rev seen, so nothing is missed. */
  private join(socket: Socket): void {
    if (this.stopped || socket !== this.socket || !socket.connected || this.joining === socket) return;
    const state = this.o.store.getState();
    const restored = !this.joinedOnce && state.chat !== null;
    const sinceRev = this.joinedOnce || restored ? state.highestRev : null;
    const payload = sinceRev === null ? { chat_id: this.chatId } : { chat_id: this.chatId, since_rev: sinceRev };
    this.joining = socket;
    socket.timeout(ACK_TIMEOUT_MS).emit("join", payload, (err: Error | null, ack: Ack<JoinAck>) => {
      if (this.joining === socket) this.joining = null;
      if (this.stopped || socket !== this.socket) return;
      if (err) {
        if (socket.connected) this.join(socket);
        return;
      }
      if (!ack.ok) {
        const code = ack.error.code;
        if (code === "unauthorized") {
          void this.refreshSession(this.connectedWith);
          return;
        }
        if (code === "not_found" || code === "forbidden") {
          if (restored) this.startAfresh();
          this.dispatch({ type: "notMember" });
        } else {
          this.o.onProblem(ack.error.message);
        }
        return;
      }
      if (sinceRev !== null && (!matchesServer(ack.chat, state) || (restored && ack.has_more))) {
        // Not this server's history (its data was reset), or a cache so old that paging from it would cost more
        // than the latest page: start afresh.
        this.startAfresh();
        this.join(socket);
        return;
      }
      this.joinedOnce = true;
      this.dispatch({ type: "joined", ack, sinceRev });
      if (sinceRev !== null && ack.has_more) {
        void this.catchUp(Math.max(sinceRev, ack.changes.at(-1)?.rev ?? sinceRev), ack.chat.rev);
      }
    });
  }

  /** Pages the rest of a catch-up that `join` cut short, with its own cursor: from the last rev of the join ack's
   * changes, then from each page's last rev (live events may be far ahead meanwhile; they are no cursor). */
  private async catchUp(fromRev: number, targetRev: number): Promise<void> {
    const generation = ++this.catchUpGeneration;
    let cursor = fromRev;
    let token = this.token;
    try {
      for (;;) {
        token = this.token;
        const page = await api.changes(token, this.chatId, cursor);
        if (this.stopped || generation !== this.catchUpGeneration) return;
        const last = page.changes.at(-1);
        if (last) cursor = Math.max(cursor, last.rev);
        this.dispatch({ type: "changesPage", messages: page.changes, completeRev: page.has_more ? null : targetRev });
        // has_more without changes would page the same cursor for ever; the next reconnect resumes from it.
        if (!page.has_more || !last) return;
      }
    } catch (error) {
      // The resume rev stays at the cursor: the next reconnect re-joins from there and repairs the hole.
      if (error instanceof ApiError && error.code === "unauthorized") void this.refreshSession(token);
    }
  }

  /** Sends every pending message again, oldest first, with its original client_id. */
  private async flush(): Promise<void> {
    await this.outboxLoaded;
    void this.pump();
    for (const clientId of this.xmtpIds.keys()) this.attestIfDue(clientId);
  }

  /** The oldest message still to send (final refusals stay shown, but are not sent again). */
  private nextPending(): LocalMessage | undefined {
    return Object.values(this.o.store.getState().local)
      .filter((m) => !m.error)
      .sort((a, b) => a.created_at - b.created_at)[0];
  }

  /** Sends the oldest pending message, and the next once it is acknowledged: one `send` in flight at a time. */
  private async pump(): Promise<void> {
    await this.outboxLoaded;
    const socket = this.socket;
    if (!maySend(this.lifecycle) || this.sendSlot || this.retryer.waiting) return;
    if (!socket?.connected) return; // the reconnect flushes
    const message = this.nextPending();
    if (!message) return;
    const id = message.client_id;
    const slot = { clientId: id };
    this.sendSlot = slot;
    const payload = {
      chat_id: this.chatId,
      client_id: id,
      body: message.body,
      ...(message.tx ? { tx: message.tx } : {}),
      ...(message.reply_to ? { reply_to: message.reply_to } : {}),
      ...(message.xmtp_id ? { xmtp_id: message.xmtp_id, keyed: !message.reply_to } : {}),
    };
    socket.timeout(ACK_TIMEOUT_MS).emit("send", payload, (err: Error | null, ack: Ack<{ message: Message }>) => {
      const current = this.sendSlot === slot;
      if (current) this.sendSlot = null;
      if (this.stopped) return;
      if (!err && ack.ok) {
        this.dispatch({ type: "sendAcked", clientId: id, message: ack.message });
        this.removeFromOutbox(id);
        this.serverIds.set(id, ack.message.id);
        if (ack.message.xmtp_id) this.attested.add(id);
        this.attestIfDue(id);
        if (current) void this.pump();
        return;
      }
      // An answer from before a disconnect: the reconnect has flushed again already.
      if (!current) return;
      const delay = err || ack.ok ? RETRY_MS : retryDelay(ack.error);
      if (err || ack.ok || delay !== null) {
        // Timed out on a live connection, or refused for now: try again, still ahead of everything written after it
        // (later messages wait too, so the order they were written in survives).
        this.retryer.after(delay ?? RETRY_MS);
      } else if (ack.error.code === "unauthorized") {
        // The session expired: the message stays pending (and in the outbox) for after the next sign-in.
        void this.refreshSession(this.connectedWith);
      } else {
        this.dispatch({ type: "sendRejected", clientId: id, error: ack.error.message });
        this.removeFromOutbox(id);
        void this.pump();
      }
    });
  }

  /** Sends `body` (with a payment's `tx` claim, or as a reply to the server message `replyTo`). */
  async send(body: string, tx: Tx | null = null, replyTo: string | null = null): Promise<void> {
    const message: LocalMessage = {
      client_id: crypto.randomUUID(),
      chat_id: this.chatId,
      sender: this.o.session.address,
      body,
      tx,
      created_at: nextCreatedAt(),
      ...(replyTo ? { reply_to: replyTo } : {}),
    };
    this.dispatch({ type: "localAdded", entries: [message] });
    this.stopTyping();
    // Written before it is sent, so a reload or crash cannot lose it. Without IndexedDB it is still sent.
    await this.o.outbox.put(message).catch(() => undefined);
    // Queued behind any older message still pending or backing off.
    void this.pump();
    if (this.xmtp) void this.sendOverXmtp(this.xmtp, message);
  }

  private async sendOverXmtp(xmtp: XmtpChat, message: LocalMessage): Promise<void> {
    const replied = message.reply_to ? this.o.store.getState().byId[message.reply_to] : undefined;
    // A reply goes over XMTP as its reply content type when the message answered has an XMTP copy; the server's copy
    // then links to it by attestation (a reply is no text: the server cannot bind it to the content).
    if (replied?.xmtp_id) this.xmtpReplies.add(message.client_id);
    const xmtpId = replied?.xmtp_id
      ? await xmtp.sendReply(message.body, { xmtp_id: replied.xmtp_id, sender: replied.sender }, message.client_id)
      : await xmtp.sendText(message.body, message.client_id);
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
        { chat_id: this.chatId, message_id: messageId, xmtp_id: xmtpId, keyed: !this.xmtpReplies.has(clientId) },
        (err: Error | null, ack: Ack<{ message: Message }>) => {
          if (err) this.attested.delete(clientId); // retried on the next flush
          else if (ack.ok) this.dispatch({ type: "fetchedMessages", messages: [ack.message] });
        },
      );
  }

  /** The newest message seen on screen with the page in the foreground: read up to it. */
  seen(seq: number): void {
    this.marker.seen(seq);
  }

  /** Adds or removes our `emoji` on a message (v1.2 `react`), and on its XMTP copy where XMTP is the path. */
  async react(messageId: string, emoji: string, added: boolean): Promise<void> {
    const action = added ? "added" : "removed";
    const message = await this.request("react", { chat_id: this.chatId, message_id: messageId, emoji, action });
    const target = message ?? this.o.store.getState().byId[messageId];
    if (message && this.xmtp && target?.xmtp_id) void this.xmtp.sendReaction({ xmtp_id: target.xmtp_id, sender: target.sender }, emoji, added);
  }

  /** Deletes our message for everyone (v1.2 `delete`): the server erases its text. */
  async deleteMessage(messageId: string): Promise<void> {
    await this.request("delete", { chat_id: this.chatId, message_id: messageId });
  }

  /** A message action over the socket; the message it answers is shown at once. Null (and the problem said) when it
   * could not be done. */
  private request(event: "react" | "delete", payload: Record<string, unknown>): Promise<Message | null> {
    const socket = this.socket;
    if (!socket?.connected) {
      this.o.onProblem("Not connected: try again once you are back online");
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err: Error | null, ack: Ack<{ message: Message }>) => {
        if (this.stopped) return resolve(null);
        if (!err && ack.ok) {
          this.dispatch({ type: "fetchedMessages", messages: [ack.message] });
          return resolve(ack.message);
        }
        this.o.onProblem(err || ack.ok ? "The server did not answer: try again" : ack.error.message);
        resolve(null);
      });
    });
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

  /** One page of older history over REST, below the oldest seq of the loaded window. */
  async loadOlder(): Promise<void> {
    const state = this.o.store.getState();
    const lowest = lowestSeq(state);
    if (!state.hasOlder || lowest === null || lowest <= 1) return;
    const page = await api.messagesBefore(this.token, this.chatId, lowest);
    this.dispatch({ type: "olderPage", messages: page.messages, hasMore: page.has_more });
  }

  /** The chat as a REST answer returned it (members added or removed here): shown before its `chat:update`. */
  chatChanged(chat: Chat): void {
    this.dispatch({ type: "chatUpdated", chat });
  }

  /** Drops a message the server refused for good. */
  discard(clientId: string): void {
    this.dispatch({ type: "localRemoved", clientId });
    this.removeFromOutbox(clientId);
  }

  private async connectXmtp(): Promise<void> {
    if (!xmtpEnabled() || !isXmtpConversationId(this.chatId)) return;
    const wallet = await walletForSession(this.o.session.wallet, this.o.session.address);
    if (!wallet || this.stopped) return;
    const client = await getXmtpClient(wallet, this.o.loadXmtpSdk);
    if (!client || this.stopped) return;
    const chat = await openXmtpChat(client, this.chatId, (copy) => this.dispatch({ type: "xmtpReceived", copy }));
    if (!chat) return;
    const server = await this.serverChat();
    // Never mirror a conversation into a server chat with other people in it (the id was registered by others).
    if (this.stopped || !server || !sameMembers(server.members, chat.members)) {
      chat.close();
      return;
    }
    this.xmtp = chat;
    this.o.onXmtp(true);
  }

  /** The server's chat once a join (or the history cache) has told it; null if the chat closes first (stop() dispatches
   * nothing, so it says so itself: else an XMTP stream opened meanwhile would be held open for good). */
  private serverChat(): Promise<Chat | null> {
    return new Promise((resolve) => {
      let unsubscribe = () => {};
      const settle = (chat: Chat | null) => {
        unsubscribe();
        this.onStop.delete(giveUp);
        resolve(chat);
      };
      const giveUp = () => settle(null);
      const check = () => {
        const { chat, membership } = this.o.store.getState();
        if (this.stopped || membership === "not-member") settle(null);
        else if (chat) settle(chat);
      };
      this.onStop.add(giveUp);
      unsubscribe = this.o.store.subscribe(check);
      check();
    });
  }
}

/** Whether what we hold can be this server's history of the chat: the same chat (created by the same person at the
 * same time), and the server has at least every rev and seq we saw. */
function matchesServer(chat: Chat, held: ChatState): boolean {
  const known = held.chat;
  if (known && (known.created_at !== chat.created_at || known.created_by.toLowerCase() !== chat.created_by.toLowerCase())) {
    return false;
  }
  const highestSeq = Object.values(held.byId).reduce((max, m) => Math.max(max, m.seq), 0);
  return chat.rev >= held.highestRev && chat.last_seq >= highestSeq;
}
