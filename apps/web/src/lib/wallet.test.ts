// The wallet behind a stored session, found again after a reload without prompting anyone.
import { afterEach, describe, expect, it, vi } from "vitest";

const sdk = vi.hoisted(() => ({ isInMiniApp: vi.fn(), ready: vi.fn(), getEthereumProvider: vi.fn() }));
vi.mock("@farcaster/miniapp-sdk", () => ({
  sdk: { isInMiniApp: sdk.isInMiniApp, actions: { ready: sdk.ready }, wallet: { getEthereumProvider: sdk.getEthereumProvider } },
}));

const ADDRESS = "0x1111111111111111111111111111111111111111";

afterEach(() => {
  vi.unstubAllGlobals();
  for (const fn of Object.values(sdk)) fn.mockReset();
});

describe("walletForSession", () => {
  it("in a Farcaster client, waits for the client's wallet instead of finding none right after a reload", async () => {
    vi.resetModules();
    vi.stubGlobal("window", { parent: {} });
    let answer: (yes: boolean) => void = () => undefined;
    sdk.isInMiniApp.mockReturnValue(new Promise<boolean>((resolve) => (answer = resolve)));
    sdk.getEthereumProvider.mockResolvedValue({ request: async () => [ADDRESS] });
    const { walletForSession } = await import("./wallet");
    const found = walletForSession("farcaster", ADDRESS); // before the SDK has answered
    answer(true);
    expect(await found).toMatchObject({ kind: "farcaster", address: ADDRESS, canSignMessages: true });
  });

  it("finds no Farcaster wallet outside a Farcaster client", async () => {
    vi.resetModules();
    const w: { parent?: unknown } = {};
    w.parent = w;
    vi.stubGlobal("window", w);
    const { walletForSession } = await import("./wallet");
    expect(await walletForSession("farcaster", ADDRESS)).toBeNull();
  });
});
