// Every setting the app reads, in one place. Next.js inlines NEXT_PUBLIC_* at build time only when they are
// written out literally, so each is read by its full name.
import { parseTokens, type Token } from "./tokens";

export type XmtpEnvSetting = "dev" | "production" | "local" | "off";

function xmtpEnv(raw: string | undefined): XmtpEnvSetting {
  return raw === "production" || raw === "local" || raw === "off" ? raw : "dev";
}

function chainId(raw: string | undefined): number {
  const parsed = Number(raw);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : 42220;
}

/** The stablecoins MiniPay holds, on Celo mainnet: `SYMBOL:token:decimals:fee currency` (the fee currency of a
 * 6-decimal token is its adapter; USDm pays fees in itself). */
const CELO_STABLECOINS =
  "USDT:0x48065fbBE25f71C9282ddf5e1cD6D6A887483D5e:6:0x0E2A3e05bc9A16F5292A6170456A710cb89C6f72," +
  "USDC:0xcebA9300f2b948710d2653dD7B07f33A8B32118C:6:0x2F25deB3848C207fc8E0c34035B3Ba7fC157602B," +
  "USDm:0x765DE816845861e75A25fCA122bb6898B8B1282a:18:0x765DE816845861e75A25fCA122bb6898B8B1282a";

export const config = {
  serverUrl: (process.env.NEXT_PUBLIC_OPTIMISTIC_SERVER_URL || "http://localhost:5001").replace(/\/+$/, ""),
  chainId: chainId(process.env.NEXT_PUBLIC_CHAIN_ID),
  /** The chain node the burner wallet pays through; null when the build names none (the burner cannot pay then). */
  chainRpcUrl: process.env.NEXT_PUBLIC_CHAIN_RPC_URL || null,
  xmtpEnv: xmtpEnv(process.env.NEXT_PUBLIC_XMTP_ENV),
  tokens: parseTokens(process.env.NEXT_PUBLIC_TOKENS || CELO_STABLECOINS) as readonly Token[],
  /** Farcaster's Quick Auth server, which turns the client's sign-in into the JWT the server's link checks. */
  farcasterQuickAuthUrl: (process.env.NEXT_PUBLIC_FARCASTER_QUICK_AUTH_URL || "https://auth.farcaster.xyz").replace(/\/+$/, ""),
  /** The server's longest message body (MAX_BODY_CHARS), in characters (code points, as the server counts). */
  maxBodyChars: 4000,
} as const;
