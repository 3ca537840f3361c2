// Native-token payments (CELO) sent through the session's wallet, described as the `tx` claim a chat message carries.
import { getAddress, parseEther, type Address } from "viem";
import type { Tx } from "./types";
import { chain, type Wallet } from "./wallet";

/** Parses a positive CELO amount ("1", "0.25") into wei; null when it is not one. */
export function parseCeloAmount(text: string): bigint | null {
  const trimmed = text.trim();
  if (!/^\d+(\.\d{1,18})?$|^\.\d{1,18}$/.test(trimmed)) return null;
  const wei = parseEther(trimmed);
  return wei > 0n ? wei : null;
}

/** Sends `value` wei to `to` and returns the claim to attach to the chat message. */
export async function payNative(wallet: Wallet, to: string, value: bigint): Promise<Tx> {
  const recipient: Address = getAddress(to);
  if (wallet.kind === "injected" && (await wallet.client.getChainId()) !== chain.id) {
    await wallet.client.switchChain({ id: chain.id });
  }
  const hash = await wallet.client.sendTransaction({ to: recipient, value });
  return { chain_id: chain.id, hash, to: recipient, value: value.toString(), token: null };
}
