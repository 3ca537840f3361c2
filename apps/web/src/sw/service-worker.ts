// The app's service worker (built by scripts/build-sw.mjs into public/sw.js): keeps the shell for offline reloads,
// shows pushes as notifications, and opens the right chat on a tap. Its decisions are the pure functions it imports.
import { notificationFor, parsePayload, windowFor } from "@/lib/notifications";
import { cacheRule, OFFLINE_PAGE, pageKey, shellCache, staleShellCaches, staticFilesOf } from "@/lib/offline-shell";

declare const __OM_BUILD__: string; // the build's name, written in by scripts/build-sw.mjs
const SHELL_CACHE = shellCache(__OM_BUILD__);

// The parts of the ServiceWorkerGlobalScope used here (the project's TypeScript lib is the DOM's, not the worker's).
interface ExtendableEvent extends Event {
  waitUntil(work: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  request: Request;
  respondWith(answer: Promise<Response>): void;
}
interface PushEvent extends ExtendableEvent {
  data: { json(): unknown } | null;
}
interface NotificationEvent extends ExtendableEvent {
  notification: Notification;
}
interface WindowClient {
  url: string;
  focus(): Promise<WindowClient>;
  navigate(url: string): Promise<WindowClient | null>;
}
interface Worker {
  location: Location;
  registration: ServiceWorkerRegistration;
  clients: {
    claim(): Promise<void>;
    matchAll(options: { type: "window"; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: string, listener: (event: never) => void): void;
}

const worker = self as unknown as Worker;
const origin = worker.location.origin;

/** Keeps the static files a page's HTML names that are not kept yet, then the page as served: a kept page always
 * finds its files. A redirected answer is not kept: a browser refuses one for a navigation. */
async function keep(url: string, answer: Response): Promise<void> {
  if (!answer.ok || answer.redirected || !(answer.headers.get("content-type") ?? "").includes("text/html")) return;
  const cache = await caches.open(SHELL_CACHE);
  const html = await answer.clone().text();
  const missing = [];
  for (const file of staticFilesOf(html, origin)) if (!(await cache.match(file))) missing.push(file);
  await Promise.all(missing.map((file) => cache.add(file).catch(() => undefined)));
  await cache.put(pageKey(url), answer);
}

const fetchAndKeep = async (url: string) => keep(url, await fetch(url));

/** From the network, kept while the page already shows; what was kept when the network fails, else a page saying so
 * (not the browser's error page). */
async function page(event: FetchEvent): Promise<Response> {
  try {
    const answer = await fetch(event.request);
    event.waitUntil(keep(event.request.url, answer.clone()).catch(() => undefined));
    return answer;
  } catch {
    const kept = await caches.match(pageKey(event.request.url));
    return kept ?? new Response(OFFLINE_PAGE, { status: 503, headers: { "content-type": "text/html; charset=utf-8" } });
  }
}

async function staticFile(request: Request): Promise<Response> {
  const kept = await caches.match(request);
  if (kept) return kept;
  const answer = await fetch(request);
  if (answer.ok) await (await caches.open(SHELL_CACHE)).put(request, answer.clone());
  return answer;
}

worker.addEventListener("install", (event: ExtendableEvent) => {
  event.waitUntil(fetchAndKeep(`${origin}/`).then(() => worker.skipWaiting(), () => worker.skipWaiting()));
});

// Older builds' shells go once this build's worker is active (a page still open from one fetches what it lacks).
worker.addEventListener("activate", (event: ExtendableEvent) => {
  const dropStale = async () => {
    await Promise.all(staleShellCaches(await caches.keys(), __OM_BUILD__).map((name) => caches.delete(name)));
  };
  event.waitUntil(dropStale().then(() => worker.clients.claim()));
});

worker.addEventListener("fetch", (event: FetchEvent) => {
  const rule = cacheRule(event.request, origin);
  if (rule === "page") event.respondWith(page(event));
  else if (rule === "static") event.respondWith(staticFile(event.request));
});

// A page reached without a navigation (the app's own router) asks for it to be kept too.
worker.addEventListener("message", (event: ExtendableEvent & { data: unknown }) => {
  const data = event.data as { keep?: unknown } | null;
  if (typeof data?.keep === "string" && new URL(data.keep).origin === origin) {
    event.waitUntil(fetchAndKeep(data.keep).catch(() => undefined));
  }
});

/** The push's payload; null when it is not one (not JSON, or not ours): nothing true to say. */
function payloadOf(event: PushEvent) {
  try {
    return parsePayload(event.data?.json());
  } catch {
    return null;
  }
}

worker.addEventListener("push", (event: PushEvent) => {
  const payload = payloadOf(event);
  if (!payload) return;
  const { title, ...options } = notificationFor(payload, origin);
  event.waitUntil(worker.registration.showNotification(title, options));
});

worker.addEventListener("notificationclick", (event: NotificationEvent) => {
  event.notification.close();
  const target = (event.notification.data as { url?: unknown } | null)?.url;
  const url = typeof target === "string" && target.startsWith(`${origin}/`) ? target : `${origin}/`;
  event.waitUntil(
    (async () => {
      const windows = await worker.clients.matchAll({ type: "window", includeUncontrolled: true });
      const chosen = windowFor(windows.map((w) => w.url), url);
      const client = chosen && windows[chosen.index];
      // A window this worker does not control cannot be navigated: a new one opens instead.
      const shown = client && (chosen.navigate ? await client.navigate(url).catch(() => null) : client);
      if (shown) await shown.focus();
      else await worker.clients.openWindow(url);
    })(),
  );
});
