"use client";
import { useState, type KeyboardEvent } from "react";

/** Enter sends, Shift+Enter starts a new line; typing is reported (throttled by the caller) and stopped on blur. */
export function Composer({
  onSend,
  onTyping,
  onStopTyping,
}: {
  onSend(text: string): void;
  onTyping(): void;
  onStopTyping(): void;
}) {
  const [text, setText] = useState("");

  function submit() {
    const body = text.trim();
    if (!body) return;
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
      <label className="visually-hidden" htmlFor="composer">
        Message
      </label>
      <textarea
        id="composer"
        data-testid="composer"
        placeholder="Message"
        rows={1}
        maxLength={4000}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
          if (event.target.value) onTyping();
          else onStopTyping();
        }}
        onKeyDown={onKeyDown}
        onBlur={onStopTyping}
      />
      <button type="submit" disabled={!text.trim()} aria-label="Send message">
        Send
      </button>
    </form>
  );
}
