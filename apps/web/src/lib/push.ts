// This browser's side of Web Push: the service worker registered, a subscription made with the server's VAPID key on
// a tap and sent to the server, and ended again. Which address the subscription was sent for is kept on the device,
// so that another person signing in here is not told notifications are on.
import { api } from "./api";
import { base64UrlBytes, type PushAbilities } from "./notify-offer";

const markerKey = (address: string) => `om.push.${address.toLowerCase()}`;

/** What this browser has of Web Push; no service worker in a development build (none is registered there). */
export function pushAbilities(): PushAbilities {
  return {
    serviceWorker:
      process.env.NODE_ENV === "production" && typeof navigator !== "undefined" && "serviceWorker" in navigator,
    pushManager: typeof window !== "undefined" && "PushManager" in window,
    notification: typeof window !== "undefined" && "Notification" in window,
  };
}

/** The worker of a production build (a development build's files change under the same names: nothing is kept). */
export function registerServiceWorker(): void {
  if (pushAbilities().serviceWorker) void navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
}

/** Asks the worker to keep the page now shown (reached by the app's router, not by a navigation it saw); once it is
 * active, even before it controls this page. */
export function keepPageOffline(url: string): void {
  if (!pushAbilities().serviceWorker) return;
  void navigator.serviceWorker.ready.then((registration) => registration.active?.postMessage({ keep: url }));
}

/** Whether this browser's subscription is the one sent for `address`. */
export async function pushIsOn(address: string): Promise<boolean> {
  const subscription = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
  return !!subscription && subscription.endpoint === window.localStorage.getItem(markerKey(address));
}

/** On the user's tap only: the browser asks for permission, then subscribes; the server gets the subscription. */
export async function turnOnPush(token: string, address: string): Promise<void> {
  if ((await Notification.requestPermission()) !== "granted") throw new Error("Notifications are blocked for this site");
  const { public_key } = await api.pushKey();
  const manager = (await navigator.serviceWorker.ready).pushManager;
  const subscription = await manager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlBytes(public_key) });
  await api.putPushSubscription(token, subscription.toJSON());
  window.localStorage.setItem(markerKey(address), subscription.endpoint);
}

export async function turnOffPush(token: string, address: string): Promise<void> {
  const subscription = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
  if (subscription) {
    await api.deletePushSubscription(token, subscription.endpoint);
    await subscription.unsubscribe();
  }
  window.localStorage.removeItem(markerKey(address));
}

/** Signing out: the server ends the session's subscriptions, and this browser ends the one it sent for `address` with
 * the push service too, so that the next person here is not shown this one's messages even when the server could not
 * be told (the push service then answers 410, and the server drops it). */
export async function forgetPush(address: string): Promise<void> {
  const sent = window.localStorage.getItem(markerKey(address));
  window.localStorage.removeItem(markerKey(address));
  if (!sent || !pushAbilities().serviceWorker) return;
  const subscription = await (await navigator.serviceWorker.ready).pushManager.getSubscription();
  if (subscription?.endpoint === sent) await subscription.unsubscribe();
}
