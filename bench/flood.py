"""Floods for scenario (h), run as a process of their own so they do not share the measuring clients' interpreter:
`python bench/flood.py opens|spread|siwe <url> <seconds> <threads> <limit>` prints one JSON line of counts.

opens: engine.io websocket handshakes (read the open packet, close; no sign-in), at most `limit` in all.
spread: the same, each as from another address (a random X-Forwarded-For, for a server that trusts 127.0.0.1).
siwe: SIWE verify attempts with a well-formed but unissued nonce, paced to `limit` per second in all.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from eth_account import Account
from eth_account.messages import encode_defunct
from targets import ORIGIN, SIWE_DOMAIN


def in_threads(run: Callable[[], None], threads: int) -> None:
    """Run `run` on `threads` threads at once and wait for all of them."""
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def spread_address() -> str:
    """A random address in 10.0.0.0/8: one client among millions."""
    return "10." + ".".join(str(b) for b in os.urandom(3))


def open_once(host: str, port: int, spread: bool) -> str:
    """One handshake; 'open' when the open packet came, else the HTTP status."""
    key = base64.b64encode(os.urandom(16)).decode()
    forwarded = f"X-Forwarded-For: {spread_address()}\r\n" if spread else ""
    request = (f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n{forwarded}\r\n").encode()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return "closed"
            data += chunk
        if not data.startswith(b"HTTP/1.1 101"):
            return data.split(b" ", 2)[1].decode()
        rest = data.split(b"\r\n\r\n", 1)[1]
        while len(rest) < 2 or len(rest) < 2 + (rest[1] & 0x7F):
            chunk = s.recv(4096)
            if not chunk:
                return "closed"
            rest += chunk
    return "open"


def opens(url: str, seconds: float, threads: int, limit: int, spread: bool = False) -> Counter:
    parts = urlsplit(url)
    counts: Counter = Counter()
    left = iter(range(limit))
    end = time.monotonic() + seconds

    def run() -> None:
        while time.monotonic() < end and next(left, None) is not None:
            try:
                counts[open_once(parts.hostname or "127.0.0.1", parts.port or 80, spread)] += 1
            except OSError as exc:
                counts[type(exc).__name__] += 1

    in_threads(run, threads)
    return counts


def siwe(url: str, seconds: float, threads: int, per_s: int) -> Counter:
    account = Account.create()
    issued = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = (f"{SIWE_DOMAIN} wants you to sign in with your Ethereum account:\n{account.address}\n\nFlood\n\n"
               f"URI: {ORIGIN}\nVersion: 1\nChain ID: 42220\nNonce: {'0' * 64}\nIssued At: {issued}")
    signature = bytes(account.sign_message(encode_defunct(text=message)).signature)
    body = {"message": message, "signature": "0x" + signature.hex()}
    counts: Counter = Counter()
    t0 = time.monotonic()
    sent = iter(range(10**9))

    def run() -> None:
        session = requests.Session()
        while (now := time.monotonic()) < t0 + seconds:
            k = next(sent)
            wait = t0 + k / per_s - now
            if wait > 0:
                time.sleep(wait)
            try:
                counts[session.post(f"{url}/api/auth/verify", json=body, timeout=10).status_code] += 1
            except requests.RequestException as exc:
                counts[type(exc).__name__] += 1

    in_threads(run, threads)
    return counts


if __name__ == "__main__":
    kind, url = sys.argv[1], sys.argv[2]
    seconds, threads, limit = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    t0 = time.monotonic()
    if kind == "siwe":
        counts = siwe(url, seconds, threads, limit)
    else:
        counts = opens(url, seconds, threads, limit, spread=kind == "spread")
    print(json.dumps({"counts": {str(k): v for k, v in counts.items()}, "seconds": round(time.monotonic() - t0, 2)}))
