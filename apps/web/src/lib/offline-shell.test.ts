import { describe, expect, it } from "vitest";
import { cacheRule, isPersonalPage, OFFLINE_PAGE, pageKey, shellCache, staleShellCaches, staticFilesOf } from "./offline-shell";

const ORIGIN = "https://app.example";
const get = (url: string, mode = "cors") => ({ url, method: "GET", mode });

describe("cacheRule", () => {
  it("keeps pages and the build's files of this origin, nothing else", () => {
    expect(cacheRule(get(`${ORIGIN}/chats/x`, "navigate"), ORIGIN)).toBe("page");
    expect(cacheRule(get(`${ORIGIN}/_next/static/chunks/a1.js`), ORIGIN)).toBe("static");
    expect(cacheRule(get(`${ORIGIN}/chats/x?_rsc=1`), ORIGIN)).toBe("pass");
    expect(cacheRule(get("https://api.example/api/chats"), ORIGIN)).toBe("pass");
    expect(cacheRule({ url: `${ORIGIN}/_next/static/a.js`, method: "POST", mode: "cors" }, ORIGIN)).toBe("pass");
  });
});

describe("staleShellCaches", () => {
  it("is every other build's shell cache, the unnamed first one too, and no cache that is not a shell's", () => {
    const names = ["om-shell-v1", shellCache("aaaa"), shellCache("bbbb"), "xmtp-sdk", "om-shellfish"];
    expect(staleShellCaches(names, "bbbb")).toEqual(["om-shell-v1", shellCache("aaaa")]);
    expect(staleShellCaches([shellCache("bbbb")], "bbbb")).toEqual([]);
  });
});

describe("pageKey", () => {
  it("is the page's path, whatever query or fragment follows", () => {
    expect(pageKey(`${ORIGIN}/chats/x?from=push#end`)).toBe(`${ORIGIN}/chats/x`);
  });
});

describe("staticFilesOf", () => {
  it("finds each static file a page refers to once, also inside its inline data", () => {
    const html = `<link href="/_next/static/css/a.css" rel="stylesheet"><script src="/_next/static/chunks/b.js" async>
      </script><script>self.__next_f.push([1,"1:[\\"/_next/static/chunks/c.js\\"]"])</script>
      <script src="/_next/static/chunks/b.js"></script>`;
    expect(staticFilesOf(html, ORIGIN)).toEqual([
      `${ORIGIN}/_next/static/css/a.css`,
      `${ORIGIN}/_next/static/chunks/b.js`,
      `${ORIGIN}/_next/static/chunks/c.js`,
    ]);
  });
});

describe("isPersonalPage", () => {
  it("is a chat's page, whose path names the chat; not the start page", () => {
    expect(isPersonalPage(`${ORIGIN}/chats/dm%3A0xa%3A0xb`)).toBe(true);
    expect(isPersonalPage(`${ORIGIN}/`)).toBe(false);
  });
});

describe("OFFLINE_PAGE", () => {
  it("says the page was never kept and leads to the start page", () => {
    expect(OFFLINE_PAGE).toContain("You are offline");
    expect(OFFLINE_PAGE).toContain('href="/"');
  });
});
