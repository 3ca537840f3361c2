import type { AriaAttributes, ReactNode } from "react";

/** A button standing for one emoji (a reaction chip, a picker choice): says which in `data-emoji`, and whether it
 * is ours by the `mine` class. */
export function EmojiButton({
  emoji,
  className,
  mine,
  testId,
  onClick,
  children,
  ...aria
}: {
  emoji: string;
  className: string;
  /** Class added when the emoji is ours. */
  mine: string | false;
  testId: string;
  onClick(): void;
  children: ReactNode;
} & AriaAttributes) {
  return (
    <button type="button" className={mine ? `${className} ${mine}` : className} data-testid={testId} data-emoji={emoji} onClick={onClick} {...aria}>
      {children}
    </button>
  );
}
