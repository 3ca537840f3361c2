// The manifest served at /.well-known/farcaster.json (Farcaster mini-app spec, version "1").
import { config } from "./config";

export interface AccountAssociation {
  header: string;
  payload: string;
  signature: string;
}

function association(raw: string | undefined): AccountAssociation | null {
  try {
    const value = JSON.parse(raw ?? "null") as Partial<AccountAssociation> | null;
    return value && [value.header, value.payload, value.signature].every((part) => typeof part === "string")
      ? (value as AccountAssociation)
      : null;
  } catch {
    return null;
  }
}

/** For the app at `origin`; the account association (the domain signed by the publisher's Farcaster account, as
 * JSON `{header, payload, signature}`) when it is configured — clients add only apps whose domain is signed. */
export function farcasterManifest(origin: string, accountAssociation: string | undefined, serverUrl = config.serverUrl) {
  const signed = association(accountAssociation);
  return {
    ...(signed ? { accountAssociation: signed } : {}),
    miniapp: {
      version: "1",
      name: "Optimistic Messaging",
      homeUrl: `${origin}/`,
      // PNGs as Farcaster asks (1024 x 1024 and 200 x 200, no alpha), rendered from src/app/icon.svg by
      // scripts/render-icons.py into public/.
      iconUrl: `${origin}/icon-1024.png`,
      splashImageUrl: `${origin}/splash-200.png`,
      splashBackgroundColor: "#0f172a",
      webhookUrl: `${serverUrl}/api/farcaster/webhook`,
    },
  };
}
