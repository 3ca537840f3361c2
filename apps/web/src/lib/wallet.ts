// The wallet behind a session, one shape for every host: a development burner key kept in localStorage, an injected
// EIP-1193 provider (window.ethereum), MiniPay's (legacy transactions only, no message signing, fees in
// stablecoins) or the Farcaster client's. Each signs in and sends transactions on the configured chain.
import {
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  getAddress,
  http,
  toHex,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { config } from "./config";
import { affordableFee, Shortfall, type ChainRead } from "./funds";
import { detectHost, farcasterProvider, injectedProvider, isMiniPay, type Eip1193Provider } from "./hosts";
import type { WalletKind } from "./session";
import type { Token } from "./tokens";

export interface TxRequest {
  to: Address;
  data?: Hex;
  value?: bigint;
  /** Celo: what pays the fee (MiniPay holds no CELO), null for CELO; omitted: MiniPay picks a stablecoin that covers
   * it. Only MiniPay's wallet sends it; the others pay fees in CELO. */
  feeCurrency?: Address | null;
}

export interface Wallet {
  kind: WalletKind;
  address: Address;
  /** False for MiniPay: it signs transactions only, so it signs in by transaction. */
  canSignMessages: boolean;
  /** Reads the chain this wallet pays on, for the checks before paying (src/lib/funds.ts); null where that chain is
   * not known beforehand (a browser or Farcaster wallet may be on another until switched): those check for themselves. */
  chainRead: ChainRead | null;
  /** The stablecoins it pays network fees in (Celo's feeCurrency: MiniPay); null: fees in CELO. */
  feeTokens: readonly Token[] | null;
  signMessage(message: string): Promise<Hex>;
  send(tx: TxRequest): Promise<Hex>;
}

export const chain = defineChain({
  id: config.chainId,
  name: config.chainId === 42220 ? "Celo" : `Chain ${config.chainId}`,
  nativeCurrency: { name: "Celo", symbol: "CELO", decimals: 18 },
  rpcUrls: { default: { http: config.chainRpcUrl ? [config.chainRpcUrl] : [] } },
});

const BURNER_KEY = "om.burner-key";

/** Why the burner wallet cannot pay: it sends through the app's own chain node, and this build names none. */
export const NO_CHAIN_NODE =
  "Payments are off here: this app was built without a chain node (NEXT_PUBLIC_CHAIN_RPC_URL) for the development wallet";

/** Why this kind of wallet cannot pay in this build, or null when it can (the other wallets bring their own node). */
export function paymentsOff(kind: WalletKind): string | null {
  return kind === "burner" && !config.chainRpcUrl ? NO_CHAIN_NODE : null;
}

function burnerWallet(): Wallet {
  let key = window.localStorage.getItem(BURNER_KEY);
  if (!key || !/^0x[0-9a-fA-F]{64}$/.test(key)) {
    key = generatePrivateKey();
    window.localStorage.setItem(BURNER_KEY, key);
  }
  const account = privateKeyToAccount(key as Hex);
  const base = {
    kind: "burner" as const,
    address: account.address,
    canSignMessages: true,
    feeTokens: null,
    signMessage: (message: string) => account.signMessage({ message }),
  };
  const rpcUrl = config.chainRpcUrl;
  if (!rpcUrl) {
    return { ...base, chainRead: null, send: () => Promise.reject(new Error(NO_CHAIN_NODE)) };
  }
  const client = createWalletClient({ account, chain, transport: http(rpcUrl) });
  const reader = createPublicClient({ chain, transport: http(rpcUrl) });
  return {
    ...base,
    chainRead: (method, params) => reader.request({ method, params } as never),
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
    chainRead: null,
    feeTokens: null,
    signMessage: (message) => client.signMessage({ message }),
    async send({ to, data, value }) {
      if ((await client.getChainId()) !== chain.id) await client.switchChain({ id: chain.id });
      return client.sendTransaction({ to, data, value });
    },
  };
}

/** MiniPay: plain eth_sendTransaction without EIP-1559 fields (it sends legacy transactions only), the fee in a
 * stablecoin through Celo's feeCurrency — one that covers it, when the caller did not choose. */
function miniPayWallet(provider: Eip1193Provider, address: Address): Wallet {
  const chainRead: ChainRead = (method, params) => provider.request({ method, params });
  const feeTokens = config.tokens.filter((t) => t.feeCurrency);
  return {
    kind: "minipay",
    address,
    canSignMessages: false,
    chainRead,
    feeTokens,
    signMessage: () => Promise.reject(new Error("MiniPay does not sign messages")),
    async send({ to, data, value = 0n, feeCurrency }) {
      const fee =
        feeCurrency !== undefined
          ? feeCurrency
          : await affordableFee(chainRead, { from: address, to, data, value }, { token: null, value }, feeTokens).catch(
              (error: unknown) => {
                // Nothing covers the fee: say so rather than send what must fail. A read that failed: MiniPay decides.
                if (error instanceof Shortfall) throw error;
                return null;
              },
            );
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
