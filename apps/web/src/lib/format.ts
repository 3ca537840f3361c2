/** "1 member", "3 members". */
export function counted(n: number, word: string): string {
  return `${n} ${n === 1 ? word : `${word}s`}`;
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** Characters as the server counts them (code points), not UTF-16 units. */
export function charCount(text: string): number {
  return [...text].length;
}
