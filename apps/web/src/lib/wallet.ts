// The wallet behind a session: an injected EIP-1193 provider (window.ethereum) or, for development, a burner key
// kept in localStorage. Both sign SIWE/XMTP messages and send payments on the configured chain.
import {
  createWalletClient,
  custom,
  defineChain,
  getAddress,
  http,
  type Account,
  type Address,
  type Chain,
  type Hex,
  type Transport,
  type WalletClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { config } from "./config";
import type { WalletKind } from "./session";

export interface Eip1193Provider {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
}

export interface Wallet {
  kind: WalletKind;
  address: Address;
  signMessage(message: string): Promise<Hex>;
  client: WalletClient<Transport, Chain, Account>;
}

export const chain = defineChain({
  id: config.chainId,
  name: config.chainId === 42220 ? "Celo" : `Chain ${config.chainId}`,
  nativeCurrency: { name: "Celo", symbol: "CELO", decimals: 18 },
  rpcUrls: { default: { http: [config.chainRpcUrl] } },
});

const BURNER_KEY = "om.burner-key";

export function injectedProvider(): Eip1193Provider | null {
  if (typeof window === "undefined") return null;
  return (window as { ethereum?: Eip1193Provider }).ethereum ?? null;
}

function burnerWallet(): Wallet {
  let key = window.localStorage.getItem(BURNER_KEY);
  if (!key || !/^0x[0-9a-fA-F]{64}$/.test(key)) {
    key = generatePrivateKey();
    window.localStorage.setItem(BURNER_KEY, key);
  }
  const account = privateKeyToAccount(key as Hex);
  const client = createWalletClient({ account, chain, transport: http(config.chainRpcUrl) });
  return { kind: "burner", address: account.address, signMessage: (message) => account.signMessage({ message }), client };
}

function injectedWallet(provider: Eip1193Provider, address: Address): Wallet {
  const client = createWalletClient({ account: address, chain, transport: custom(provider) });
  return { kind: "injected", address, signMessage: (message) => client.signMessage({ message }), client };
}

/** Asks the wallet for an account (the injected one may prompt the user). */
export async function connectWallet(kind: WalletKind): Promise<Wallet> {
  if (kind === "burner") return burnerWallet();
  const provider = injectedProvider();
  if (!provider) throw new Error("No browser wallet found");
  const accounts = (await provider.request({ method: "eth_requestAccounts" })) as string[];
  const first = accounts[0];
  if (!first) throw new Error("The wallet shared no account");
  return injectedWallet(provider, getAddress(first));
}

/** The wallet of a stored session, without prompting; null when it is no longer available. */
export function walletForSession(kind: WalletKind, address: string): Wallet | null {
  if (kind === "burner") {
    const wallet = burnerWallet();
    return wallet.address.toLowerCase() === address.toLowerCase() ? wallet : null;
  }
  const provider = injectedProvider();
  return provider ? injectedWallet(provider, getAddress(address)) : null;
}
