// Every setting the app reads, in one place. Next.js inlines NEXT_PUBLIC_* at build time only when they are
// written out literally, so each is read by its full name.

export type XmtpEnvSetting = "dev" | "production" | "local" | "off";

function xmtpEnv(raw: string | undefined): XmtpEnvSetting {
  return raw === "production" || raw === "local" || raw === "off" ? raw : "dev";
}

function chainId(raw: string | undefined): number {
  const parsed = Number(raw);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : 42220;
}

export const config = {
  serverUrl: (process.env.NEXT_PUBLIC_OPTIMISTIC_SERVER_URL || "http://localhost:5001").replace(/\/+$/, ""),
  chainId: chainId(process.env.NEXT_PUBLIC_CHAIN_ID),
  chainRpcUrl: process.env.NEXT_PUBLIC_CHAIN_RPC_URL || "http://127.0.0.1:8545",
  xmtpEnv: xmtpEnv(process.env.NEXT_PUBLIC_XMTP_ENV),
} as const;
