// What the service worker keeps so that a reload shows the app at once, even offline: the pages as last served and the
// build's static files they use. Pure rules; src/sw/service-worker.ts applies them.

const SHELL_PREFIX = "om-shell-";

/** Each build keeps its shell in a cache of its own (`build`: scripts/source-digest.mjs), so a new build's worker
 * can drop what older builds kept: their pages name their own static files, which no page of this build uses. */
export function shellCache(build: string): string {
  return `${SHELL_PREFIX}${build}`;
}

/** The shell caches of other builds (`om-shell-v1` was the one before builds had names): deleted once `build`'s
 * worker is active. Other caches of the origin are not the shell's and are left alone. */
export function staleShellCaches(names: string[], build: string): string[] {
  return names.filter((name) => name.startsWith(SHELL_PREFIX) && name !== shellCache(build));
}

/** How a request is answered: `page` from the network, kept, and from the cache when the network fails; `static` (a
 * build's content-hashed file, never changed) from the cache first; `pass` left to the browser. */
export type CacheRule = "page" | "static" | "pass";

export function cacheRule(request: { url: string; method: string; mode: string }, origin: string): CacheRule {
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== origin) return "pass";
  if (request.mode === "navigate") return "page";
  return url.pathname.startsWith("/_next/static/") ? "static" : "pass";
}

/** The key a page is kept under: its path, without query or fragment (a chat's page is one page whatever follows). */
export function pageKey(url: string): string {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

/** The build's static files a page's HTML refers to (scripts, styles, fonts), as absolute URLs on `origin`. */
export function staticFilesOf(html: string, origin: string): string[] {
  const found = new Set<string>();
  for (const match of html.matchAll(/\/_next\/static\/[^"'\s)\\]+/g)) found.add(`${origin}${match[0]}`);
  return [...found];
}

/** Whether a kept page is one of the signed-in person's: a chat's page, whose path names the chat (a DM's id holds both
 * addresses). Signing out forgets these, as it forgets the chats' history; the start page and the build's files stay. */
export function isPersonalPage(url: string): boolean {
  return new URL(url).pathname.startsWith("/chats/");
}

/** Signing out: the kept pages that say whom this person talked with are forgotten on this device, in every build's
 * shell cache (the page does not know which build its worker is). */
export async function forgetPersonalPages(): Promise<void> {
  if (typeof caches === "undefined") return;
  const shells = (await caches.keys()).filter((name) => name.startsWith(SHELL_PREFIX));
  for (const name of shells) {
    const cache = await caches.open(name);
    const keys = await cache.keys();
    await Promise.all(keys.filter((request) => isPersonalPage(request.url)).map((request) => cache.delete(request)));
  }
}

/** What an offline navigation to a page never kept here shows instead of the browser's error page: what happened, the
 * way to the start page (kept), and a link to try the page again. Names nothing of the page asked for, so nothing from
 * its URL is put into the HTML (an empty href is the page itself). */
export const OFFLINE_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Offline · Optimistic Messaging</title>
<style>body{margin:0;padding:24px 16px;background:#0f172a;color:#e2e8f0;font:16px/1.5 system-ui,sans-serif}
a{color:#fcff52}</style></head><body><main data-testid="offline-page">
<h1 style="font-size:20px">You are offline</h1>
<p>This page was not opened on this device before, so there is nothing kept to show. It opens once the network is
back.</p><p><a href="" data-testid="offline-retry">Try again</a> · <a href="/" data-testid="offline-home">Your chats</a>
</p></main></body></html>`;
