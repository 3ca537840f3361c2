"use client";
import { useState } from "react";
import { ConfirmButton } from "@/components/confirm-button";
import { EmojiButton } from "@/components/emoji-button";

/** The quick reactions offered (XMTP apps and messengers offer about these). */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🙏"];

/** What can be done with a message: react (a small picker), reply, copy, and for our own delete for everyone. */
export function MessageActions({
  body,
  picked,
  canDelete,
  onReact,
  onReply,
  onDelete,
  onDone,
}: {
  body: string;
  /** The emoji we reacted with already (a tap takes them back). */
  picked: (emoji: string) => boolean;
  canDelete: boolean;
  onReact(emoji: string, added: boolean): void;
  onReply(): void;
  onDelete(): void;
  onDone(): void;
}) {
  const [copied, setCopied] = useState(false);
  const pick = (emoji: string) => {
    onReact(emoji, !picked(emoji));
    onDone();
  };
  return (
    <div className="message-actions" data-testid="message-actions" role="group" aria-label="Message actions">
      <div className="picker" role="group" aria-label="React">
        {QUICK_REACTIONS.map((emoji) => (
          <EmojiButton key={emoji} emoji={emoji} className="emoji" mine={picked(emoji) && "picked"} testId="react-pick"
            aria-pressed={picked(emoji)} onClick={() => pick(emoji)}>
            {emoji}
          </EmojiButton>
        ))}
      </div>
      <div className="row">
        <button
          type="button"
          className="secondary small"
          data-testid="reply"
          onClick={() => {
            onReply();
            onDone();
          }}
        >
          Reply
        </button>
        <button
          type="button"
          className="secondary small"
          data-testid="copy"
          onClick={() => navigator.clipboard.writeText(body).then(() => setCopied(true), () => setCopied(false))}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        {canDelete && (
          <ConfirmButton
            label="Delete"
            question="Delete for everyone?"
            className="secondary small danger"
            testId="delete"
            onConfirm={() => {
              onDelete();
              onDone();
            }}
          />
        )}
      </div>
    </div>
  );
}
