"use client";
import { useState } from "react";

/** The signed-in address, to share: in two even halves (a phone's width never leaves one character on a line of its
 * own) and a copy button, since nobody types 42 hex characters. */
export function MyAddress({ address }: { address: string }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const half = Math.ceil(address.length / 2);
  async function copy() {
    try {
      await navigator.clipboard.writeText(address);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }
  return (
    <div className="row address-row">
      <p className="mono address" data-testid="address-text" aria-label={address}>
        <span>{address.slice(0, half)}</span>
        <span>{address.slice(half)}</span>
      </p>
      <button className="secondary small" data-testid="address-copy" onClick={() => void copy()}>
        {copied === null ? "Copy" : copied ? "Copied" : "Select to copy"}
      </button>
    </div>
  );
}
