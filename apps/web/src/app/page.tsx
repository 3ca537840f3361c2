"use client";
import { Home } from "@/components/home";
import { SignIn } from "@/components/sign-in";
import { useSession } from "@/hooks/use-session";

export default function HomePage() {
  const state = useSession();
  return (
    <>
      <header className="chat-header">
        <span className="title">Optimistic Messaging</span>
      </header>
      {state.status === "signed-in" ? (
        // Keyed by person and wallet, not by token: a renewed token carries on with the same page; another wallet for
        // the same address sets XMTP up anew.
        <Home key={`${state.session.address}:${state.session.wallet}`} session={state.session} />
      ) : state.status === "signed-out" ? (
        <div className="page">
          <SignIn />
        </div>
      ) : (
        <p className="page muted">Loading…</p>
      )}
    </>
  );
}
