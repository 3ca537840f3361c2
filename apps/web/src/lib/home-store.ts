// The start page's data, without React: the chat list page by page, its error, XMTP coming up in the background
// (its conversations mirrored, then the list loaded again), and the actions (new DM or group, sign-out). The page
// renders `getState()` through `useHome`.
import { api, ApiError } from "./api";
import { signOut as endSession } from "./auth";
import { appendPage, firstPage, readPage, type ChatListState } from "./chat-pages";
import { deviceStorage } from "./device-storage";
import { saveSession, type Session } from "./session";
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
}

export const initialHomeState: HomeState = { list: null, loadingMore: false, error: null, xmtp: null, xmtpOnly: 0 };

type Owner = Pick<Session, "token" | "address" | "wallet">;

export class HomeStore {
  private state: HomeState = initialHomeState;
  private readonly listeners = new Set<() => void>();
  /** The newest token, for work started under an older one (a renewal changes it; the page carries on). */
  private token: string;
  /** Bumped to drop the answers of a list load or XMTP set-up that a newer one (or close) replaced. */
  private listRun = 0;
  private xmtpRun = 0;

  constructor(private readonly owner: Owner) {
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
  }

  /** Loads the first page and brings XMTP up; the returned function drops what they answer after it. */
  start(): () => void {
    this.reload();
    this.startXmtp();
    return () => {
      this.listRun++;
      this.xmtpRun++;
    };
  }

  sessionChanged(token: string): void {
    this.token = token;
  }

  /** The first page again; an older load still running is dropped. */
  reload(): void {
    const run = ++this.listRun;
    api.listChats(this.token).then(
      (page) => run === this.listRun && this.set({ list: firstPage(readPage(page)) }),
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

  private failed(e: unknown): void {
    if (e instanceof ApiError && e.code === "unauthorized") saveSession(null);
    else this.set({ error: "Your chats could not be loaded" });
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

  /** Signing out ends the session on the server and forgets what this device cached of the user's chats (an expired
   * session keeps it). */
  signOut(): void {
    void deviceStorage().history.forget(this.owner.address).catch(() => undefined);
    void endSession(this.token);
  }
}
