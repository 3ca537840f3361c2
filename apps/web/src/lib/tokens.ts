// The ERC-20 stablecoins payments can be made in, parsed from NEXT_PUBLIC_TOKENS
// ("SYMBOL:address:decimals[:fee currency]", comma-separated).
import { getAddress, isAddress, parseUnits, type Address } from "viem";

export interface Token {
  symbol: string;
  address: Address;
  decimals: number;
  /** What a Celo transaction names in `feeCurrency` to pay its fee in this token; null: the wallet decides. */
  feeCurrency: Address | null;
}

/** Every well-formed entry; a malformed one is skipped rather than breaking the app. */
export function parseTokens(raw: string): Token[] {
  const tokens: Token[] = [];
  for (const entry of raw.split(",")) {
    const [symbol, address, decimals, feeCurrency] = entry.trim().split(":");
    const places = Number(decimals);
    if (!symbol || !address || !isAddress(address, { strict: false }) || !Number.isInteger(places) || places < 0) continue;
    if (feeCurrency && !isAddress(feeCurrency, { strict: false })) continue;
    tokens.push({
      symbol,
      address: getAddress(address),
      decimals: places,
      feeCurrency: feeCurrency ? getAddress(feeCurrency) : null,
    });
  }
  return tokens;
}

/** A comma as the decimal mark ("1,5": the only one many phones' decimal keypads offer), unless it could be a
 * thousands separator ("1,000"): that one stays, and the amount is refused rather than guessed. */
function decimalComma(text: string): string {
  const match = /^(\d*),(\d+)$/.exec(text);
  if (!match) return text;
  const [, whole, fraction] = match as unknown as [string, string, string];
  return fraction.length === 3 && whole !== "" && whole !== "0" ? text : `${whole}.${fraction}`;
}

/** Parses a positive amount ("1", "0.25", ".5", "1,5") into base units; null when it is not one or has too many
 * decimals. */
export function parseAmount(text: string, decimals: number): bigint | null {
  const trimmed = decimalComma(text.trim());
  const pattern = decimals > 0 ? new RegExp(`^(\\d+(\\.\\d{1,${decimals}})?|\\.\\d{1,${decimals}})$`) : /^\d+$/;
  if (!pattern.test(trimmed)) return null;
  const value = parseUnits(trimmed.startsWith(".") ? `0${trimmed}` : trimmed, decimals);
  return value > 0n ? value : null;
}

export function tokenByAddress(tokens: readonly Token[], address: string | null): Token | null {
  if (!address) return null;
  return tokens.find((t) => t.address.toLowerCase() === address.toLowerCase()) ?? null;
}
