"""Smoke test for a live deployment: `python backend/test_messaging.py --url http://localhost:5001`.

Signs in two throwaway wallets, opens a DM, sends and receives over Socket.IO, reads history;
prints one ✓/✗ line per check and exits 0 only when every check passed.
"""

from __future__ import annotations

import argparse
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
import socketio
from eth_account import Account
from eth_account.messages import encode_defunct

TIMEOUT = 10
DEFAULT_DOMAIN = "localhost:3000"  # SIWE_DOMAINS' default: for a server whose health does not name its domains


class DomainRefused(Exception):
    """The server does not sign in for the SIWE domain used: the one thing the operator must then say."""


class Smoke:
    def __init__(self, url: str, domain: str | None) -> None:
        self.url = url.rstrip("/")
        self.domain = domain or DEFAULT_DOMAIN
        self.learn_domain = domain is None  # then the server's health names the domain to sign in for
        self.failed = 0

    def check(self, name: str, step: Callable[[], Any]) -> Any:
        """Run one step; print ✓ or ✗ with the reason, and carry on only when it passed."""
        try:
            result = step()
        except Exception as exc:  # a smoke test reports every kind of failure the same way
            print(f"✗ {name}: {type(exc).__name__}: {exc}")
            self.failed += 1
            raise SystemExit(1) from None
        print(f"✓ {name}")
        return result

    def sign_in(self) -> tuple[str, str]:
        account = Account.create()
        nonce = requests.get(f"{self.url}/api/auth/nonce", timeout=TIMEOUT).json()["nonce"]
        issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        text = (
            f"{self.domain} wants you to sign in with your Ethereum account:\n{account.address}\n\n"
            f"Smoke test\n\nURI: http://{self.domain}\nVersion: 1\nChain ID: 42220\nNonce: {nonce}\nIssued At: {issued}"
        )
        signature = "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix("0x")
        r = requests.post(
            f"{self.url}/api/auth/verify", json={"message": text, "signature": signature}, timeout=TIMEOUT
        )
        if r.status_code == 401 and "not an allowed domain" in r.json().get("error", {}).get("message", ""):
            raise DomainRefused(
                f"the server does not allow SIWE domain {self.domain}: pass --domain <one of SIWE_DOMAINS>"
            )
        r.raise_for_status()
        return account.address, r.json()["token"]

    def connect(self, token: str, inbox: list[Any], arrived: threading.Event) -> socketio.Client:
        sio = socketio.Client(reconnection=False, websocket_extra_options={"suppress_origin": True})

        @sio.on("message")
        def on_message(message: Any) -> None:
            inbox.append(message)
            arrived.set()

        sio.connect(self.url, auth={"token": token}, transports=["websocket"], wait_timeout=TIMEOUT)
        return sio

    def run(self) -> int:
        health = self.check("health", lambda: requests.get(f"{self.url}/api/health", timeout=TIMEOUT).json())
        assert health["status"] == "ok"
        if self.learn_domain and health.get("siwe_domains"):
            self.domain = health["siwe_domains"][0]
        alice, alice_token = self.check("sign in wallet A (SIWE)", self.sign_in)
        bob, bob_token = self.check("sign in wallet B (SIWE)", self.sign_in)

        def create_dm() -> dict[str, Any]:
            r = requests.post(
                f"{self.url}/api/chats",
                json={"members": [bob]},
                timeout=TIMEOUT,
                headers={"Authorization": f"Bearer {alice_token}"},
            )
            r.raise_for_status()
            return r.json()["chat"]

        chat = self.check("create DM", create_dm)
        inbox: list[Any] = []
        arrived = threading.Event()
        a = self.check("connect A", lambda: self.connect(alice_token, [], threading.Event()))
        b = self.check("connect B", lambda: self.connect(bob_token, inbox, arrived))

        def join() -> None:
            ack = b.call("join", {"chat_id": chat["id"]}, timeout=TIMEOUT)
            assert ack["ok"], ack

        self.check("B joins the DM", join)
        body = f"smoke {uuid.uuid4()}"

        def send() -> dict[str, Any]:
            ack = a.call("send", {"chat_id": chat["id"], "client_id": uuid.uuid4().hex, "body": body}, timeout=TIMEOUT)
            assert ack["ok"] and ack["message"]["sender"] == alice, ack
            return ack["message"]

        sent = self.check("A sends (acked durable)", send)

        def receive() -> None:
            assert arrived.wait(TIMEOUT), "no message event"
            assert inbox[0]["id"] == sent["id"] and inbox[0]["body"] == body

        self.check("B receives it", receive)

        def history() -> None:
            r = requests.get(
                f"{self.url}/api/chats/{chat['id']}/messages",
                timeout=TIMEOUT,
                headers={"Authorization": f"Bearer {bob_token}"},
            )
            r.raise_for_status()
            assert sent["id"] in [m["id"] for m in r.json()["messages"]]

        self.check("history has it", history)
        a.disconnect()
        b.disconnect()
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://localhost:5001")
    parser.add_argument(
        "--domain", help="a SIWE domain the server allows (default: the first its /api/health names, or localhost:3000)"
    )
    args = parser.parse_args()
    sys.exit(Smoke(args.url, args.domain).run())


if __name__ == "__main__":
    main()
