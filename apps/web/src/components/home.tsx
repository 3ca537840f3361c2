"use client";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useRef, useState } from "react";
import { ChatList } from "@/components/chat-list";
import { NewChat } from "@/components/new-chat";
import { useNames } from "@/hooks/use-contacts";
import { api, ApiError } from "@/lib/api";
import { signOut as endSession } from "@/lib/auth";
import { appendPage, firstPage, readPage, type ChatListState } from "@/lib/chat-pages";
import { deviceStorage } from "@/lib/device-storage";
import { distinctNames, generatedName } from "@/lib/names";
import { saveSession, type Session, type WalletKind } from "@/lib/session";
import { walletForSession } from "@/lib/wallet";
import {
  allowXmtp,
  getXmtpClient,
  registerXmtpConversations,
  startXmtpDm,
  xmtpAllowed,
  xmtpEnabled,
  type XmtpClient,
} from "@/lib/xmtp";

const WALLET_LABEL: Record<WalletKind, string> = {
  burner: "Burner wallet (development)",
  injected: "Browser wallet",
  minipay: "MiniPay",
  farcaster: "Farcaster wallet",
};

/** The signed-in start page: who I am, my chats (page by page), a new DM or group. */
export function Home({ session }: { session: Session }) {
  const router = useRouter();
  const plainName = useNames(session.address);
  const [list, setList] = useState<ChatListState | null>(null);
  // Everyone in the listed chats: two DMs whose people share a name must not look alike.
  const nameOf = useMemo(
    () => distinctNames(list?.chats.flatMap((chat) => chat.members) ?? [], plainName),
    [list, plainName],
  );
  const [loadingMore, setLoadingMore] = useState(false);
  const [xmtp, setXmtp] = useState<XmtpClient | null>(null);
  const [xmtpOnly, setXmtpOnly] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  // Bumped when the user turns XMTP on: the set-up below runs again, and may now ask the wallet to sign.
  const [xmtpAsked, setXmtpAsked] = useState(0);
  // The newest token, for work started under an older one (a renewal changes it; the page carries on).
  const token = useRef(session.token);
  useEffect(() => {
    token.current = session.token;
  }, [session.token]);
  const { address, wallet: walletKind } = session;

  function failed(e: unknown) {
    if (e instanceof ApiError && e.code === "unauthorized") saveSession(null);
    else setError("Your chats could not be loaded");
  }

  useEffect(() => {
    let live = true;
    api.listChats(token.current).then(
      (page) => live && setList(firstPage(readPage(page))),
      (e: unknown) => live && failed(e),
    );
    return () => {
      live = false;
    };
  }, [refresh]);

  function loadMore() {
    if (!list?.cursor || loadingMore) return;
    setLoadingMore(true);
    api
      .listChats(session.token, list.cursor)
      .then((page) => setList((held) => (held ? appendPage(held, readPage(page)) : held)), failed)
      .finally(() => setLoadingMore(false));
  }

  // XMTP comes up in the background; once it does, its conversations are mirrored and listed too.
  useEffect(() => {
    if (!xmtpEnabled()) return;
    let live = true;
    void (async () => {
      const wallet = await walletForSession(walletKind, address);
      const client = wallet && live ? await getXmtpClient(wallet) : null;
      if (!client || !live) return;
      setXmtp(client);
      const alone = await registerXmtpConversations(client, token.current);
      if (!live) return;
      setXmtpOnly(alone.length);
      setRefresh((n) => n + 1);
    })();
    return () => {
      live = false;
    };
  }, [address, walletKind, xmtpAsked]);

  // A wallet other than the burner is asked for XMTP's signature only on this tap (MiniPay signs no messages).
  const offerXmtp =
    xmtpEnabled() && walletKind !== "minipay" && !xmtp && !xmtpAllowed({ kind: walletKind, address });
  function turnOnXmtp() {
    allowXmtp(address);
    setXmtpAsked((n) => n + 1);
  }

  /** Signing out ends the session on the server and forgets what this device cached of the user's chats (an expired
   * session keeps it). */
  function signOut() {
    void deviceStorage().history.forget(session.address).catch(() => undefined);
    void endSession(token.current);
  }

  /** A DM over XMTP when the peer is there (and the server's copy has the same two people), else on the server. */
  async function openDm(peer: string): Promise<string> {
    const xmtpChatId = xmtp ? await startXmtpDm(xmtp, session.token, peer) : null;
    return xmtpChatId ?? (await api.createChat(session.token, { members: [peer] })).chat.id;
  }

  async function openGroup(title: string, members: string[]): Promise<string> {
    return (await api.createChat(session.token, { members, ...(title ? { title } : {}) })).chat.id;
  }

  const open = (chatId: string) => router.push(`/chats/${encodeURIComponent(chatId)}`);

  return (
    <div className="page">
      <section className="card" aria-labelledby="me-title">
        <h2 id="me-title">Signed in as</h2>
        <p className="me-name" data-testid="my-address" data-address={session.address}>
          {generatedName(session.address)}
        </p>
        {/* MiniPay's rules: the address is never shown there. Elsewhere people need it to be found. */}
        {session.wallet !== "minipay" && (
          <details>
            <summary>Your address, to share</summary>
            <p className="mono">{session.address}</p>
          </details>
        )}
        <div className="row">
          <span className="label">{WALLET_LABEL[session.wallet]}</span>
          <span className="label">{xmtp ? "XMTP" : "Fallback"}</span>
          <button className="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
        {offerXmtp && (
          <div className="row">
            <span className="muted">
              XMTP carries your messages end to end; your wallet asks you to sign once to set it up.
            </span>
            <button className="secondary small" data-testid="xmtp-enable" onClick={turnOnXmtp}>
              Turn on XMTP
            </button>
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="chats-title">
        <h2 id="chats-title">Chats</h2>
        <ChatList
          chats={list?.chats ?? null}
          me={session.address}
          nameOf={nameOf}
          hasMore={!!list?.cursor}
          loadingMore={loadingMore}
          onLoadMore={loadMore}
        />
        {xmtpOnly > 0 && (
          <p className="muted" role="status" data-testid="xmtp-only">
            {xmtpOnly === 1 ? "One XMTP conversation stays" : `${xmtpOnly} XMTP conversations stay`} on XMTP only: the
            server has a chat under the same id with other people in it.
          </p>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </section>

      <NewChat me={session.address} onDm={openDm} onGroup={openGroup} onOpened={open} />
    </div>
  );
}
