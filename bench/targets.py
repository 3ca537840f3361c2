"""The servers under test — the peers (socket.io on Node, socket.io on uWebSockets.js, python-socketio on uvicorn), ours
on the log, ours on PostgreSQL, two of ours behind HAProxy: start and stop them, and prepare the clients (tokens, chats)
the load generator connects."""
from __future__ import annotations

import base64
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / "peers"
NODE_REF = PEERS / "node-ref"
UWS_REF = PEERS / "uws-ref"
PY_ASGI = PEERS / "py-asgi"
PEERS_VENV = ROOT / "bench" / ".venv-peers"  # the Python peer's own packages, never the project's .venv
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

    @property
    def pids(self) -> list[int]:
        """Every process of the server side whose CPU counts (the load generator adds their direct children)."""
        return [self.pid]

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def clients(self, n: int, per_chat: int) -> list[ClientSpec]:
        """n clients, consecutive groups of per_chat sharing one chat `bench-<k>`."""
        return [{"chat": f"bench-{i // per_chat}"} for i in range(n)]

    def figures(self) -> dict:
        """What the server side adds to a run's result once it is over (before it stops)."""
        return {}


# The reference peers, in the table's order: the same `join`/`send` events as ours, no auth, no storage.
PEER_COMMANDS = {
    "node": ["node", str(NODE_REF / "server.js")],  # socket.io 4.8 on Node's http and ws
    "uws": ["node", str(UWS_REF / "server.js")],  # socket.io 4.8 attached to uWebSockets.js
    "py-asgi": [str(PEERS_VENV / "bin" / "python"), str(PY_ASGI / "server.py")],  # python-socketio on uvicorn, uvloop
}


class Peer(Server):
    """One reference peer: any chat id goes, nothing to sign in to."""

    def __init__(self, name: str, log_path: Path) -> None:
        super().__init__(log_path)
        self.name = name

    def command(self) -> tuple[list[str], dict[str, str]]:
        return PEER_COMMANDS[self.name], {"PORT": str(self.port), "PYTHONUNBUFFERED": "1"}


class Ours(Server):
    """backend/main.py with durable writes (FSYNC=always) and the rate limits out of the way (every load generator
    client is 127.0.0.1: the per-client budgets too)."""

    name = "ours"

    def __init__(self, log_path: Path, data_file: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(log_path)
        self.data_file = data_file
        self.env = env or {}

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {"HOST": "127.0.0.1", "PORT": str(self.port), "DATA_FILE": str(self.data_file), "FSYNC": "always",
               "RATE_PER_S": "100000", "RATE_BURST": "100000", "CHAT_RATE_PER_MIN": "1000000",
               "CHAT_RATE_BURST": "100000", "HANDSHAKE_RATE_PER_MIN": "10000000", "HANDSHAKE_RATE_BURST": "1000000",
               "SIGNIN_RATE_PER_MIN": "10000000", "SIGNIN_RATE_BURST": "1000000", "CORS_ORIGINS": ORIGIN,
               "PYTHONUNBUFFERED": "1", **self.env}
        return [str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "backend" / "main.py")], env

    def clients(self, n: int, per_chat: int) -> list[ClientSpec]:
        return prepared_clients(self.url, n, per_chat)


class HangingPushService:
    """A push endpoint that accepts every connection and never answers (it reads nothing, writes nothing)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return  # closed

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


class OursPushing(Ours):
    """Ours on the log with pushes on (issue 17): every chat also has ABSENT members, none of whose sockets join it, each
    subscribed at a push service that hangs (NOTIFY_ALLOW_HOSTS lets the server reach it), and PUSH_COALESCE_S=0, so
    every message is to be pushed to each of them. The sends, acks and deliveries must not notice."""

    name = "ours-push"
    ABSENT = 5

    def __init__(self, log_path: Path, data_file: Path) -> None:
        self.metrics_port = free_port()
        super().__init__(log_path, data_file, {"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": "0",
                                               "METRICS_PORT": str(self.metrics_port)})
        self.service: HangingPushService | None = None

    def start(self, timeout_s: float = 60.0) -> float:
        self.service = HangingPushService()
        return super().start(timeout_s)

    def stop(self) -> None:
        super().stop()
        if self.service is not None:
            self.service.close()
            self.service = None

    def clients(self, n: int, per_chat: int) -> list[ClientSpec]:
        assert self.service is not None
        return prepared_clients(self.url, n, per_chat, self.ABSENT, self.service.url)

    def figures(self) -> dict:
        """The pushes by result, the queue, and the connections the hanging service holds."""
        text = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        pushes = {line.split('"')[1]: float(line.split()[-1]) for line in text.splitlines()
                  if line.startswith("om_pushes_total{")}
        queue = next((float(line.split()[-1]) for line in text.splitlines() if line.startswith("om_push_queue ")), None)
        return {"pushes": pushes, "push_queue": queue, "push_connections_held": len(self.service.held) if self.service else 0}


def prepared_clients(url: str, n: int, per_chat: int, absent: int = 0, push_url: str = "") -> list[ClientSpec]:
    """Signs in n wallets and registers their chats, so every client has a token and is a member of its chat; with
    `absent`, each chat also has that many members who never connect, each with a push subscription at `push_url`."""
    api = Api(url)
    groups = [range(k, min(k + per_chat, n)) for k in range(0, n, per_chat)]
    accounts = wallets(n + absent * len(groups))
    try:
        with ThreadPoolExecutor(8) as ex:
            tokens = list(ex.map(api.sign_in, accounts))
            away = [range(n + g * absent, n + (g + 1) * absent) for g in range(len(groups))]
            list(ex.map(lambda g, a: api.create_chat(tokens[g[0]], f"bench-{g[0] // per_chat}",
                                                     [accounts[i].address for i in (*g, *a)]), groups, away))
            list(ex.map(lambda i: api.subscribe(tokens[i], f"{push_url}/push/{i}"), range(n, len(accounts))))
    finally:
        api.close()  # no idle keep-alive connections left in the server while it is measured
    return [{"chat": f"bench-{i // per_chat}", "token": tokens[i]} for i in range(n)]


PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def fresh_database() -> str:
    import psycopg

    name = f"om_bench_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def postmaster_pid() -> int:
    """The PostgreSQL server's main process: its children are the backends, writers and checkpointer."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    return parent_pid(backend)


def parent_pid(pid: int | str) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def database_pids() -> list[int]:
    """The PostgreSQL server and its children as they are now (the backends of a started node among them): the CPU
    our store costs is theirs as much as the node's."""
    main = postmaster_pid()
    children = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and parent_pid(entry.name) == main:
                children.append(int(entry.name))
        except OSError:
            continue  # ended meanwhile
    return [main, *children]


def redis_pid() -> int | None:
    found = subprocess.run(["pgrep", "-o", "redis-server"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


class OursPg(Ours):
    """One node with PostgreSQL as its store (a fresh database per run); its CPU counts the database's too."""

    name = "ours-pg"

    def __init__(self, log_path: Path, data_file: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(log_path, data_file, env)
        self.database_url = ""

    def start(self, timeout_s: float = 60.0) -> float:
        if "DATABASE_URL" not in self.env:
            self.database_url = self.env["DATABASE_URL"] = fresh_database()
        return super().start(timeout_s)

    def stop(self) -> None:
        super().stop()
        if self.database_url:
            drop_database(self.database_url)
            self.env.pop("DATABASE_URL")
            self.database_url = ""

    @property
    def pids(self) -> list[int]:
        return [self.pid, *database_pids()]


class OursCluster(Server):
    """Two nodes on one PostgreSQL and Redis behind HAProxy (deploy/haproxy.cfg): the figures of the whole."""

    name = "ours-pg2"

    def __init__(self, log_path: Path, folder: Path) -> None:
        super().__init__(log_path)
        self.folder = folder
        self.nodes: list[Ours] = []
        self.database_url = ""

    def start(self, timeout_s: float = 60.0) -> float:
        t0 = time.perf_counter()
        self.database_url = fresh_database()
        env = {"DATABASE_URL": self.database_url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "bench-" + "k" * 40}
        self.nodes = [Ours(self.log_path.with_name(f"{self.log_path.stem}-node{i}.log"), self.folder / f"n{i}.json", env)
                      for i in range(2)]
        for node in self.nodes:
            node.start(timeout_s)
        lb_env = {**os.environ, "OM_LB_BIND": f"127.0.0.1:{self.port}",
                  **{f"OM_NODE_{i + 1}": f"127.0.0.1:{node.port}" for i, node in enumerate(self.nodes)}}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(ROOT / "deploy" / "haproxy.cfg")], env=lb_env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while time.perf_counter() - t0 < timeout_s:
            try:
                if requests.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return time.perf_counter() - t0
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"haproxy not healthy after {timeout_s:.0f} s; log tail:\n{self.log_tail()}")

    def stop(self) -> None:
        super().stop()
        for node in self.nodes:
            node.stop()
        if self.database_url:
            drop_database(self.database_url)
            self.database_url = ""

    @property
    def pids(self) -> list[int]:
        return [node.pid for node in self.nodes] + [self.pid, *database_pids(), *filter(None, [redis_pid()])]

    def clients(self, n: int, per_chat: int) -> list[ClientSpec]:
        return prepared_clients(self.url, n, per_chat)


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

    def subscribe(self, token: str, endpoint: str) -> None:
        """A push subscription as a browser registers one: a P-256 public key and a 16-byte auth secret."""
        point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        keys = {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}
        check(self.session().put(f"{self.url}/api/push/subscriptions", json={"endpoint": endpoint, "keys": keys},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30))

    def create_chat(self, token: str, chat_id: str, members: list[str]) -> None:
        check(self.session().post(f"{self.url}/api/chats", json={"members": members, "id": chat_id},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=30))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check(r: requests.Response) -> dict:
    if r.status_code >= 400:
        raise RuntimeError(f"{r.request.method} {r.url} -> {r.status_code} {r.text[:300]}")
    return r.json()
