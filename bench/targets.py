"""The two servers under test: start/stop them and prepare the clients (tokens, chats) the load generator connects."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

ROOT = Path(__file__).resolve().parents[1]
NODE_REF = ROOT / "bench" / "peers" / "node-ref"
SIWE_DOMAIN = "localhost:3000"  # the server's default allowed SIWE domain
ORIGIN = "http://localhost:3000"  # the allowed browser origin; sent by the load generator too

ClientSpec = dict[str, str]  # {"chat": id, "token"?: bearer token}: one load-generator client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process on a free port, output to log_path; subclasses say how to start it."""

    name = ""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self, timeout_s: float = 60.0) -> float:
        """Starts the process and returns seconds until GET /api/health answered 200."""
        argv, env = self.command()
        with open(self.log_path, "wb") as log:
            t0 = time.perf_counter()
            # Own session: Ctrl-C reaches only run.py, whose `finally` stops the server cleanly.
            self.proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        while time.perf_counter() - t0 < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during start-up; log tail:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except requests.RequestException:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} not healthy after {timeout_s:.0f} s; log tail:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def clients(self, n: int, per_chat: int) -> list[ClientSpec]:
        """n clients, consecutive groups of per_chat sharing one chat `bench-<k>`."""
        return [{"chat": f"bench-{i // per_chat}"} for i in range(n)]


class NodeRef(Server):
    """The minimal socket.io 4.8 reference: no auth, any chat id goes."""

    name = "node"

    def command(self) -> tuple[list[str], dict[str, str]]:
        return ["node", str(NODE_REF / "server.js")], {"PORT": str(self.port)}


class Ours(Server):
    """backend/main.py with durable writes (FSYNC=always) and the rate limit out of the way."""

    name = "ours"

    def __init__(self, log_path: Path, data_file: Path) -> None:
        super().__init__(log_path)
        self.data_file = data_file

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {"HOST": "127.0.0.1", "PORT": str(self.port), "DATA_FILE": str(self.data_file), "FSYNC": "always",
               "RATE_PER_S": "100000", "RATE_BURST": "100000", "CORS_ORIGINS": ORIGIN, "PYTHONUNBUFFERED": "1"}
        return [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "backend" / "main.py")], env

    def clients(self, n: int, per_chat: int) -> list[ClientSpec]:
        """Signs in n wallets and registers their chats, so every client has a token and is a member of its chat."""
        api = Api(self.url)
        accounts = wallets(n)
        try:
            with ThreadPoolExecutor(8) as ex:
                tokens = list(ex.map(api.sign_in, accounts))
                groups = [range(k, min(k + per_chat, n)) for k in range(0, n, per_chat)]
                list(ex.map(lambda g: api.create_chat(tokens[g[0]], f"bench-{g[0] // per_chat}",
                                                      [accounts[i].address for i in g]), groups))
        finally:
            api.close()  # no idle keep-alive connections left in the server while it is measured
        return [{"chat": f"bench-{i // per_chat}", "token": tokens[i]} for i in range(n)]


_wallets: list[LocalAccount] = []


def wallets(n: int) -> list[LocalAccount]:
    """Deterministic bench wallets, derived once per run (key derivation costs ~1 ms each)."""
    while len(_wallets) < n:
        _wallets.append(Account.from_key(hashlib.sha256(f"bench-wallet-{len(_wallets)}".encode()).digest()))
    return _wallets[:n]


class Api:
    """REST calls against our server, one keep-alive session per worker thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.local = threading.local()
        self.sessions: list[requests.Session] = []

    def session(self) -> requests.Session:
        if not hasattr(self.local, "s"):
            self.local.s = requests.Session()
            self.sessions.append(self.local.s)
        return self.local.s

    def close(self) -> None:
        for s in self.sessions:
            s.close()

    def sign_in(self, account: LocalAccount) -> str:
        """SIWE per PROTOCOL.md: nonce, EIP-4361 text signed with personal_sign, verify -> token."""
        s = self.session()
        nonce = check(s.get(f"{self.url}/api/auth/nonce", timeout=30))["nonce"]
        issued = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = (f"{SIWE_DOMAIN} wants you to sign in with your Ethereum account:\n{account.address}\n\nBench sign-in\n\n"
                   f"URI: {ORIGIN}\nVersion: 1\nChain ID: 42220\nNonce: {nonce}\nIssued At: {issued}")
        signature = "0x" + bytes(Account.sign_message(encode_defunct(text=message), account.key).signature).hex()
        return check(s.post(f"{self.url}/api/auth/verify", json={"message": message, "signature": signature}, timeout=30))["token"]

    def create_chat(self, token: str, chat_id: str, members: list[str]) -> None:
        check(self.session().post(f"{self.url}/api/chats", json={"members": members, "id": chat_id},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=30))


def check(r: requests.Response) -> dict:
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.url} -> {r.status_code} {r.text[:300]}")
    return r.json()
