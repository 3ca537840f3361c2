"use client";
import Link from "next/link";
import { useMemo, useState } from "react";
import type { BubbleActions } from "@/components/message-bubble";
import { AvatarPicture } from "@/components/avatar";
import { Composer } from "@/components/composer";
import { Explained } from "@/components/explained";
import { MembersPanel } from "@/components/members-panel";
import { MessageList } from "@/components/message-list";
import { PaymentComposer } from "@/components/payment-composer";
import { SessionExpired } from "@/components/session-expired";
import { useNames } from "@/hooks/use-contacts";
import { useOptimisticMessaging } from "@/hooks/use-optimistic-messaging";
import { chatTitle, isDm } from "@/lib/chat-title";
import { counted } from "@/lib/format";
import { DELETED_TEXT } from "@/lib/chat-preview";
import type { Membership, ViewMessage } from "@/lib/messages-reducer";
import { distinctNames } from "@/lib/names";
import type { Session } from "@/lib/session";
import { connectionStatus } from "@/lib/status-info";

const OUTSIDER: Partial<Record<Membership, string>> = {
  "not-member": "You are not a member of this chat",
  removed: "You are no longer a member of this chat",
};

export function ChatView({ chatId, session }: { chatId: string; session: Session }) {
  const chat = useOptimisticMessaging(chatId, session);
  const plainName = useNames(session.address);
  const [showMembers, setShowMembers] = useState(false);
  const [left, setLeft] = useState(false);
  const [replyTo, setReplyTo] = useState<ViewMessage | null>(null);
  const me = session.address;
  const known = chat.chat;
  // Everyone who shows up here: members, and senders who have left.
  const people = useMemo(
    () => [...(known?.members ?? []), ...chat.messages.flatMap((m) => (m.sender ? [m.sender] : []))],
    [known?.members, chat.messages],
  );
  const nameOf = useMemo(() => distinctNames(people, plainName), [people, plainName]);
  const member = chat.membership === "member" || chat.membership === "unknown";
  const others = known?.members.filter((m) => m.toLowerCase() !== me.toLowerCase()) ?? [];
  // Payments are for DMs (the composer says so): not for a group that happens to have two members left.
  const recipient = member && known && isDm(known) ? (others[0] ?? null) : null;
  const outsider = left ? "You left this group" : OUTSIDER[chat.membership];
  const title = chat.membership === "not-member" ? "Chat" : known ? chatTitle(known, me, nameOf) : "…";
  const { react, deleteMessage, discard } = chat;
  const actions: Omit<BubbleActions, "onJump"> = useMemo(
    () => ({ onReply: setReplyTo, onReact: react, onDelete: deleteMessage, onDiscard: discard }),
    [react, deleteMessage, discard],
  );

  return (
    <div className="chat">
      <header className="chat-header">
        <Link href="/" className="back" data-testid="back" aria-label="Back to chats">
          ←
        </Link>
        {known && chat.membership !== "not-member" && (
          <AvatarPicture seed={known && isDm(known) ? (others[0] ?? known.id) : chatId} label={title} size={32} />
        )}
        {/* The members under the name, as messengers put them: beside it they left a 360 px phone no room for it. */}
        <span className="title-block">
          <span className="title" data-testid="chat-title">
            {title}
          </span>
          {known && chat.membership === "member" && (
            <button
              className="members"
              data-testid="members-toggle"
              aria-expanded={showMembers}
              onClick={() => setShowMembers((shown) => !shown)}
            >
              {counted(known.members.length, "member")}
            </button>
          )}
        </span>
        <Explained info={connectionStatus(chat.connection)} testId="connection" className="connection end" />
      </header>
      {showMembers && known && chat.membership === "member" && (
        <MembersPanel
          chat={known}
          session={session}
          nameOf={nameOf}
          isOnline={chat.isOnline}
          onChat={chat.applyChat}
          onLeft={() => setLeft(true)}
        />
      )}
      {member && (
        <div className="presence" role="group" aria-label="Who is online">
          {known?.members.map((address) => (
            <span key={address}>
              <span
                className="dot"
                data-testid={`presence-${address}`}
                data-online={chat.isOnline(address) ? "true" : "false"}
                aria-hidden="true"
              />
              {nameOf(address)}
              <span className="visually-hidden">{chat.isOnline(address) ? " online" : " offline"}</span>
            </span>
          ))}
        </div>
      )}
      {chat.authFailed && <SessionExpired wallet={session.wallet} />}
      {outsider && (
        <p className="notice" role="alert" data-testid="not-member">
          {outsider}. <Link href="/">Back to your chats</Link>
        </p>
      )}
      {chat.problem && !outsider && (
        <p className="error page" role="alert">
          {chat.problem}
        </p>
      )}
      <MessageList
        messages={chat.messages}
        me={me}
        group={!known || !isDm(known)}
        nameOf={nameOf}
        hasOlder={chat.hasOlder}
        loadingOlder={chat.loadingOlder}
        onLoadOlder={chat.loadOlder}
        divider={chat.divider}
        tickOf={chat.tickOf}
        readersOf={chat.readersOf}
        onSeen={chat.seen}
        actions={actions}
      />
      {chat.typing.length > 0 && (
        <p className="typing" data-testid="typing">
          {chat.typing.map(nameOf).join(", ")} {chat.typing.length === 1 ? "is" : "are"} typing
        </p>
      )}
      <Composer
        onSend={(text) => {
          chat.send(text, null, replyTo?.id ?? null);
          setReplyTo(null);
        }}
        replyingTo={replyTo && { name: nameOf(replyTo.sender), body: replyTo.deleted ? DELETED_TEXT : replyTo.body }}
        onCancelReply={() => setReplyTo(null)}
        onTyping={chat.notifyTyping}
        onStopTyping={chat.stopTyping}
        disabled={!!outsider}
      />
      <PaymentComposer
        session={session}
        recipient={recipient}
        recipientName={recipient ? nameOf(recipient) : null}
        onPaid={(body, tx) => chat.send(body, tx)}
      />
    </div>
  );
}
