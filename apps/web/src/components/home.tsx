"use client";
import { useRouter } from "next/navigation";
import { useEffect, useState, type FormEvent } from "react";
import { getAddress, isAddress } from "viem";
import { ChatList } from "@/components/chat-list";
import { api, ApiError } from "@/lib/api";
import { deviceStorage } from "@/lib/device-storage";
import { saveSession, type Session } from "@/lib/session";
import type { Chat } from "@/lib/types";
import { walletForSession } from "@/lib/wallet";
import {
  getXmtpClient,
  registerXmtpConversations,
  startXmtpDm,
  xmtpEnabled,
  type XmtpClient,
} from "@/lib/xmtp";

/** The signed-in start page: who I am, my chats, and a new DM by address. */
export function Home({ session }: { session: Session }) {
  const router = useRouter();
  const [chats, setChats] = useState<Chat[] | null>(null);
  const [xmtp, setXmtp] = useState<XmtpClient | null>(null);
  const [peer, setPeer] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);

  useEffect(() => {
    let live = true;
    api.listChats(session.token).then(
      ({ chats }) => live && setChats(chats),
      (e: unknown) => {
        if (!live) return;
        if (e instanceof ApiError && e.code === "unauthorized") saveSession(null);
        else setError("Your chats could not be loaded");
      },
    );
    return () => {
      live = false;
    };
  }, [session.token, refresh]);

  // XMTP comes up in the background; once it does, its conversations are registered and listed too.
  useEffect(() => {
    if (!xmtpEnabled()) return;
    const wallet = walletForSession(session.wallet, session.address);
    if (!wallet) return;
    let live = true;
    void getXmtpClient(wallet).then(async (client) => {
      if (!client || !live) return;
      setXmtp(client);
      await registerXmtpConversations(client, session.token);
      if (live) setRefresh((n) => n + 1);
    });
    return () => {
      live = false;
    };
  }, [session]);

  /** Signing out also forgets what this device cached of the user's chats (an expired session keeps it). */
  function signOut() {
    void deviceStorage().history.forget(session.address).catch(() => undefined);
    saveSession(null);
  }

  async function startDm(event: FormEvent) {
    event.preventDefault();
    const address = peer.trim();
    if (!isAddress(address, { strict: false })) {
      setError("That is not an Ethereum address");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const xmtpChatId = xmtp ? await startXmtpDm(xmtp, session.token, address) : null;
      const chatId = xmtpChatId ?? (await api.createChat(session.token, { members: [getAddress(address)] })).chat.id;
      router.push(`/chats/${encodeURIComponent(chatId)}`);
    } catch (e) {
      setError(e instanceof Error ? e.message : "The chat could not be started");
      setBusy(false);
    }
  }

  return (
    <div className="page">
      <section className="card" aria-labelledby="me-title">
        <h2 id="me-title">Signed in</h2>
        <p className="mono" data-testid="my-address">
          {session.address}
        </p>
        <div className="row">
          <span className="label">
            {session.wallet === "burner" ? "Burner wallet (development)" : "Browser wallet"}
          </span>
          <span className="label">{xmtp ? "XMTP" : "Fallback"}</span>
          <button className="secondary" onClick={signOut}>
            Sign out
          </button>
        </div>
      </section>

      <section className="card" aria-labelledby="chats-title">
        <h2 id="chats-title">Chats</h2>
        <ChatList chats={chats} me={session.address} />
      </section>

      <form className="card" onSubmit={startDm} aria-labelledby="dm-title">
        <h2 id="dm-title">Start a DM</h2>
        <label className="visually-hidden" htmlFor="dm-address">
          Address to message
        </label>
        <input
          id="dm-address"
          data-testid="dm-address"
          placeholder="0x…"
          autoComplete="off"
          spellCheck={false}
          value={peer}
          onChange={(e) => setPeer(e.target.value)}
        />
        <button data-testid="dm-start" type="submit" disabled={busy}>
          {busy ? "Opening…" : "Start DM"}
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </div>
  );
}
