"use client";
import Link from "next/link";
import { chatTitle } from "@/components/chat-list";
import { Composer } from "@/components/composer";
import { MessageList } from "@/components/message-list";
import { PaymentComposer } from "@/components/payment-composer";
import { useOptimisticMessaging } from "@/hooks/use-optimistic-messaging";
import { shortAddress } from "@/lib/format";
import type { Session } from "@/lib/session";

export function ChatView({ chatId, session }: { chatId: string; session: Session }) {
  const chat = useOptimisticMessaging(chatId, session);
  const me = session.address;
  const others = chat.chat?.members.filter((m) => m.toLowerCase() !== me.toLowerCase()) ?? [];
  const recipient = chat.chat?.members.length === 2 ? (others[0] ?? null) : null;

  return (
    <div className="chat">
      <header className="chat-header">
        <Link href="/" data-testid="back" aria-label="Back to chats">
          ←
        </Link>
        <span className="title">{chat.chat ? chatTitle(chat.chat, me) : chatId}</span>
        <span className="connection" data-testid="connection" data-state={chat.connection} role="status">
          {chat.connection}
        </span>
      </header>
      <div className="presence" aria-label="Who is online">
        {chat.chat?.members.map((member) => (
          <span key={member}>
            <span
              className="dot"
              data-testid={`presence-${member}`}
              data-online={chat.isOnline(member) ? "true" : "false"}
              aria-hidden="true"
            />
            {member.toLowerCase() === me.toLowerCase() ? "you" : shortAddress(member)}
            <span className="visually-hidden">{chat.isOnline(member) ? " online" : " offline"}</span>
          </span>
        ))}
      </div>
      {chat.authFailed && (
        <p className="error page" role="alert">
          Your session expired. <Link href="/">Sign in again</Link>.
        </p>
      )}
      {chat.problem && (
        <p className="error page" role="alert">
          {chat.problem}
        </p>
      )}
      <MessageList
        messages={chat.messages}
        me={me}
        hasOlder={chat.hasOlder}
        loadingOlder={chat.loadingOlder}
        onLoadOlder={chat.loadOlder}
        onDiscard={chat.discard}
      />
      {chat.typing.length > 0 && (
        <p className="typing" data-testid="typing">
          {chat.typing.map(shortAddress).join(", ")} {chat.typing.length === 1 ? "is" : "are"} typing
        </p>
      )}
      <Composer onSend={(text) => chat.send(text)} onTyping={chat.notifyTyping} onStopTyping={chat.stopTyping} />
      <PaymentComposer session={session} recipient={recipient} onPaid={(body, tx) => chat.send(body, tx)} />
    </div>
  );
}
