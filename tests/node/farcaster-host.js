// A Farcaster client's side of a mini app, for the browser tests: the official host library (@farcaster/miniapp-host,
// what clients embed) exposed to the app's iframe, with a splash over the app until it calls ready(), a signed-in
// user in its context, and a wallet whose signatures and chain calls the test process serves (window.om* functions).
import { exposeToIframe } from "@farcaster/miniapp-host";

const iframe = document.getElementById("app");
const splash = document.getElementById("splash");
const seen = (window.omHostRequests = []);

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
    user: { fid: 4242, username: "alice", displayName: "Alice" },
    client: { clientFid: 9152, added: false, safeAreaInsets: { top: 0, bottom: 0, left: 0, right: 0 } },
  },
  ready() {
    window.omReady = true;
    splash.remove();
  },
  getCapabilities: async () => ["wallet.getEthereumProvider", "actions.ready"],
  getChains: async () => ["eip155:42220"],
  close() {},
  openUrl() {},
  setPrimaryButton() {},
  eip6963RequestProvider() {},
  updateBackState: async () => {},
};

exposeToIframe({ iframe, sdk: host, ethProvider, miniAppOrigin: new URL(iframe.src).origin });
