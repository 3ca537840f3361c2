/** One line for people from whatever was thrown: viem's one-line summary where there is one (its full text is too
 * long for a phone screen), else the message, else `fallback`. */
export function errorText(error: unknown, fallback: string): string {
  if (!(error instanceof Error)) return fallback;
  return (error as { shortMessage?: string }).shortMessage || error.message || fallback;
}
