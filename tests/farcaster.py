"""Local stand-ins of Farcaster's side: a client's app key that signs mini-app events (JSON Farcaster Signatures), a hub
answering `GET /v1/onChainSignersByFid` as Hubble does, and Quick Auth's JWKS with the RSA key its JWTs are signed by."""
from __future__ import annotations

import base64
import json
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

Route = Callable[[str, dict[str, list[str]], bytes], tuple[int, Any]]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class JsonServer:
    """An HTTP server on 127.0.0.1 whose one route answers (status, JSON body) for (method path, query, body) (a 3xx's
    body names its Location: `{"location": url}`); with `cors`, to pages of any origin too (a browser asks first with
    OPTIONS)."""

    def __init__(self, route: Route, port: int = 0, cors: bool = False) -> None:
        self.requests: list[tuple[str, dict[str, list[str]], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((f"{self.command} {parts.path}", parse_qs(parts.query), body))
                status, answer = route(f"{self.command} {parts.path}", parse_qs(parts.query), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self._allow()
                if 300 <= status < 400:
                    self.send_header("Location", answer["location"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _allow(self) -> None:
                if cors:
                    self.send_header("Access-Control-Allow-Origin", "*")
                    self.send_header("Access-Control-Allow-Headers", "content-type")

            def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(204 if cors else 405)
                self._allow()
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class AppKey:
    """A Farcaster client's Ed25519 app key for one fid, signing events as @farcaster/miniapp-node verifies them."""

    def __init__(self, fid: int) -> None:
        self.fid = fid
        self.private = Ed25519PrivateKey.generate()
        self.key = "0x" + self.private.public_key().public_bytes_raw().hex()

    def sign(self, payload: dict[str, Any], **header: Any) -> dict[str, str]:
        """`{header, payload, signature}`: Ed25519 over the base64url header and payload joined by '.'."""
        head = b64url(json.dumps({"fid": self.fid, "type": "app_key", "key": self.key, **header}).encode())
        body = b64url(json.dumps(payload).encode())
        return {"header": head, "payload": body, "signature": b64url(self.private.sign(f"{head}.{body}".encode()))}


class Hub(JsonServer):
    """Hubble's `GET /v1/onChainSignersByFid?fid=N`: the fid's active signers as signer add events."""

    def __init__(self) -> None:
        self.signers: dict[int, list[str]] = {}
        self.down = False  # answers 503, as a hub that lost its database
        super().__init__(self._route)

    def add(self, app_key: AppKey) -> AppKey:
        self.signers.setdefault(app_key.fid, []).append(app_key.key)
        return app_key

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        if self.down:
            return 503, {"errCode": "unavailable"}
        if path != "GET /v1/onChainSignersByFid":
            return 404, {"errCode": "not_found"}
        fid = int(query["fid"][0])
        return 200, {"events": [_signer_event(fid, key) for key in self.signers.get(fid, [])]}


def _signer_event(fid: int, key: str) -> dict[str, Any]:
    return {
        "type": "EVENT_TYPE_SIGNER", "chainId": 10, "blockNumber": 108875854, "blockHash": "0x" + "ce" * 32,
        "blockTimestamp": 1693350485, "transactionHash": "0x" + "76" * 32, "logIndex": 2, "fid": fid,
        "signerEventBody": {"key": key, "keyType": 1, "eventType": "SIGNER_EVENT_TYPE_ADD",
                            "metadata": "AAAA", "metadataType": 1},
        "txIndex": 0,
    }


class QuickAuthKeys(JsonServer):
    """Quick Auth's JWKS: the RSA key it signs with, and tokens signed by it as auth.farcaster.xyz issues them. On a
    fixed `port` it also answers the mini-app SDK's `quickAuth.getToken()` (served to pages of any origin), as
    @farcaster/quick-auth's client calls it: `POST /nonce` → `{nonce}`, then `POST /verify-siwf` with the client's
    Sign In With Farcaster message → `{valid, token}`, the token for the message's domain and fid, given only for a
    nonce issued here and a signature of the message's address. (The real server also checks that address is the fid's
    custody or auth address on a hub; the stand-in takes the fid from the message's resources.)"""

    def __init__(self, port: int = 0) -> None:
        self.private = generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        self.jwks = {"keys": [{**jwk, "kid": "quick-auth-1", "alg": "RS256", "use": "sig"}]}
        self.nonces: set[str] = set()
        self.issued: list[str] = []  # each token given out by /verify-siwf
        super().__init__(self._route, port=port, cors=True)
        self.jwks_url = f"{self.url}/jwks.json"

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        if path == "GET /jwks.json":
            return 200, self.jwks
        if path == "GET /moved.json":  # elsewhere now: a redirect to the same keys
            return 302, {"location": self.jwks_url}
        if path == "GET /padded.json":  # the same keys in 100 KB
            return 200, {**self.jwks, "padding": "x" * 100_000}
        if path == "POST /nonce":
            nonce = secrets.token_hex(8)
            self.nonces.add(nonce)
            return 200, {"nonce": nonce}
        if path == "POST /verify-siwf":
            return self._verify(json.loads(body))
        return 404, {}

    def _verify(self, siwf: dict[str, str]) -> tuple[int, Any]:
        message = siwf["message"]
        fields = dict(line.split(": ", 1) for line in message.splitlines() if ": " in line)
        address = message.splitlines()[1]
        signer = Account.recover_message(encode_defunct(text=message), signature=siwf["signature"])
        fid = re.search(r"farcaster://fid/(\d+)", message)
        domain_ok = message.startswith(f"{siwf['domain']} wants you to sign in")
        if fields.get("Nonce") not in self.nonces or signer != address or not fid or not domain_ok:
            return 200, {"valid": False, "message": "not a valid Sign In With Farcaster message"}
        self.nonces.discard(fields["Nonce"])
        self.issued.append(self.token(int(fid.group(1)), audience=siwf["domain"]))
        return 200, {"valid": True, "token": self.issued[-1]}

    def token(self, fid: int | str, audience: str = "localhost:3000", expires_in: int = 3600,
              issuer: str = "https://auth.farcaster.xyz", key: Any = None) -> str:
        now = int(time.time())
        claims = {"iss": issuer, "sub": fid, "aud": audience, "iat": now - 10, "exp": now + expires_in}
        return jwt.encode(claims, key or self.private, algorithm="RS256", headers={"kid": "quick-auth-1"})


class NotificationUrl(JsonServer):
    """A Farcaster client's notification URL: each request's JSON in `posts` (awaited, never polled); it names the
    tokens in `invalid` and `limited` so in its answer, as Farcaster clients do."""

    def __init__(self) -> None:
        self.invalid: set[str] = set()
        self.limited: set[str] = set()
        self.posts: queue.Queue[dict[str, Any]] = queue.Queue()
        super().__init__(self._route)

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        sent = json.loads(body)
        tokens = sent["tokens"]
        self.posts.put(sent)
        return 200, {"result": {"successfulTokens": [t for t in tokens if t not in self.invalid | self.limited],
                                "invalidTokens": [t for t in tokens if t in self.invalid],
                                "rateLimitedTokens": [t for t in tokens if t in self.limited]}}

    def next(self, timeout: float = 10) -> dict[str, Any]:
        return self.posts.get(timeout=timeout)
