// A Farcaster client's side of a mini app, for the browser tests: the official host library (@farcaster/miniapp-host,
// what clients embed) exposed to the app's iframe, with a splash over the app until it calls ready(), a signed-in
// user in its context, and a wallet whose signatures and chain calls the test process serves (window.om* functions).
// addMiniApp() is accepted and counted (window.omAddRequests); signIn() answers a Sign In With Farcaster message for
// the app's domain and the user's fid, signed by the wallet (what Quick Auth's server exchanges for a token).
import { exposeToIframe } from "@farcaster/miniapp-host";

const iframe = document.getElementById("app");
const splash = document.getElementById("splash");
const seen = (window.omHostRequests = []);
window.omAddRequests = 0;
const FID = 4242;

const ethProvider = {
  async request({ method, params }) {
    seen.push({ method, params: params ?? [] });
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [window.OM_FARCASTER_ADDRESS];
    if (method === "personal_sign") return await window.omPersonalSign(params[0], params[1]);
    return await window.omChainRpc(method, params ?? []);
  },
  on() {},
  removeListener() {},
};

const host = {
  context: {
    user: { fid: FID, username: "alice", displayName: "Alice" },
    client: { clientFid: 9152, added: false, safeAreaInsets: { top: 0, bottom: 0, left: 0, right: 0 } },
  },
  ready() {
    window.omReady = true;
    splash.remove();
  },
  getCapabilities: async () => ["wallet.getEthereumProvider", "actions.ready", "actions.addMiniApp", "actions.signIn"],
  async addMiniApp() {
    window.omAddRequests += 1;
    return {};
  },
  async signIn({ nonce }) {
    const app = new URL(iframe.src);
    const address = window.OM_FARCASTER_ADDRESS;
    const message = [
      `${app.host} wants you to sign in with your Ethereum account:`, address, "",
      "Farcaster Auth", "",
      `URI: ${app.origin}/`, "Version: 1", "Chain ID: 10", `Nonce: ${nonce}`, `Issued At: ${new Date().toISOString()}`,
      "Resources:", `- farcaster://fid/${FID}`,
    ].join("\n");
    return { message, signature: await window.omPersonalSign(message, address) };
  },
  getChains: async () => ["eip155:42220"],
  close() {},
  openUrl() {},
  setPrimaryButton() {},
  eip6963RequestProvider() {},
  updateBackState: async () => {},
};

exposeToIframe({ iframe, sdk: host, ethProvider, miniAppOrigin: new URL(iframe.src).origin });
