"use client";
import { useRouter } from "next/navigation";
import { ChatList } from "@/components/chat-list";
import { MyAddress } from "@/components/my-address";
import { NewChat } from "@/components/new-chat";
import { NotificationsOffer } from "@/components/notifications-offer";
import { useHome } from "@/hooks/use-home";
import { generatedName } from "@/lib/names";
import type { Session, WalletKind } from "@/lib/session";

const WALLET_LABEL: Record<WalletKind, string> = {
  burner: "Burner wallet (development)",
  injected: "Browser wallet",
  minipay: "MiniPay",
  farcaster: "Farcaster wallet",
};

/** The signed-in start page: who I am, my chats (page by page), a new DM or group. Its data lives in HomeStore. */
export function Home({ session }: { session: Session }) {
  const router = useRouter();
  const { store, list, loadingMore, error, xmtp, xmtpOnly, nameOf, offerXmtp, settings, settingsError } = useHome(session);
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
            <MyAddress address={session.address} />
          </details>
        )}
        <div className="row">
          <span className="label">{WALLET_LABEL[session.wallet]}</span>
          <span className="label">{xmtp ? "XMTP" : "Fallback"}</span>
          <button className="secondary" onClick={() => store.signOut()}>
            Sign out
          </button>
        </div>
        {offerXmtp && (
          <div className="row">
            <span className="muted">
              XMTP carries your messages end to end; your wallet asks you to sign once to set it up.
            </span>
            <button className="secondary small" data-testid="xmtp-enable" onClick={() => store.turnOnXmtp()}>
              Turn on XMTP
            </button>
          </div>
        )}
        <NotificationsOffer session={session} />
      </section>

      <section className="card" aria-labelledby="chats-title">
        <h2 id="chats-title">Chats</h2>
        <ChatList
          chats={list?.chats ?? null}
          me={session.address}
          nameOf={nameOf}
          hasMore={!!list?.cursor}
          loadingMore={loadingMore}
          onLoadMore={() => store.loadMore()}
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

      <details className="card" data-testid="settings" onToggle={(e) => e.currentTarget.open && store.loadSettings()}>
        <summary>Settings</summary>
        {settings && (
          <label className="setting">
            <input
              type="checkbox"
              data-testid="share-read-receipts"
              checked={settings.read_receipts}
              onChange={(e) => store.changeSettings({ read_receipts: e.target.checked })}
            />
            <span>
              Share read receipts
              <span className="muted"> — others see how far you have read and what reached you; off, nobody does.</span>
            </span>
          </label>
        )}
        {settings?.push_previews !== undefined && (
          <label className="setting">
            <input
              type="checkbox"
              data-testid="push-previews"
              checked={settings.push_previews}
              onChange={(e) => store.changeSettings({ push_previews: e.target.checked })}
            />
            <span>
              Show message text in notifications
              <span className="muted"> — off, a notification says only who wrote and how many messages came.</span>
            </span>
          </label>
        )}
        {settingsError && (
          <p className="error" role="alert" data-testid="settings-error">
            {settingsError}
          </p>
        )}
      </details>

      <NewChat me={session.address} onDm={(peer) => store.openDm(peer)} onGroup={(title, members) => store.openGroup(title, members)} onOpened={open} />
    </div>
  );
}
