"use client";
import { useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { config } from "@/lib/config";
import { charCount } from "@/lib/format";

/** The counter is shown from this share of the limit on. */
const COUNT_FROM = 0.8;
const MAX_HEIGHT_PX = 160;

/** Enter sends, Shift+Enter starts a new line; typing is reported (throttled by the caller) and stopped on blur.
 * It grows with its text, counts characters near the limit, and refuses — saying so — a text over it. */
export function Composer({
  onSend,
  onTyping,
  onStopTyping,
  disabled = false,
  replyingTo = null,
  onCancelReply,
}: {
  onSend(text: string): void;
  onTyping(): void;
  onStopTyping(): void;
  disabled?: boolean;
  /** The message being answered: shown above the box until sent or cancelled. */
  replyingTo?: { name: string; body: string } | null;
  onCancelReply?(): void;
}) {
  const [text, setText] = useState("");
  const box = useRef<HTMLTextAreaElement>(null);
  const max = config.maxBodyChars;
  const length = charCount(text.trim());
  const over = length > max;

  useLayoutEffect(() => {
    if (replyingTo) box.current?.focus();
  }, [replyingTo]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight + 2, MAX_HEIGHT_PX)}px`;
  }, [text]);

  function submit() {
    const body = text.trim();
    if (!body || over || disabled) return;
    onSend(body);
    setText("");
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    // isComposing: Enter that confirms an IME composition is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  }

  return (
    <form
      className="composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      {replyingTo && (
        <div className="replying" data-testid="replying">
          <span className="quote-text">
            <span className="quote-name">Reply to {replyingTo.name}</span>
            <span className="quote-body">{replyingTo.body}</span>
          </span>
          <button type="button" className="link" data-testid="reply-cancel" aria-label="Cancel the reply" onClick={onCancelReply}>
            ✕
          </button>
        </div>
      )}
      <div className="composer-row">
        <label className="visually-hidden" htmlFor="composer">
          Message
        </label>
        <textarea
          id="composer"
          ref={box}
          data-testid="composer"
          placeholder={disabled ? "You cannot write here" : "Message"}
          rows={1}
          value={text}
          disabled={disabled}
          aria-invalid={over}
          aria-describedby={over ? "composer-error" : undefined}
          onChange={(event) => {
            setText(event.target.value);
            if (event.target.value) onTyping();
            else onStopTyping();
          }}
          onKeyDown={onKeyDown}
          onBlur={onStopTyping}
        />
        <button type="submit" disabled={disabled || !text.trim() || over} aria-label="Send message">
          Send
        </button>
      </div>
      {length >= max * COUNT_FROM && (
        <p className={over ? "count over" : "count"} data-testid="composer-count">
          {length.toLocaleString("en")} / {max.toLocaleString("en")}
        </p>
      )}
      {over && (
        <p className="error" role="alert" id="composer-error" data-testid="composer-error">
          Too long to send: at most {max.toLocaleString("en")} characters — remove {(length - max).toLocaleString("en")}.
        </p>
      )}
    </form>
  );
}
