"use client";
import { useState } from "react";

/** A button for what cannot be undone (remove, leave, delete): the first tap asks, in place, and only "yes" acts. */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  testId,
  className = "link danger",
  ariaLabel,
  disabled = false,
}: {
  label: string;
  question: string;
  onConfirm(): void;
  testId: string;
  className?: string;
  ariaLabel?: string;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button className={className} data-testid={testId} aria-label={ariaLabel} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span className="confirm-question">{question}</span>
      <button
        className="secondary small danger"
        data-testid={`${testId}-confirm`}
        disabled={disabled}
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {label}
      </button>
      <button className="secondary small" data-testid={`${testId}-cancel`} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
