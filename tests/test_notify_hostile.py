"""Hostile inputs to the notification endpoints (contract v1.2 "Notifications"), against a real server: addresses inside
the network in the spellings that embed an IPv4 address in IPv6, keys that are no P-256 point, webhook events and
Quick Auth tokens of the wrong shape, redirects; every one refused in the one error shape, nothing stored or requested."""
from __future__ import annotations

import queue
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from farcaster import AppKey
from support import Wallet, free_port, new_chat, wait_until
from test_farcaster import stored
from test_metrics import scrape
from test_push import b64url, browser_keys, put


def refused(answer, status: int, code: str) -> bool:
    return answer.status_code == status and answer.json()["error"]["code"] == code


# RFC 6052 NAT64 (64:ff9b::/96 reaches the embedded IPv4 address through the network's NAT64 gateway, private ones
# too), RFC 8215 local-use NAT64, 6to4, IPv4-compatible and IPv4-translated addresses: each names an IPv4 address.
INSIDE_BY_IPV6 = [
    "https://[64:ff9b::7f00:1]/x",
    "https://[64:ff9b::a00:1]/x",
    "https://[64:ff9b::a9fe:a9fe]/latest",
    "https://[64:ff9b:1::a00:1]/x",
    "https://[2002:a00:1::]/x",
    "https://[2002:7f00:1::1]/x",
    "https://[::127.0.0.1]/x",
    "https://[::10.0.0.1]/x",
    "https://[::ffff:0:127.0.0.1]/x",
]


@pytest.mark.parametrize("endpoint", INSIDE_BY_IPV6)
def test_an_endpoint_naming_an_inside_ipv4_address_through_ipv6_is_invalid(server, endpoint):
    alice = Wallet().sign_in(server)
    assert refused(put(server, alice, {"endpoint": endpoint, "keys": browser_keys()}), 400, "invalid")


def test_a_public_address_through_nat64_is_still_taken(server):
    alice = Wallet().sign_in(server)  # 8.8.8.8 through the well-known prefix: an IPv6-only network's way out
    assert put(server, alice, {"endpoint": "https://[64:ff9b::808:808]/x", "keys": browser_keys()}).status_code == 201


@pytest.mark.parametrize("url", ["https://[64:ff9b::a00:1]/n", "https://[2002:7f00:1::]/n"])
def test_a_notification_url_naming_an_inside_ipv4_address_through_ipv6_is_invalid(make_server, hub, url):
    srv = make_server({"FARCASTER_HUB_URL": hub.url})
    key = hub.add(AppKey(1101))
    answer = srv.post("/api/farcaster/webhook", key.sign({"event": "miniapp_added",
                                                           "notificationDetails": {"url": url, "token": "t"}}))
    assert refused(answer, 400, "invalid"), answer.text
    store = stored(srv)
    assert store.farcaster_tokens(1101) == []
    store.close()


def test_a_p256dh_that_is_not_a_point_on_p256_is_invalid(server):
    alice = Wallet().sign_in(server)
    for point in (b"\x04" + bytes(64), b"\x04" + b"\x01" * 64):  # the right length and prefix, on no curve
        body = {"endpoint": f"https://push.example/{uuid.uuid4().hex}", "keys": {**browser_keys(), "p256dh": b64url(point)}}
        assert refused(put(server, alice, body), 400, "invalid")


def test_a_subscription_is_rate_limited_before_its_endpoint_is_looked_up(make_server):
    """An endpoint's host is resolved (a DNS request the client chose): the budget is spent before, not after."""
    srv = make_server({"EVENT_RATE_PER_S": "0.001", "EVENT_RATE_BURST": "1"})
    alice = Wallet().sign_in(srv)
    assert put(srv, alice, {"endpoint": f"https://push.example/{uuid.uuid4().hex}", "keys": browser_keys()}).ok
    looked_up = {"endpoint": "https://localhost/x", "keys": browser_keys()}  # refused only once localhost is resolved
    assert refused(put(srv, alice, looked_up), 429, "rate_limited")


@pytest.mark.parametrize("event", [["miniapp_added"], {}, 1, None, True])
def test_a_signed_event_that_is_not_a_string_is_unauthorized_not_an_internal_error(make_server, hub, event):
    srv = make_server({"FARCASTER_HUB_URL": hub.url, "NOTIFY_ALLOW_HOSTS": "127.0.0.1"})
    answer = srv.post("/api/farcaster/webhook", hub.add(AppKey(1102)).sign({"event": event}))
    assert refused(answer, 401, "unauthorized"), answer.text


def test_a_quick_auth_sub_in_other_digits_than_ascii_is_not_an_fid(make_server, keys):
    srv = make_server({"FARCASTER_AUTH_JWKS_URL": keys.jwks_url})
    wallet = Wallet().sign_in(srv)
    for sub in ("٥", "５", "+5", " 5"):  # int() would read each as 5
        answer = srv.post("/api/farcaster/link", {"token": keys.token(sub)}, token=wallet.token)
        assert refused(answer, 401, "unauthorized"), (sub, answer.text)
    store = stored(srv)
    assert store.farcaster_fid(wallet.address) is None
    store.close()


# -- what holds: kept as regression tests -----------------------------------------------------------------------------

WRONG = [None, 1, -1, 1.5, True, "", [], {}, [1], "x" * 5000, 2**70]


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/push/subscriptions"), ("DELETE", "/api/push/subscriptions"),
                                              ("PUT", "/api/me/settings"), ("POST", "/api/farcaster/link"),
                                              ("POST", "/api/farcaster/webhook")])
def test_wrong_types_anywhere_get_the_one_error_shape_never_a_500(make_server, hub, keys, method, path):
    srv = make_server({"FARCASTER_HUB_URL": hub.url, "FARCASTER_AUTH_JWKS_URL": keys.jwks_url,
                       "EVENT_RATE_BURST": "1000", "SIGNIN_RATE_BURST": "1000"})
    wallet = Wallet().sign_in(srv)
    for value in WRONG:
        for body in (value, {"endpoint": value, "keys": value}, {"keys": {"p256dh": value, "auth": value}},
                     {"token": value}, {"push_previews": value}, {"header": value, "payload": value, "signature": value}):
            answer = srv.request(method, path, wallet.token, json=body)  # {"push_previews": true} is a setting
            assert answer.ok or (answer.status_code < 500 and set(answer.json()["error"]) == {"code", "message"}), (
                body, answer.text)
    assert "Traceback" not in srv.log()


@pytest.fixture
def redirecting() -> Iterator[tuple[str, queue.Queue[str]]]:
    """A push service that answers every POST with a 307 to a second listener, which records any request it gets."""
    reached: queue.Queue[str] = queue.Queue()
    target_port = free_port()

    class Target(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            reached.put(self.path)
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Redirect(Target):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(307)
            self.send_header("Location", f"http://localhost:{target_port}/inside")
            self.send_header("Content-Length", "0")
            self.end_headers()

    servers = [ThreadingHTTPServer(("127.0.0.1", target_port), Target), ThreadingHTTPServer(("127.0.0.1", 0), Redirect)]
    for http in servers:
        threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{servers[1].server_port}/push", reached
    for http in servers:
        http.shutdown()
        http.server_close()


def pushed_to(make_server, peers, endpoint: str, text: str) -> int:
    """A server pushing at once, bob subscribed at `endpoint`, alice's `text` sent to him; answers its metrics port."""
    port = free_port()
    srv = make_server({"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": "0", "METRICS_PORT": str(port)})
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat = new_chat(srv, alice, bob)
    assert put(srv, bob, {"endpoint": endpoint, "keys": browser_keys()}).status_code == 201
    peers(srv, alice).send(chat["id"], text)
    return port


def test_a_redirect_from_an_allowed_push_service_is_not_followed(make_server, peers, redirecting):
    endpoint, reached = redirecting
    port = pushed_to(make_server, peers, endpoint, "where to?")
    wait_until(lambda: scrape(port).get(("om_pushes_total", (("result", "failed"),))) == 1,
               what="the redirected push to be counted failed")
    assert reached.empty()


@pytest.fixture
def trickling() -> Iterator[tuple[str, threading.Event]]:
    """A push service that answers 201 and then its body a byte every 0.2 s, for ever (until the test ends): each
    read comes well within any read timeout, the answer never does."""
    done = threading.Event()

    class Trickle(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(201)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            while not done.wait(0.2):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:  # the server gave up on it
                    return

        def log_message(self, *args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_port}/push", done
    done.set()
    http.shutdown()
    http.server_close()


def test_a_push_service_that_trickles_its_answer_is_given_up_on(make_server, peers, trickling):
    """Every read within the timeout, the whole answer never: the request still ends (and is retried), so a few such
    endpoints cannot hold the pusher's senders for everyone."""
    endpoint, _ = trickling
    port = pushed_to(make_server, peers, endpoint, "are you there?")
    wait_until(lambda: scrape(port).get(("om_pushes_total", (("result", "retried"),))), timeout=60,
               what="the trickled push to be given up on and retried")


@pytest.mark.parametrize("path", ["//api/farcaster/webhook", "///api/farcaster/webhook", "//api/auth/nonce"])
def test_the_sign_in_budget_holds_for_a_path_spelt_with_extra_slashes(make_server, hub, path):
    """Flask routes `//api/…` to the same view: the budget in front of it must see the same path."""
    srv = make_server({"FARCASTER_HUB_URL": hub.url, "SIGNIN_RATE_PER_MIN": "0.01", "SIGNIN_RATE_BURST": "1"})
    body = hub.add(AppKey(1103)).sign({"event": "miniapp_removed"})
    assert srv.post("/api/farcaster/webhook", body).status_code == 200
    asked = len(hub.requests)
    answer = srv.request("POST", path, json=body)
    assert refused(answer, 429, "rate_limited"), answer.text
    assert len(hub.requests) == asked
