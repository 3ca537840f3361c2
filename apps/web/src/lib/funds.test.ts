// The check before a transaction, against a stand-in Celo node: balances, gas estimates and fee-currency gas prices.
import { describe, expect, it } from "vitest";
import { numberToHex, type Address } from "viem";
import { affordableFee, feeInToken, Shortfall, type ChainRead } from "./funds";
import { parseTokens, type Token } from "./tokens";

const ME: Address = "0x1111111111111111111111111111111111111111";
const FRIEND: Address = "0x2222222222222222222222222222222222222222";
// Celo mainnet's stablecoins with their fee currencies (apps/web/src/lib/config.ts).
const [USDT, USDC, USDM] = parseTokens(
  "USDT:0x48065fbBE25f71C9282ddf5e1cD6D6A887483D5e:6:0x0E2A3e05bc9A16F5292A6170456A710cb89C6f72," +
    "USDC:0xcebA9300f2b948710d2653dD7B07f33A8B32118C:6:0x2F25deB3848C207fc8E0c34035B3Ba7fC157602B," +
    "USDm:0x765DE816845861e75A25fCA122bb6898B8B1282a:18:0x765DE816845861e75A25fCA122bb6898B8B1282a",
) as [Token, Token, Token];
const STABLES = [USDT, USDC, USDM];

/** 100,000 gas at 2 gwei (in every fee currency's 18-decimal units): 2e14, with the margin 3e14 — 0.0003 USDT. */
function node(balances: { celo?: bigint; tokens?: Record<string, bigint> }): ChainRead & { calls: string[] } {
  const calls: string[] = [];
  const read = async (method: string, params: unknown[]) => {
    calls.push(method);
    switch (method) {
      case "eth_getBalance":
        return numberToHex(balances.celo ?? 0n);
      case "eth_call": {
        const to = (params[0] as { to: string }).to.toLowerCase();
        const held = Object.entries(balances.tokens ?? {}).find(([address]) => address.toLowerCase() === to)?.[1];
        return held === undefined ? "0x" : numberToHex(held, { size: 32 });
      }
      case "eth_estimateGas":
        return numberToHex(100_000n);
      case "eth_gasPrice":
        return numberToHex(2_000_000_000n);
    }
    throw new Error(`unexpected ${method}`);
  };
  return Object.assign(read, { calls });
}

const transfer = { from: ME, to: USDT.address, data: "0xa9059cbb" as const };
const usdt = (units: string) => BigInt(Math.round(Number(units) * 1e6));

describe("feeInToken", () => {
  it("scales an adapter's 18 decimals down to the token's, rounding up", () => {
    expect(feeInToken(1n, USDT)).toBe(1n);
    expect(feeInToken(10n ** 12n, USDT)).toBe(1n);
    expect(feeInToken(10n ** 12n + 1n, USDT)).toBe(2n);
    expect(feeInToken(123n, USDM)).toBe(123n);
  });
});

describe("affordableFee, MiniPay (fees in stablecoins)", () => {
  it("pays the fee in the stablecoin paid when it covers amount and fee", async () => {
    const read = node({ tokens: { [USDT.address]: usdt("25") } });
    expect(await affordableFee(read, transfer, { token: USDT, value: usdt("20") }, STABLES)).toBe(USDT.feeCurrency);
  });

  it("refuses a payment of the whole balance: the fee is not covered, and says what it needs", async () => {
    const read = node({ tokens: { [USDT.address]: usdt("20") } });
    const checking = affordableFee(read, transfer, { token: USDT, value: usdt("20") }, STABLES);
    await expect(checking).rejects.toBeInstanceOf(Shortfall);
    await expect(checking).rejects.toThrow(
      "Not enough USDT for this payment and its network fee: it needs 20.0003 USDT, you have 20 USDT.",
    );
  });

  it("pays the fee in another stablecoin held when the one paid cannot cover it too", async () => {
    const read = node({ tokens: { [USDT.address]: usdt("20"), [USDM.address]: 10n ** 16n } });
    expect(await affordableFee(read, transfer, { token: USDT, value: usdt("20") }, STABLES)).toBe(USDM.feeCurrency);
  });

  it("says so when the amount alone is more than the balance", async () => {
    const read = node({ tokens: { [USDT.address]: usdt("20") } });
    await expect(affordableFee(read, transfer, { token: USDT, value: usdt("30") }, STABLES)).rejects.toThrow(
      "Not enough USDT: this payment is 30 USDT, you have 20 USDT.",
    );
  });

  it("for a transaction that pays nothing (sign-in), takes the first stablecoin that covers the fee", async () => {
    const signIn = { from: ME, to: ME, value: 0n };
    const only = node({ tokens: { [USDC.address]: 1n } }); // 0.000001 USDC: not even the fee
    await expect(affordableFee(only, signIn, { token: null, value: 0n }, STABLES)).rejects.toThrow("network fee");
    const some = node({ tokens: { [USDC.address]: usdt("1") } });
    expect(await affordableFee(some, signIn, { token: null, value: 0n }, STABLES)).toBe(USDC.feeCurrency);
  });
});

describe("affordableFee, fees in CELO (the burner)", () => {
  it("needs the amount and the fee in CELO", async () => {
    const send = { from: ME, to: FRIEND, value: 10n ** 18n };
    await expect(affordableFee(node({ celo: 10n ** 18n }), send, { token: null, value: 10n ** 18n }, null)).rejects.toThrow(
      "Not enough CELO for the network fee",
    );
    expect(await affordableFee(node({ celo: 2n * 10n ** 18n }), send, { token: null, value: 10n ** 18n }, null)).toBeNull();
  });

  it("needs the token for the amount and CELO for the fee", async () => {
    const read = node({ tokens: { [USDT.address]: usdt("5") } });
    await expect(affordableFee(read, transfer, { token: USDT, value: usdt("5") }, null)).rejects.toThrow("CELO");
  });
});
