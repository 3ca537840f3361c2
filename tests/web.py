"""The whole stack for browser tests: anvil, the backend, the built Next.js app, and Debian's Chromium.

Next.js inlines NEXT_PUBLIC_* settings when it builds, so this stack uses fixed ports (unusual ones) that the
build is made for; the build is cached in apps/web/.next until its sources or these settings change (apps/web/scripts/build-if-changed.mjs).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from chain import Anvil
from support import ROOT, Server, claim_port, wait_until

WEB = ROOT / "apps" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
WEB_PORT, API_PORT, CHAIN_PORT, QUICK_AUTH_PORT = 3391, 5391, 8591, 8691
WEB_URL = f"http://127.0.0.1:{WEB_PORT}"
BUILD_ENV = {
    "NEXT_PUBLIC_OPTIMISTIC_SERVER_URL": f"http://127.0.0.1:{API_PORT}",
    "NEXT_PUBLIC_CHAIN_ID": "42220",
    "NEXT_PUBLIC_CHAIN_RPC_URL": f"http://127.0.0.1:{CHAIN_PORT}",
    "NEXT_PUBLIC_XMTP_ENV": "off",  # no XMTP network here: the app must run on the fallback alone
    "NEXT_PUBLIC_FARCASTER_QUICK_AUTH_URL": f"http://127.0.0.1:{QUICK_AUTH_PORT}",  # tests/farcaster.py QuickAuthKeys
}


def build_web() -> None:
    """`next build` for the e2e settings, unless the last build was of the same sources and settings (the same
    script and stamp as ./start-optimistic-messaging.sh)."""
    subprocess.run(["node", str(WEB / "scripts" / "build-if-changed.mjs"), "--quiet"], cwd=WEB,
                   env={**os.environ, **BUILD_ENV}, check=True)


class WebApp:
    """`next start` of the e2e build."""

    def __init__(self, folder: Path) -> None:
        self.log = folder / "web.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "WebApp":
        claim_port(WEB_PORT)
        command = [str(WEB / "node_modules" / ".bin" / "next"), "start", "-p", str(WEB_PORT), "-H", "127.0.0.1"]
        self.proc = subprocess.Popen(command, cwd=WEB, env={**os.environ, **BUILD_ENV}, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._up, 60, f"the web app on {WEB_URL}")
        return self

    def _up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"next start exited:\n{self.log.read_text()[-2000:]}")
        try:
            return requests.get(WEB_URL, timeout=2).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    def stop(self) -> None:
        """The whole process group (next may run its server as a child), killed if it does not end in 20 s."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # even when next itself is gone: a child may hold the port
            self.proc.wait(20)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(20)


def chain(folder: Path) -> Anvil:
    claim_port(CHAIN_PORT)
    node = Anvil(folder)
    node.port, node.url = CHAIN_PORT, f"http://127.0.0.1:{CHAIN_PORT}"
    return node.start()


def backend(folder: Path, anvil: Anvil, env: dict[str, str] | None = None) -> Server:
    server = Server(folder, {"CHAIN_RPC_URL": anvil.url, "SIGNIN_TX_PROOF": "required",  # so the app must sign in by a bound nonce
                             "RECONCILE_INTERVAL_S": "0.2", "XMTP_GRACE_S": "2",
                             "CORS_ORIGINS": WEB_URL, "SIWE_DOMAINS": f"127.0.0.1:{WEB_PORT}", "APP_URL": WEB_URL,
                             **(env or {})})
    claim_port(API_PORT)
    server.port, server.url = API_PORT, f"http://127.0.0.1:{API_PORT}"
    server.env["PORT"] = str(API_PORT)
    return server.start()


# Celo mainnet USDT and its fee-currency adapter: the app's default tokens (apps/web/src/lib/config.ts).
USDT = "0x48065fbBE25f71C9282ddf5e1cD6D6A887483D5e"
USDT_ADAPTER = "0x0E2A3e05bc9A16F5292A6170456A710cb89C6f72"


def install_usdt(node: Anvil) -> None:
    """Puts a 6-decimal ERC-20 (tests/contracts/Token.sol) at USDT's mainnet address, so the app's default token list
    works on anvil."""
    deployed = node.deploy_token(node.wallet(9), 6)
    node.rpc("anvil_setCode", USDT, node.rpc("eth_getCode", deployed, "latest"))


def give_usdt(node: Anvil, holder: str, amount: int) -> None:
    """Sets `holder`'s USDT balance (balanceOf is the mapping at slot 0 of Token.sol)."""
    slot = keccak(bytes.fromhex(holder[2:].rjust(64, "0")) + bytes(32))
    node.rpc("anvil_setStorageAt", USDT, "0x" + slot.hex(), "0x" + amount.to_bytes(32, "big").hex())


def erc20_balance(node: Anvil, token: str, holder: str) -> int:
    data = "0x70a08231" + holder[2:].lower().rjust(64, "0")  # balanceOf(address)
    return int(node.rpc("eth_call", {"to": token, "data": data}, "latest"), 16)


def expose_wallet(context: Any, account: Any, node: Anvil) -> None:
    """A wallet's two halves for a page's scripts: `window.omPersonalSign(data, address)`, signed by `account` (data as
    0x hex or text), and `window.omChainRpc(method, params)`, every other request, answered by `node`."""

    def personal_sign(data: str, address: str) -> str:
        if address.lower() != account.address.lower():
            raise ValueError(f"not this wallet's account: {address}")
        message = encode_defunct(hexstr=data) if data.startswith("0x") else encode_defunct(text=data)
        return "0x" + account.sign_message(message).signature.hex().removeprefix("0x")

    context.expose_function("omPersonalSign", personal_sign)
    context.expose_function("omChainRpc", lambda method, params: node.rpc(method, *params))


class MiniPayWallet:
    """What MiniPay injects, served by the test process: one account, no message signing (EIP-1193 4200), and
    eth_sendTransaction signed here as a legacy (type 0) transaction with its own key, sent to anvil raw. Every
    transaction request is kept for the test to read; an EIP-1559 one is refused, as MiniPay cannot send it. Reads go
    to anvil as to a Celo node, which also prices gas in a fee currency (`eth_gasPrice` with its address: anvil knows
    only its own coin, so at a rate of one to one)."""

    SCRIPT = """
    window.ethereum = {
      isMiniPay: true,
      async request({ method, params }) {
        if (method === "eth_requestAccounts" || method === "eth_accounts") return [window.OM_MINIPAY_ADDRESS];
        if (method === "personal_sign" || method === "eth_sign" || method.startsWith("eth_signTypedData")) {
          throw Object.assign(new Error("The method is not supported by MiniPay"), { code: 4200 });
        }
        if (method === "eth_sendTransaction") return await window.omMiniPaySend(params[0]);
        return await window.omChainRpc(method, params ?? []);
      },
      on() {}, removeListener() {},
    };
    """

    def __init__(self, node: Anvil) -> None:
        self.node = node
        self.account = Account.create()
        self.requests: list[dict[str, Any]] = []
        node.rpc("anvil_setBalance", self.address, hex(10**18))  # gas (anvil knows no fee currencies)

    @property
    def address(self) -> str:
        return self.account.address

    def install(self, context: Any) -> None:
        context.add_init_script(f"window.OM_MINIPAY_ADDRESS = {self.address!r};" + self.SCRIPT)
        context.expose_function("omMiniPaySend", self.send)
        context.expose_function("omChainRpc", self.read)

    def read(self, method: str, params: list[Any]) -> Any:
        if method == "eth_gasPrice":
            params = []  # Celo's optional fee currency
        return self.node.rpc(method, *params)

    def send(self, tx: dict[str, Any]) -> str:
        self.requests.append(tx)
        if {"maxFeePerGas", "maxPriorityFeePerGas"} & tx.keys() or tx.get("type") not in (None, "0x0"):
            raise ValueError("MiniPay sends legacy transactions only")
        call = {"from": self.address, "to": tx["to"], "value": tx.get("value", "0x0"), "data": tx.get("data", "0x")}
        signed = self.account.sign_transaction({
            "chainId": int(self.node.rpc("eth_chainId"), 16),
            "nonce": int(self.node.rpc("eth_getTransactionCount", self.address, "pending"), 16),
            "gasPrice": int(self.node.rpc("eth_gasPrice"), 16),
            "gas": int(self.node.rpc("eth_estimateGas", call), 16),
            "to": tx["to"], "value": int(call["value"], 16), "data": call["data"],
        })
        return self.node.rpc("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex().removeprefix("0x"))


NODE_TOOLS = ROOT / "tests" / "node"
FARCASTER_PAGE = """<!doctype html><meta name="viewport" content="width=device-width"><link rel="icon" href="data:,">
<body style="margin:0"><div id="splash" style="position:fixed;inset:0;background:#8a63d2;z-index:1">Loading…</div>
<iframe id="app" src="%s/" style="border:0;width:100vw;height:100vh"></iframe>
<script>window.OM_FARCASTER_ADDRESS = new URLSearchParams(location.search).get("address");</script>
<script src="host.js"></script></body>""" % WEB_URL


class FarcasterHost:
    """A Farcaster client's page, served from its own local origin (a browser will not let a public page frame a local
    app): it frames the app and serves it the official host library (tests/node/farcaster-host.js, bundled here with
    esbuild) — a splash until ready(), a user in its context, and the wallet of the address in its query string."""

    def __init__(self, folder: Path) -> None:
        root = folder / "farcaster-client"
        root.mkdir(exist_ok=True)
        (root / "index.html").write_text(FARCASTER_PAGE)
        subprocess.run([str(NODE_TOOLS / "node_modules" / ".bin" / "esbuild"), str(NODE_TOOLS / "farcaster-host.js"),
                        "--bundle", "--format=iife", "--log-level=warning", f"--outfile={root / 'host.js'}"], check=True)
        handler = partial(_QuietFiles, directory=str(root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class FarcasterClient:
    """One person's Farcaster client: the host page opened with this wallet, whose key is the test process's (it signs
    messages, as Farcaster wallets do; chain calls go to anvil)."""

    def __init__(self, host: FarcasterHost, node: Anvil) -> None:
        self.node = node
        self.account = Account.create()
        self.url = f"{host.url}?address={self.address}"

    @property
    def address(self) -> str:
        return self.account.address

    def install(self, context: Any) -> None:
        expose_wallet(context, self.account, self.node)

    @staticmethod
    def requests(tab: Any) -> list[dict[str, Any]]:
        """The wallet requests the framed app made through the client, in order."""
        return tab.evaluate("window.omHostRequests")
