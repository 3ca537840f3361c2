// The wallet behind a session, one shape for every host: a development burner key kept in localStorage, an injected
// EIP-1193 provider (window.ethereum), MiniPay's (legacy transactions only, no message signing, fees in
// stablecoins) or the Farcaster client's. Each signs in and sends transactions on the configured chain.
import {
  createWalletClient,
  custom,
  decodeFunctionResult,
  defineChain,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  http,
  toHex,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { config } from "./config";
import { detectHost, farcasterProvider, injectedProvider, isMiniPay, type Eip1193Provider } from "./hosts";
import type { WalletKind } from "./session";

export interface TxRequest {
  to: Address;
  data?: Hex;
  value?: bigint;
  /** Celo: the token the fee is paid in (MiniPay holds no CELO); omitted: the one the wallet holds. */
  feeCurrency?: Address | null;
}

export interface Wallet {
  kind: WalletKind;
  address: Address;
  /** False for MiniPay: it signs transactions only, so it signs in by transaction. */
  canSignMessages: boolean;
  signMessage(message: string): Promise<Hex>;
  send(tx: TxRequest): Promise<Hex>;
}

export const chain = defineChain({
  id: config.chainId,
  name: config.chainId === 42220 ? "Celo" : `Chain ${config.chainId}`,
  nativeCurrency: { name: "Celo", symbol: "CELO", decimals: 18 },
  rpcUrls: { default: { http: [config.chainRpcUrl] } },
});

const BURNER_KEY = "om.burner-key";

function burnerWallet(): Wallet {
  let key = window.localStorage.getItem(BURNER_KEY);
  if (!key || !/^0x[0-9a-fA-F]{64}$/.test(key)) {
    key = generatePrivateKey();
    window.localStorage.setItem(BURNER_KEY, key);
  }
  const account = privateKeyToAccount(key as Hex);
  const client = createWalletClient({ account, chain, transport: http(config.chainRpcUrl) });
  return {
    kind: "burner",
    address: account.address,
    canSignMessages: true,
    signMessage: (message) => account.signMessage({ message }),
    send: ({ to, data, value }) => client.sendTransaction({ to, data, value }),
  };
}

/** MetaMask and the like, and the Farcaster client's wallet: viem over the provider, on the configured chain. */
function providerWallet(kind: WalletKind, provider: Eip1193Provider, address: Address): Wallet {
  const client = createWalletClient({ account: address, chain, transport: custom(provider) });
  return {
    kind,
    address,
    canSignMessages: true,
    signMessage: (message) => client.signMessage({ message }),
    async send({ to, data, value }) {
      if ((await client.getChainId()) !== chain.id) await client.switchChain({ id: chain.id });
      return client.sendTransaction({ to, data, value });
    },
  };
}

async function balanceOf(provider: Eip1193Provider, token: Address, owner: Address): Promise<bigint> {
  const data = encodeFunctionData({ abi: erc20Abi, functionName: "balanceOf", args: [owner] });
  const result = (await provider.request({ method: "eth_call", params: [{ to: token, data }, "latest"] })) as Hex;
  return decodeFunctionResult({ abi: erc20Abi, functionName: "balanceOf", data: result });
}

/** The fee currency of the first configured stablecoin the wallet holds; null (the wallet decides) when none. */
async function heldFeeCurrency(provider: Eip1193Provider, owner: Address): Promise<Address | null> {
  for (const token of config.tokens) {
    if (!token.feeCurrency) continue;
    const held = await balanceOf(provider, token.address, owner).catch(() => 0n);
    if (held > 0n) return token.feeCurrency;
  }
  return null;
}

/** MiniPay: plain eth_sendTransaction without EIP-1559 fields (it sends legacy transactions only), the fee in a
 * stablecoin through Celo's feeCurrency. */
function miniPayWallet(provider: Eip1193Provider, address: Address): Wallet {
  return {
    kind: "minipay",
    address,
    canSignMessages: false,
    signMessage: () => Promise.reject(new Error("MiniPay does not sign messages")),
    async send({ to, data, value = 0n, feeCurrency }) {
      const fee = feeCurrency === undefined ? await heldFeeCurrency(provider, address) : feeCurrency;
      const tx = { from: address, to, value: toHex(value), ...(data ? { data } : {}), ...(fee ? { feeCurrency: fee } : {}) };
      return (await provider.request({ method: "eth_sendTransaction", params: [tx] })) as Hex;
    },
  };
}

function providerFor(kind: WalletKind): Eip1193Provider | null {
  if (kind === "farcaster") return farcasterProvider();
  const provider = injectedProvider();
  return kind === "minipay" && !isMiniPay(provider) ? null : provider;
}

function walletOf(kind: WalletKind, provider: Eip1193Provider, address: Address): Wallet {
  return kind === "minipay" ? miniPayWallet(provider, address) : providerWallet(kind, provider, address);
}

/** Asks the wallet for an account (an injected one may prompt the user; MiniPay answers at once). */
export async function connectWallet(kind: WalletKind): Promise<Wallet> {
  if (kind === "burner") return burnerWallet();
  const provider = providerFor(kind);
  if (!provider) throw new Error("No wallet found");
  const accounts = (await provider.request({ method: "eth_requestAccounts" })) as string[];
  const first = accounts[0];
  if (!first) throw new Error("The wallet shared no account");
  return walletOf(kind, provider, getAddress(first));
}

/** The wallet of a stored session, without prompting; null when it is no longer available. A Farcaster client's
 * wallet comes from its SDK once the host is detected: right after a reload that is still under way, so wait for it. */
export async function walletForSession(kind: WalletKind, address: string): Promise<Wallet | null> {
  if (kind === "burner") {
    const wallet = burnerWallet();
    return wallet.address.toLowerCase() === address.toLowerCase() ? wallet : null;
  }
  if (kind === "farcaster") await detectHost();
  const provider = providerFor(kind);
  return provider ? walletOf(kind, provider, getAddress(address)) : null;
}
