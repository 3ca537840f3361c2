// Inside a Farcaster client, notifications come from the client: the app asks once to be added (which hands the
// client's notification token to the server's webhook), then ties this Farcaster account to the signed-in address
// with a Quick Auth token (POST /api/farcaster/link), so that the server knows whom to notify.
import { api } from "./api";
import { config } from "./config";

const askedKey = (address: string) => `om.farcaster-asked.${address.toLowerCase()}`;

/** Whether this address was offered the add here already (accepted or declined): never offered twice. */
export function farcasterAsked(address: string): boolean {
  return window.localStorage.getItem(askedKey(address)) !== null;
}

/** On the user's tap: the client's add dialog (skipped when the app is added already), then the link. "declined" when
 * the person said no; a failure to link throws and leaves the offer standing. */
export async function addToFarcaster(token: string, address: string): Promise<"linked" | "declined"> {
  const { sdk } = await import("@farcaster/miniapp-sdk");
  if (!(await sdk.context).client.added) {
    try {
      await sdk.actions.addMiniApp();
    } catch {
      window.localStorage.setItem(askedKey(address), "declined");
      return "declined";
    }
  }
  const { token: quickAuth } = await sdk.quickAuth.getToken({ quickAuthServerOrigin: config.farcasterQuickAuthUrl });
  await api.linkFarcaster(token, quickAuth);
  window.localStorage.setItem(askedKey(address), "linked");
  return "linked";
}
