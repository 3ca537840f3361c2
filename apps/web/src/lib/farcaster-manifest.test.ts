import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { farcasterManifest } from "./farcaster-manifest";

/** What Next serves at a URL's path from public/: its width, height and PNG colour type (2: RGB, no alpha). */
function servedPng(url: string) {
  const file = readFileSync(join(import.meta.dirname, "..", "..", "public", new URL(url).pathname));
  expect(file.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(file.toString("latin1", 12, 16)).toBe("IHDR");
  return { width: file.readUInt32BE(16), height: file.readUInt32BE(20), colourType: file[25] };
}

describe("farcasterManifest", () => {
  it("sends the client's events to the server's webhook and opens the app's origin", () => {
    const manifest = farcasterManifest("https://app.example", undefined, "https://api.example");
    expect(manifest).not.toHaveProperty("accountAssociation");
    expect(manifest.miniapp).toMatchObject({
      version: "1",
      homeUrl: "https://app.example/",
      webhookUrl: "https://api.example/api/farcaster/webhook",
    });
  });
  it("names the icon and splash images Farcaster asks for: PNGs of 1024 and 200 pixels square, without alpha", () => {
    const { miniapp } = farcasterManifest("https://app.example", undefined, "https://api.example");
    expect(servedPng(miniapp.iconUrl)).toEqual({ width: 1024, height: 1024, colourType: 2 });
    expect(servedPng(miniapp.splashImageUrl)).toEqual({ width: 200, height: 200, colourType: 2 });
  });
  it("carries the configured account association, and ignores one that is not whole", () => {
    const signed = { header: "h", payload: "p", signature: "s" };
    expect(farcasterManifest("https://a", JSON.stringify(signed), "https://b").accountAssociation).toEqual(signed);
    expect(farcasterManifest("https://a", '{"header":"h"}', "https://b")).not.toHaveProperty("accountAssociation");
    expect(farcasterManifest("https://a", "not json", "https://b")).not.toHaveProperty("accountAssociation");
  });
});
