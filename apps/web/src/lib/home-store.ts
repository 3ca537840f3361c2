// The start page's data, without React: the chat list page by page, its error, XMTP coming up in the background
// (its conversations mirrored, then the list loaded again), and the actions (new DM or group, sign-out). The list is
// live (contract v1.2): a socket that joins no chat hears `chat:update`, `chat:removed`, `chat:activity` and our own
// `receipt`, and every (re)connect reads the list again; a failed read is retried by itself. Others' messages the
// list shows have reached this device: they are marked delivered. The page renders
// `getState()` through `useHome`.
import { io, type Socket } from "socket.io-client";
import { api, ApiError } from "./api";
import { signOut as endSession } from "./auth";
import { chatActivity, chatRemoved, chatUpdated, ownReceipt, undelivered } from "./chat-list-live";
import { appendPage, firstPage, readPage, type ChatListState } from "./chat-pages";
import { config } from "./config";
import { deviceStorage } from "./device-storage";
import { browserNetwork, followNetwork, type NetworkEvents } from "./network";
import { forgetPersonalPages } from "./offline-shell";
import { forgetPush } from "./push";
import { Retryer } from "./retry";
import { saveSession, type Session } from "./session";
import type { Chat, ChatActivity, ReceiptEvent, Settings } from "./types";
import { walletForSession } from "./wallet";
import { allowXmtp, getXmtpClient, registerXmtpConversations, startXmtpDm, xmtpEnabled, type XmtpClient } from "./xmtp";

export interface HomeState {
  /** Null until the first page came. */
  list: ChatListState | null;
  loadingMore: boolean;
  error: string | null;
  xmtp: XmtpClient | null;
  /** XMTP conversations not mirrored (the server holds their id with other people in it). */
  xmtpOnly: number;
  /** The account's settings (v1.2); null until read, or when the server has none. */
  settings: Settings | null;
  settingsError: string | null;
}

export const initialHomeState: HomeState = {
  list: null,
  loadingMore: false,
  error: null,
  xmtp: null,
  xmtpOnly: 0,
  settings: null,
  settingsError: null,
};

type Owner = Pick<Session, "token" | "address" | "wallet">;

/** A failed read of the list is tried again after this, doubling up to LIST_RETRY_MAX_MS. */
export const LIST_RETRY_MS = 1000;
const LIST_RETRY_MAX_MS = 15_000;
/** `mark`s sent at once for what the list shows, well under the per-address event burst; the rest go with the next
 * change of the list. */
const DELIVERED_AT_ONCE = 10;

export class HomeStore {
  private state: HomeState = initialHomeState;
  private readonly listeners = new Set<() => void>();
  /** The newest token, for work started under an older one (a renewal changes it; the page carries on). */
  private token: string;
  /** Bumped to drop the answers of a list load or XMTP set-up that a newer one (or close) replaced. */
  private listRun = 0;
  private xmtpRun = 0;
  private socket: Socket | null = null;
  /** The page closed: late answers are dropped. */
  private closed = false;
  /** Reads that failed in a row: the next retry waits longer. */
  private failures = 0;
  private readonly retryer = new Retryer(() => this.reload());
  /** The delivered_seq asked for per chat on this connection: not asked again. */
  private readonly deliveredAsked = new Map<string, number>();

  constructor(
    private readonly owner: Owner,
    private readonly network: NetworkEvents | null = browserNetwork(),
  ) {
    this.token = owner.token;
  }

  getState = (): HomeState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private set(change: Partial<HomeState>): void {
    this.state = { ...this.state, ...change };
    for (const listener of this.listeners) listener();
    if (change.list) this.markDelivered();
  }

  /** Others' latest messages the list shows have reached this device: marked delivered, once per chat and seq on a
   * connection. */
  private markDelivered(): void {
    const { list } = this.state;
    const socket = this.socket;
    if (!list || !socket?.connected) return;
    const due = undelivered(list, this.owner.address).filter((m) => m.delivered_seq > (this.deliveredAsked.get(m.chat_id) ?? 0));
    for (const mark of due.slice(0, DELIVERED_AT_ONCE)) {
      this.deliveredAsked.set(mark.chat_id, mark.delivered_seq);
      socket.emit("mark", mark, () => undefined);
    }
  }

  /** Loads the first page and brings XMTP up; the returned function drops what they answer after it. */
  start(): () => void {
    this.reload();
    this.startXmtp();
    const closeSocket = this.follow();
    return () => {
      this.listRun++;
      this.xmtpRun++;
      this.retryer.cancel();
      this.closed = true;
      closeSocket();
    };
  }

  /** The socket of the live list; the returned function closes it. */
  private follow(): () => void {
    const socket = io(config.serverUrl, {
      transports: ["websocket"],
      auth: (give) => give({ token: this.token }),
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      autoConnect: false,
    });
    this.socket = socket;
    let connectedBefore = false;
    socket.on("connect", () => {
      // Events missed while away are not replayed: the list is read again (the first read is under way already).
      if (connectedBefore || this.state.error) this.reload();
      connectedBefore = true;
      this.deliveredAsked.clear();
      this.markDelivered();
    });
    socket.on("chat:update", (chat: Chat) => this.change((list) => chatUpdated(list, chat)));
    socket.on("chat:removed", (event: { chat_id: string }) => this.change((list) => chatRemoved(list, event.chat_id)));
    socket.on("chat:activity", (event: ChatActivity) => this.activity(event));
    socket.on("receipt", (event: ReceiptEvent) => this.change((list) => ownReceipt(list, event, this.owner.address)));
    const timer = setTimeout(() => socket.connect(), 0); // as ChatConnection: a double mount stops it first
    const unwatch = followNetwork(this.network, () => this.socket);
    return () => {
      clearTimeout(timer);
      unwatch();
      socket.removeAllListeners();
      socket.disconnect();
      this.socket = null;
    };
  }

  private change(next: (list: ChatListState) => ChatListState): void {
    const list = this.state.list;
    if (!list) return;
    const changed = next(list);
    if (changed !== list) this.set({ list: changed });
  }

  /** A new message: the list follows (and marks it delivered); a chat it does not hold is read. */
  private activity(event: ChatActivity): void {
    const list = this.state.list;
    if (!list) return;
    const next = chatActivity(list, event, this.owner.address);
    if (next === null) {
      api.chat(this.token, event.chat_id).then(({ chat }) => this.change((held) => chatUpdated(held, chat)), () => undefined);
    } else if (next !== list) {
      this.set({ list: next });
    }
  }

  /** A renewed token: used from now on, and the live list's socket, if the server ended it with the old one,
   * connects again with it. */
  sessionChanged(token: string): void {
    this.token = token;
    if (this.socket && !this.socket.connected && this.socket.active === false) this.socket.connect();
  }

  /** The first page again; an older load still running is dropped. */
  reload(): void {
    const run = ++this.listRun;
    this.retryer.cancel();
    api.listChats(this.token).then(
      (page) => {
        if (run !== this.listRun) return;
        this.failures = 0;
        this.set({ list: firstPage(readPage(page)), error: null });
      },
      (e: unknown) => run === this.listRun && this.failed(e),
    );
  }

  loadMore(): void {
    const { list, loadingMore } = this.state;
    if (!list?.cursor || loadingMore) return;
    this.set({ loadingMore: true });
    api
      .listChats(this.token, list.cursor)
      .then((page) => {
        const held = this.state.list;
        if (held) this.set({ list: appendPage(held, readPage(page)) });
      }, (e: unknown) => this.failed(e))
      .finally(() => this.set({ loadingMore: false }));
  }

  /** A refused session ends; anything else (the server away, a network down) is said and tried again by itself. */
  private failed(e: unknown): void {
    if (e instanceof ApiError && e.code === "unauthorized") {
      saveSession(null);
      return;
    }
    this.set({ error: "Your chats could not be loaded: trying again" });
    this.retryer.after(Math.min(LIST_RETRY_MS * 2 ** this.failures, LIST_RETRY_MAX_MS));
    this.failures++;
  }

  /** XMTP comes up in the background; once it does, its conversations are mirrored and listed too. */
  private startXmtp(): void {
    if (!xmtpEnabled()) return;
    const run = ++this.xmtpRun;
    const live = () => run === this.xmtpRun;
    void (async () => {
      const wallet = await walletForSession(this.owner.wallet, this.owner.address);
      const client = wallet && live() ? await getXmtpClient(wallet) : null;
      if (!client || !live()) return;
      this.set({ xmtp: client });
      const alone = await registerXmtpConversations(client, this.token);
      if (!live()) return;
      this.set({ xmtpOnly: alone.length });
      this.reload();
    })();
  }

  /** The settings, read when the panel is opened (not on every visit: a v1.1 server has none, and a browser reports
   * each refused request on its console). */
  loadSettings(): void {
    if (this.state.settings) return;
    api.settings(this.token).then(
      ({ settings }) => !this.closed && this.set({ settings, settingsError: null }),
      (e: unknown) =>
        !this.closed &&
        this.set({ settingsError: e instanceof ApiError && e.status === 404 ? "This server has no settings" : "Settings could not be read" }),
    );
  }

  /** A change of settings (read receipts, push previews): shown at once, put back when the server refuses. */
  changeSettings(change: Partial<Settings>): void {
    const held = this.state.settings;
    if (!held) return;
    this.set({ settings: { ...held, ...change }, settingsError: null });
    api.putSettings(this.token, change).then(
      ({ settings }) => this.set({ settings }),
      (e: unknown) => this.set({ settings: held, settingsError: e instanceof Error ? e.message : "Not saved" }),
    );
  }

  /** The user turned XMTP on: the set-up runs again, and may now ask the wallet to sign. */
  turnOnXmtp(): void {
    allowXmtp(this.owner.address);
    this.startXmtp();
  }

  /** A DM over XMTP when the peer is there (and the server's copy has the same two people), else on the server. */
  async openDm(peer: string): Promise<string> {
    const { xmtp } = this.state;
    const xmtpChatId = xmtp ? await startXmtpDm(xmtp, this.token, peer) : null;
    return xmtpChatId ?? (await api.createChat(this.token, { members: [peer] })).chat.id;
  }

  async openGroup(title: string, members: string[]): Promise<string> {
    return (await api.createChat(this.token, { members, ...(title ? { title } : {}) })).chat.id;
  }

  /** Signing out ends the session on the server and forgets what this device cached of the user's chats, their kept
   * pages included (an expired session keeps it). */
  signOut(): void {
    void deviceStorage().history.forget(this.owner.address).catch(() => undefined);
    void forgetPush(this.owner.address).catch(() => undefined);
    void forgetPersonalPages().catch(() => undefined);
    void endSession(this.token);
  }
}
