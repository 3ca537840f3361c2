// Before a transaction is sent: can the wallet pay for it, network fee included, and in what? MiniPay's listing rule:
// the fee is paid in a stablecoin too, so a balance that covers the amount alone is not enough — the transfer would
// fail in the user's face. Celo prices fees in a fee currency (eth_gasPrice with the fee currency, eth_estimateGas
// with `feeCurrency`), always in 18 decimals: the adapter of a 6-decimal token (USDT, USDC) scales it. All in BigInt.
import { decodeFunctionResult, encodeFunctionData, erc20Abi, formatUnits, toHex, type Address, type Hex } from "viem";
import type { Token } from "./tokens";

/** A JSON-RPC read on the chain the wallet pays on. */
export type ChainRead = (method: string, params: unknown[]) => Promise<unknown>;

export interface Call {
  from: Address;
  to: Address;
  data?: Hex;
  value?: bigint;
}

/** What a payment moves besides its fee: `value` base units of `token` (null: the chain's coin, CELO). */
export interface Spend {
  token: Token | null;
  value: bigint;
}

/** Fee currencies count in 18 decimals. */
const FEE_DECIMALS = 18;
/** A wallet reserves gas limit × gas price, both above the estimate: ask for half as much again (still a fraction of
 * a cent) rather than start a payment the reservation cannot cover. */
const withMargin = (fee: bigint) => (fee * 3n + 1n) / 2n;

/** The wallet cannot pay for it: the sentence says what is missing, for people. */
export class Shortfall extends Error {}

const shown = (value: bigint, decimals: number, symbol: string) => `${formatUnits(value, decimals)} ${symbol}`;

/** A fee in a fee currency's 18-decimal units, in base units of `token`, rounded up. */
export function feeInToken(fee: bigint, token: Pick<Token, "decimals">): bigint {
  const scale = 10n ** BigInt(Math.max(0, FEE_DECIMALS - token.decimals));
  return (fee + scale - 1n) / scale;
}

async function balanceOf(read: ChainRead, token: Token | null, owner: Address): Promise<bigint> {
  if (!token) return BigInt((await read("eth_getBalance", [owner, "latest"])) as Hex);
  const data = encodeFunctionData({ abi: erc20Abi, functionName: "balanceOf", args: [owner] });
  const result = (await read("eth_call", [{ to: token.address, data }, "latest"])) as Hex;
  // No contract there (another chain's address list): it holds nothing of it.
  return result === "0x" ? 0n : decodeFunctionResult({ abi: erc20Abi, functionName: "balanceOf", data: result });
}

/** The network fee of `call` paid in `feeCurrency` (null: CELO), in its 18-decimal units, with the margin. */
async function networkFee(read: ChainRead, call: Call, feeCurrency: Address | null): Promise<bigint> {
  const tx = {
    from: call.from,
    to: call.to,
    value: toHex(call.value ?? 0n),
    ...(call.data ? { data: call.data } : {}),
    ...(feeCurrency ? { feeCurrency } : {}),
  };
  const [gas, price] = await Promise.all([
    read("eth_estimateGas", [tx]),
    read("eth_gasPrice", feeCurrency ? [feeCurrency] : []),
  ]);
  return withMargin(BigInt(gas as Hex) * BigInt(price as Hex));
}

/**
 * Checks that the wallet can make `call`, which moves `spend`, and pay its fee; the fee currency to name, or null
 * for CELO. `feeTokens`: the stablecoins the wallet pays fees in (MiniPay), the one spent first, then the others it
 * holds; null: fees in CELO. Throws Shortfall when nothing covers it; a failed read rejects as it is.
 */
export async function affordableFee(
  read: ChainRead,
  call: Call,
  spend: Spend,
  feeTokens: readonly Token[] | null,
): Promise<Address | null> {
  const { token: paid, value } = spend;
  const symbol = paid?.symbol ?? "CELO";
  const decimals = paid?.decimals ?? 18;
  const held = await balanceOf(read, paid, call.from);
  if (held < value) {
    throw new Shortfall(`Not enough ${symbol}: this payment is ${shown(value, decimals, symbol)}, you have ${shown(held, decimals, symbol)}.`);
  }
  if (!feeTokens) {
    const fee = await networkFee(read, call, null);
    const celo = paid ? await balanceOf(read, null, call.from) : held - value;
    if (celo < fee) throw new Shortfall(`Not enough CELO for the network fee (${shown(fee, 18, "CELO")}).`);
    return null;
  }
  const isPaid = (t: Token) => t.address.toLowerCase() === paid?.address.toLowerCase();
  const candidates = feeTokens.filter((t) => t.feeCurrency).sort((a, b) => Number(isPaid(b)) - Number(isPaid(a)));
  let paidNeeds: bigint | null = null;
  for (const token of candidates) {
    const fee = feeInToken(await networkFee(read, call, token.feeCurrency), token);
    if (isPaid(token)) {
      paidNeeds = value + fee;
      if (held >= paidNeeds) return token.feeCurrency;
    } else if ((await balanceOf(read, token, call.from)) >= fee) {
      return token.feeCurrency;
    }
  }
  if (paid && paidNeeds !== null) {
    throw new Shortfall(
      `Not enough ${symbol} for this payment and its network fee: it needs ${shown(paidNeeds, decimals, symbol)}, ` +
        `you have ${shown(held, decimals, symbol)}.`,
    );
  }
  throw new Shortfall("Your balance does not cover the network fee (a fraction of a cent): add some cash first.");
}
