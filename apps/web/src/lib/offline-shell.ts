// What the service worker keeps so that a reload shows the app at once, even offline: the pages as last served and the
// build's static files they use. Pure rules; src/sw/service-worker.ts applies them.

export const SHELL_CACHE = "om-shell-v1";

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
