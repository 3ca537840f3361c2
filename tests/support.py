"""Test support: the real server as a subprocess, real wallets signing in, real Socket.IO clients."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import engineio
import requests
import socketio
from eth_account import Account
from eth_account.messages import encode_defunct

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10.0
# The one fixture switch: OM_TEST_STORE=postgres runs every server on PostgreSQL (a fresh database each), not the log.
STORE = os.environ.get("OM_TEST_STORE", "jsonl")
PG_ADMIN_URL = os.environ.get("OM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Every test client is 127.0.0.1, so test servers lift the per-client budgets unless a test sets them itself.
UNTHROTTLED_CLIENT = {"HANDSHAKE_RATE_PER_MIN": "1000000", "HANDSHAKE_RATE_BURST": "100000",
                      "SIGNIN_RATE_PER_MIN": "1000000", "SIGNIN_RATE_BURST": "100000"}
CREATED_DATABASES: list[tuple[str, str]] = []  # (admin url, name): dropped when the session ends


def fresh_database(admin_url: str = PG_ADMIN_URL) -> str:
    """A new, empty database on the PostgreSQL server of `admin_url`; its URL."""
    import psycopg

    name = "om_t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    CREATED_DATABASES.append((admin_url, name))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_databases() -> None:
    import psycopg

    for admin_url, name in CREATED_DATABASES:
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.OperationalError:
            pass  # that server is gone already (a private one, stopped)
    CREATED_DATABASES.clear()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def claim_port(port: int, timeout: float = 30) -> None:
    """Wait for a fixed port to be free (a previous stack may still be closing), else fail naming it: a stale process
    on it would answer our readiness checks in place of the one we start."""

    def free() -> bool:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is no listener
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
            return True

    wait_until(free, timeout, f"port {port} to be free (something else is listening there)")


def wait_until(check: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy (for state with no event to await, e.g. a port opening)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Server:
    """`python backend/main.py` (or a command with "{port}" in it) on a free port, with its own data file; restartable."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, command: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATA_FILE": str(data_dir / "messages.json"),
            "RECONCILE_INTERVAL_S": "0.2",
            **UNTHROTTLED_CLIENT,
            **(env or {}),
        }
        if STORE == "postgres" and "DATABASE_URL" not in self.env:
            self.env["DATABASE_URL"] = fresh_database()
        self.command = command or [sys.executable, str(ROOT / "backend" / "main.py")]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "server.log"

    @property
    def data_file(self) -> Path:
        return Path(self.env["DATA_FILE"])

    def start(self) -> "Server":
        log = open(self.log_path, "ab")
        command = [arg.replace("{port}", str(self.port)) for arg in self.command]
        # Its own process group, so a kill reaches every process of it (gunicorn's worker as well as its master).
        self.proc = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        try:
            wait_until(self._healthy, 30, f"server on {self.url} (log: {self.log_path})")
        except BaseException:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)  # never left holding its port
                self.proc.wait(10)
            raise
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return requests.get(self.url + "/api/health", timeout=1).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or listening but not serving yet
            return False

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Its processes stopped (SIGSTOP) meanwhile: it reads, answers and writes nothing, then goes on."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.proc.pid, signal.SIGCONT)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group; return once nothing of it is left listening on the port."""
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)
        self.proc.wait(10)
        wait_until(self._port_closed, what=f"port {self.port} to close")

    def _port_closed(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return False
        except OSError:
            return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, token: str | None = None, headers: dict[str, str] | None = None,
                **kw: Any) -> requests.Response:
        headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        return requests.request(method, self.url + path, headers=headers, **{"timeout": TIMEOUT, **kw})

    def get(self, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        return self.request("GET", path, token, **kw)

    def post(self, path: str, body: Any = None, token: str | None = None, **kw: Any) -> requests.Response:
        if body is not None:
            kw["json"] = body
        return self.request("POST", path, token, **kw)


def iso_now(offset_s: float = 0) -> str:
    return datetime.fromtimestamp(time.time() + offset_s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def siwe_text(address: str, nonce: str, domain: str = "localhost:3000", extra: str = "", issued_at: str | None = None) -> str:
    """An EIP-4361 message as viem's createSiweMessage writes it."""
    return (f"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n"
            f"Sign in to Optimistic Messaging\n\nURI: http://{domain}\nVersion: 1\nChain ID: 42220\n"
            f"Nonce: {nonce}\nIssued At: {issued_at or iso_now()}{extra}")


@dataclass
class Wallet:
    """A throwaway EOA that can sign in."""

    account: Any = field(default_factory=Account.create)
    token: str = ""
    expires_at: int = 0

    @property
    def address(self) -> str:
        return self.account.address

    def sign(self, text: str) -> str:
        return "0x" + self.account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")

    def sign_in(self, server: Server) -> "Wallet":
        nonce = server.get("/api/auth/nonce").json()["nonce"]
        text = siwe_text(self.address, nonce)
        r = server.post("/api/auth/verify", {"message": text, "signature": self.sign(text)})
        assert r.status_code == 200, r.text
        self.token, self.expires_at = r.json()["token"], r.json()["expires_at"]
        return self


class _InOrderEngineIO(engineio.Client):
    """Runs each packet's handler on the read thread: the stock client starts a thread per message, which may record
    two events in another order than they arrived in — and arrival order is what the order tests assert."""

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)

    def disconnect(self, abort: bool = False, reason: Any = None) -> None:
        """A disconnect the server asked for is handled on the read thread, which cannot wait for itself to end."""
        if threading.current_thread() is self.read_loop_task:
            threading.Thread(target=super().disconnect, args=(abort, reason), daemon=True).start()
        else:
            super().disconnect(abort=abort, reason=reason)


class _InOrderClient(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIO


def confirmed_by(message: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """A client's rule for `chat:confirmed` (docs/protocol.md): a message of that chat with seq up to `through_seq`,
    provisional, with no `tx` and no `xmtp_id` (or deleted), last changed before `first_rev`, is confirmed by the
    fallback; its exact rev (history and catch-up give it) lies in `first_rev`..`rev`, and `rev` stands for it here."""
    if (message["chat_id"] == event["chat_id"] and message["seq"] <= event["through_seq"]
            and message["status"] == "provisional" and message["tx"] is None
            and (message["xmtp_id"] is None or message.get("deleted")) and message["rev"] < event["first_rev"]):
        return {**message, "status": "confirmed", "source": "fallback", "updated_at": event["updated_at"],
                "rev": event["rev"]}
    return message


class Peer:
    """A real Socket.IO client over websocket that records every server event for the test to await, in arrival order."""

    def __init__(self, server: Server, token: str | None, origin: str | None = None,
                 features: tuple[str, ...] = ()) -> None:
        """A client of the shared contract alone, unless it opts into `features` (docs/protocol.md's extensions,
        e.g. "chat:confirmed") as our web app does."""
        # A bot sends no Origin header; a browser sends its page's origin.
        ws_options = {"suppress_origin": True} if origin is None else {"origin": origin}
        self.sio = _InOrderClient(reconnection=False, websocket_extra_options=ws_options)
        self.events: list[tuple[str, Any]] = []
        self._cond = threading.Condition()
        self.sio.on("*", self._record)
        auth = {"token": token, **({"features": list(features)} if features else {})}
        self.sio.connect(server.url, auth=auth if token is not None else None,
                         transports=["websocket"], wait_timeout=TIMEOUT)

    def _record(self, event: str, data: Any = None) -> None:
        with self._cond:
            self.events.append((event, data))
            self._cond.notify_all()

    def call(self, event: str, data: Any = None) -> Any:
        return self.sio.call(event, data, timeout=TIMEOUT)

    def join(self, chat_id: str, **extra: Any) -> dict[str, Any]:
        ack = self.call("join", {"chat_id": chat_id, **extra})
        assert ack["ok"], ack
        return ack

    def send(self, chat_id: str, body: str = "hello", client_id: str | None = None, **extra: Any) -> dict[str, Any]:
        return self.call("send", {"chat_id": chat_id, "client_id": client_id or uuid.uuid4().hex, "body": body, **extra})

    def wait(self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = TIMEOUT) -> Any:
        """The first recorded `event` whose payload matches, waiting for it if it has not come yet."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for name, data in self.events:
                    if name == event and match(data):
                        return data
                left = deadline - time.monotonic()
                if left <= 0 or not self.sio.connected:
                    raise AssertionError(f"no {event!r} event matched; got {[e for e, _ in self.events]}")
                self._cond.wait(left)

    def until(self, check: Callable[[], Any], timeout: float = TIMEOUT, what: str = "a state") -> Any:
        """What `check` returns once it is not None, checked again at every event."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (found := check()) is None:
                left = deadline - time.monotonic()
                if left <= 0 or not self.sio.connected:
                    raise AssertionError(f"no {what}; got {[e for e, _ in self.events]}")
                self._cond.wait(left)
            return found

    def folded(self, message_id: str) -> dict[str, Any] | None:
        """The message as a client that folds this socket's events in order holds it: `message` and `message:update`
        copies, and every `chat:confirmed` applied as docs/protocol.md says (`confirmed_by`)."""
        with self._cond:
            held = None
            for name, data in self.events:
                if name in ("message", "message:update") and data["id"] == message_id:
                    held = data
                elif name == "chat:confirmed" and held is not None:
                    held = confirmed_by(held, data)
            return held

    def settled(self, message_id: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The message once its events say it is settled (a `message:update`, or a `chat:confirmed` covering it)."""
        return self.until(lambda: m if (m := self.folded(message_id)) and m["status"] != "provisional" else None,
                          timeout, f"settlement of {message_id}")

    def received(self, event: str) -> list[Any]:
        with self._cond:
            return [data for name, data in self.events if name == event]

    def close(self) -> None:
        self.sio.disconnect()


def refusal(server: Server, token: str | None, origin: str | None = None, **auth: Any) -> Any:
    """Connect and expect to be refused; returns the `connect_error` payload the server sent."""
    ws_options = {"suppress_origin": True} if origin is None else {"origin": origin}
    sio = socketio.Client(reconnection=False, websocket_extra_options=ws_options)
    errors: list[Any] = []
    sio.on("connect_error", errors.append)
    try:
        sio.connect(server.url, auth={"token": token, **auth} if token is not None else None,
                    transports=["websocket"], wait_timeout=TIMEOUT)
    except (socketio.exceptions.ConnectionError, ValueError) as exc:  # ValueError: closed before the open packet
        return errors[0] if errors else str(exc) or type(exc).__name__
    finally:
        sio.disconnect()
    raise AssertionError("the connection was accepted")


def new_chat(server: Server, creator: Wallet, *others: Wallet, chat_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"members": [w.address for w in others]}
    if chat_id:
        body["id"] = chat_id
    r = server.post("/api/chats", body, creator.token)
    assert r.status_code in (200, 201), r.text
    return r.json()["chat"]


@dataclass
class FakeClock:
    """A clock that stands still until the test moves it on (both its wall and its monotonic time)."""

    ms: int = 1_800_000_000_000

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.ms / 1000

    def advance(self, ms: int) -> None:
        self.ms += ms
