// Addresses typed or pasted by people: one, or a list separated by commas, spaces or new lines.
import { getAddress, isAddress } from "viem";

export interface ParsedAddresses {
  /** Checksummed, each once, in the order given. */
  valid: string[];
  invalid: string[];
}

/** Well-formed, and where its letters mix cases (EIP-55), with the checksum right: a wrong capital is a typo, and
 * the address it spells someone else's — or no one's. */
function isTypedAddress(text: string): boolean {
  if (!isAddress(text, { strict: false })) return false;
  const hex = text.slice(2);
  return hex === hex.toLowerCase() || hex === hex.toUpperCase() || getAddress(text) === text;
}

export function parseAddressList(text: string): ParsedAddresses {
  const valid: string[] = [];
  const invalid: string[] = [];
  for (const item of text.split(/[\s,;]+/).filter(Boolean)) {
    if (!isTypedAddress(item)) invalid.push(item);
    else if (!valid.some((a) => a.toLowerCase() === item.toLowerCase())) valid.push(getAddress(item));
  }
  return { valid, invalid };
}

/** Why these members cannot make a chat with `me`, or null when they can: others besides me, all well-formed. */
export function membersProblem(parsed: ParsedAddresses, me: string): string | null {
  if (parsed.invalid.length) return `Not an address: ${parsed.invalid[0]}`;
  const others = parsed.valid.filter((a) => a.toLowerCase() !== me.toLowerCase());
  if (others.length === 0) {
    return parsed.valid.length ? "That is your own address: add someone else" : "Enter at least one address";
  }
  return null;
}

export function withoutMe(addresses: string[], me: string): string[] {
  return addresses.filter((a) => a.toLowerCase() !== me.toLowerCase());
}
