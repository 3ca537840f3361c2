// Which host the app runs in, from what each host injects: MiniPay's flag on window.ethereum, a Farcaster client's
// frame (the SDK is loaded only there), else a plain browser.
import { afterEach, describe, expect, it, vi } from "vitest";

const sdk = vi.hoisted(() => ({ isInMiniApp: vi.fn(), ready: vi.fn(), getEthereumProvider: vi.fn() }));
vi.mock("@farcaster/miniapp-sdk", () => ({
  sdk: { isInMiniApp: sdk.isInMiniApp, actions: { ready: sdk.ready }, wallet: { getEthereumProvider: sdk.getEthereumProvider } },
}));

async function hostIn(window: object) {
  vi.resetModules();
  vi.stubGlobal("window", window);
  const hosts = await import("./hosts");
  return { host: await hosts.detectHost(), hosts };
}

const provider = { request: async () => [] };
const top = () => {
  const w: { parent?: unknown; ethereum?: unknown } = {};
  w.parent = w;
  return w;
};

afterEach(() => {
  vi.unstubAllGlobals();
  for (const fn of Object.values(sdk)) fn.mockReset();
});

describe("detectHost", () => {
  it("finds MiniPay by window.ethereum.isMiniPay === true", async () => {
    const { host, hosts } = await hostIn({ ...top(), ethereum: { ...provider, isMiniPay: true } });
    expect(host).toBe("minipay");
    expect(hosts.isMiniPay()).toBe(true);
  });

  it("takes a merely truthy isMiniPay for a browser wallet", async () => {
    const w = top();
    w.ethereum = { ...provider, isMiniPay: "yes" };
    expect((await hostIn(w)).host).toBe("browser");
  });

  it("never loads the Farcaster SDK in a top-level window", async () => {
    expect((await hostIn(top())).host).toBe("browser");
    expect(sdk.isInMiniApp).not.toHaveBeenCalled();
  });

  it("in a Farcaster client's frame, says ready and takes the client's wallet", async () => {
    sdk.isInMiniApp.mockResolvedValue(true);
    sdk.getEthereumProvider.mockResolvedValue(provider);
    const { host, hosts } = await hostIn({ parent: {} });
    expect(host).toBe("farcaster");
    expect(sdk.ready).toHaveBeenCalledOnce();
    expect(hosts.farcasterProvider()).toBe(provider);
  });

  it("in a frame that is no Farcaster client, is a browser", async () => {
    sdk.isInMiniApp.mockResolvedValue(false);
    expect((await hostIn({ parent: {} })).host).toBe("browser");
    expect(sdk.ready).not.toHaveBeenCalled();
  });
});
