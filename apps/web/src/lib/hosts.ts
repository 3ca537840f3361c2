// Where the app runs: inside MiniPay (window.ethereum.isMiniPay), inside a Farcaster client (the mini-app SDK answers
// from the parent frame), or in a plain browser. Detected once per page; the Farcaster SDK loads only in a frame.

export type Host = "minipay" | "farcaster" | "browser";

export interface Eip1193Provider {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
}

export function injectedProvider(): Eip1193Provider | null {
  if (typeof window === "undefined") return null;
  return (window as { ethereum?: Eip1193Provider }).ethereum ?? null;
}

export function isMiniPay(provider: Eip1193Provider | null = injectedProvider()): boolean {
  return (provider as { isMiniPay?: unknown } | null)?.isMiniPay === true;
}

let farcasterWallet: Eip1193Provider | null = null;
let detected: Promise<Host> | null = null;

/** The Farcaster client's wallet, once detectHost found one. */
export function farcasterProvider(): Eip1193Provider | null {
  return farcasterWallet;
}

async function detectFarcaster(): Promise<boolean> {
  // A mini app runs in a frame (web clients) or a React Native web view (mobile clients); anything else is not one.
  if (window.parent === window && !("ReactNativeWebView" in window)) return false;
  try {
    const { sdk } = await import("@farcaster/miniapp-sdk");
    if (!(await sdk.isInMiniApp())) return false;
    // The client shows its splash screen until the app says it is ready.
    await sdk.actions.ready();
    farcasterWallet = ((await sdk.wallet.getEthereumProvider()) as Eip1193Provider | undefined) ?? null;
    return farcasterWallet !== null;
  } catch {
    return false;
  }
}

export function detectHost(): Promise<Host> {
  detected ??= isMiniPay() ? Promise.resolve("minipay") : detectFarcaster().then((yes) => (yes ? "farcaster" : "browser"));
  return detected;
}
