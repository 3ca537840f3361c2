import { describe, expect, it } from "vitest";
import { farcasterManifest } from "./farcaster-manifest";

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
  it("carries the configured account association, and ignores one that is not whole", () => {
    const signed = { header: "h", payload: "p", signature: "s" };
    expect(farcasterManifest("https://a", JSON.stringify(signed), "https://b").accountAssociation).toEqual(signed);
    expect(farcasterManifest("https://a", '{"header":"h"}', "https://b")).not.toHaveProperty("accountAssociation");
    expect(farcasterManifest("https://a", "not json", "https://b")).not.toHaveProperty("accountAssociation");
  });
});
