// Payments sent through the session's wallet — the chain's coin (CELO) or a configured stablecoin as an ERC-20
// `transfer` — described as the `tx` claim a chat message carries.
import { encodeFunctionData, erc20Abi, formatUnits, getAddress } from "viem";
import { tokenByAddress, type Token } from "./tokens";
import type { Tx } from "./types";
import { chain, type Wallet } from "./wallet";

/** Sends `value` base units of `token` (null: the chain's coin) to `to`; the claim to attach to the chat message. */
export async function pay(wallet: Wallet, to: string, value: bigint, token: Token | null): Promise<Tx> {
  const recipient = getAddress(to);
  const hash = token
    ? await wallet.send({
        to: token.address,
        data: encodeFunctionData({ abi: erc20Abi, functionName: "transfer", args: [recipient, value] }),
        // The fee in the token being paid: it is the one the payer surely holds.
        feeCurrency: token.feeCurrency,
      })
    : await wallet.send({ to: recipient, value });
  return { chain_id: chain.id, hash, to: recipient, value: value.toString(), token: token?.address ?? null };
}

/** "1.5 USDT" for a claim, from the configured tokens (an unknown token shows its base units). */
export function formatAmount(tx: Pick<Tx, "value" | "token">, tokens: readonly Token[]): string {
  try {
    if (!tx.token) return `${formatUnits(BigInt(tx.value), 18)} CELO`;
    const token = tokenByAddress(tokens, tx.token);
    return token ? `${formatUnits(BigInt(tx.value), token.decimals)} ${token.symbol}` : `${tx.value} units`;
  } catch {
    return `${tx.value} units`;
  }
}
