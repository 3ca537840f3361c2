import { formatEther } from "viem";

/** "0xAbC1…9f2E": enough to tell members apart in a narrow column. */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

export function formatCelo(wei: string): string {
  try {
    return `${formatEther(BigInt(wei))} CELO`;
  } catch {
    return `${wei} wei`;
  }
}

export function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
