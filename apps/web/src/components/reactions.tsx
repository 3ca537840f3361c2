"use client";
import { useState } from "react";
import { EmojiButton } from "@/components/emoji-button";

/** A message's reactions as chips (emoji and count, most first); a tap shows who reacted, and adds or takes back
 * our own. */
export function Reactions({
  reactions,
  counts,
  me,
  nameOf,
  onReact,
}: {
  reactions: Record<string, string[]>;
  counts: Record<string, number>;
  me: string;
  nameOf(address: string): string;
  onReact(emoji: string, added: boolean): void;
}) {
  const [open, setOpen] = useState<string | null>(null);
  const emojis = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([emoji]) => emoji);
  if (!emojis.length) return null;
  const minePicked = (emoji: string) => (reactions[emoji] ?? []).some((a) => a.toLowerCase() === me.toLowerCase());
  const who = open ? (reactions[open] ?? []) : [];
  const more = open ? (counts[open] ?? 0) - who.length : 0;
  return (
    <div className="reactions">
      <div className="chips">
        {emojis.map((emoji) => (
          <EmojiButton
            key={emoji}
            emoji={emoji}
            className="chip"
            mine={minePicked(emoji) && "mine"}
            testId="reaction"
            aria-expanded={open === emoji}
            aria-label={`${emoji} ${counts[emoji]}: who reacted`}
            onClick={() => setOpen((shown) => (shown === emoji ? null : emoji))}
          >
            {emoji} {counts[emoji]}
          </EmojiButton>
        ))}
      </div>
      {open && (
        <div className="who" data-testid="reaction-who">
          <span>
            {open} {who.map(nameOf).join(", ")}
            {more > 0 ? ` and ${more} more` : ""}
          </span>
          <button
            type="button"
            className="link"
            data-testid="reaction-toggle"
            onClick={() => {
              onReact(open, !minePicked(open));
              setOpen(null);
            }}
          >
            {minePicked(open) ? "Take mine back" : `React ${open}`}
          </button>
        </div>
      )}
    </div>
  );
}
