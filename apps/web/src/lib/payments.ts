// Payments sent through the session's wallet — the chain's coin (CELO) or a configured stablecoin as an ERC-20
// `transfer` — described as the `tx` claim a chat message carries. Before the wallet is asked, the balance is checked
// against the amount plus the network fee (src/lib/funds.ts) wherever the wallet's chain can be read.
import { encodeFunctionData, erc20Abi, formatUnits, getAddress, type Address } from "viem";
import { affordableFee, Shortfall } from "./funds";
import { tokenByAddress, type Token } from "./tokens";
import type { Tx } from "./types";
import { chain, type TxRequest, type Wallet } from "./wallet";

export { Shortfall } from "./funds";

/** What pays the fee of `request` (see TxRequest.feeCurrency), once the wallet is known to afford it all: throws
 * Shortfall when it does not. A wallet whose chain cannot be read, or a read that fails, is left to check itself. */
async function feeFor(wallet: Wallet, request: TxRequest, token: Token | null, value: bigint): Promise<Address | null> {
  const fallback = token?.feeCurrency ?? null;
  if (!wallet.chainRead) return fallback;
  try {
    return await affordableFee(wallet.chainRead, { from: wallet.address, ...request }, { token, value }, wallet.feeTokens);
  } catch (error) {
    if (error instanceof Shortfall) throw error;
    return fallback;
  }
}

/** Sends `value` base units of `token` (null: the chain's coin) to `to`; the claim to attach to the chat message. */
export async function pay(wallet: Wallet, to: string, value: bigint, token: Token | null): Promise<Tx> {
  const recipient = getAddress(to);
  const request: TxRequest = token
    ? { to: token.address, data: encodeFunctionData({ abi: erc20Abi, functionName: "transfer", args: [recipient, value] }) }
    : { to: recipient, value };
  // MiniPay pays the fee in the stablecoin paid when it covers both, else in another one it holds.
  const hash = await wallet.send({ ...request, feeCurrency: await feeFor(wallet, request, token, value) });
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
