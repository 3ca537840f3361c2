"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { ChatView } from "@/components/chat-view";
import { useSession } from "@/hooks/use-session";

export default function ChatPage() {
  const params = useParams<{ chatId: string }>();
  // Chat ids never contain "%", so decoding is safe whether or not the router already did it.
  const chatId = decodeURIComponent(params.chatId);
  const state = useSession();

  if (state.status === "loading") return <p className="page muted">Loading…</p>;
  if (state.status === "signed-out") {
    return (
      <p className="page">
        <Link href="/" data-testid="back">
          Sign in
        </Link>{" "}
        to open this chat.
      </p>
    );
  }
  // Keyed so that another chat or another person starts from a clean state and connection; a renewed token is not
  // another person: the connection takes it over.
  return <ChatView key={`${chatId}|${state.session.address}`} chatId={chatId} session={state.session} />;
}
