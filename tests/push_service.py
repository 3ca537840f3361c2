"""A local stand-in of a Web Push service (RFC 8030), faithful where the server could be wrong: it checks each
request's VAPID JWT (RFC 8292, ES256) against the server's `GET /api/push/key` and decrypts the aes128gcm payload
(RFC 8291) with the subscription's own private key and auth secret, as a browser would.

Tests make subscriptions with `subscribe()` (a real P-256 key pair and auth secret each), read what arrived in
`pushes` (a queue: awaited, never polled), set `status` to answer otherwise than 201 (429 and 503 with
`Retry-After: 0`) or put one in `once` for the next request only, or clear `open` to hold
every request until it is set again.
"""
from __future__ import annotations

import base64
import json
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Push:
    """One request as the service understood it: which subscription, its decrypted payload, its headers."""

    id: str
    payload: dict[str, Any]
    headers: dict[str, str]


def verify_vapid(authorization: str, server_key: str, audience: str) -> None:
    """`vapid t=<JWT>, k=<key>`: k the server's key, the JWT ES256-signed by it, for this origin, not expired."""
    assert authorization.startswith("vapid "), authorization
    fields = dict(part.strip().split("=", 1) for part in authorization[len("vapid "):].split(","))
    assert fields["k"] == server_key, "VAPID key is not the one GET /api/push/key gives"
    head, claims, signature = fields["t"].split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                  f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    body = json.loads(unb64url(claims))
    assert body["aud"] == audience and body["exp"] > time.time() and body["sub"].startswith(("mailto:", "https:"))


class PushService:
    def __init__(self, server_key: str, host: str = "127.0.0.1") -> None:
        self.server_key = server_key
        self.keys: dict[str, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
        self.pushes: queue.Queue[Push] = queue.Queue()
        self.held: queue.Queue[str] = queue.Queue()  # a request that arrived while `open` was clear
        self.status = 201
        self.once: queue.SimpleQueue[int] = queue.SimpleQueue()  # the next request's answer, then `status` again
        self.open = threading.Event()
        self.open.set()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = service.status if service.once.empty() else service.once.get()  # as when it came
                sub_id = self.path.rsplit("/", 1)[1]
                if not service.open.is_set():
                    service.held.put(sub_id)
                    service.open.wait()
                verify_vapid(self.headers["Authorization"], service.server_key, service.url)
                assert self.headers["Content-Encoding"] == "aes128gcm" and int(self.headers["TTL"]) >= 0
                private, auth = service.keys[sub_id]
                payload = json.loads(http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm"))
                service.pushes.put(Push(sub_id, payload, dict(self.headers)))
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def subscribe(self) -> tuple[str, dict[str, Any]]:
        """A new browser subscription: its id here and the PushSubscription JSON the browser would PUT."""
        sub_id, private, auth = uuid.uuid4().hex, ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
        self.keys[sub_id] = (private, auth)
        point = private.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
        return sub_id, {"endpoint": f"{self.url}/push/{sub_id}", "keys": {"p256dh": b64url(point), "auth": b64url(auth)}}

    def next(self, timeout: float = 10) -> Push:
        return self.pushes.get(timeout=timeout)

    def close(self) -> None:
        self.open.set()
        self.http.shutdown()
        self.http.server_close()
