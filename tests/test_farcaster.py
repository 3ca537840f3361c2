"""Farcaster mini-app notifications (v1.2): the signed webhook events and the Quick Auth link, against a real server and
local stand-ins of a hub, Quick Auth's JWKS and the client's app keys; what was stored is read back from the server's
store once it has stopped."""
from __future__ import annotations


import pytest

from optimistic_messaging.broker.notify import announce
from optimistic_messaging.models import FarcasterToken
from optimistic_messaging.store import Store
from optimistic_messaging.store.jsonl import JsonlStore
from optimistic_messaging.store.postgres import PgStore

from cluster import REDIS_URL, Cluster
from farcaster import AppKey, Hub
from support import FakeClock, Server, Wallet

NOTIFY_URL = "http://127.0.0.1:9/notify"  # allowed by NOTIFY_ALLOW_HOSTS; never requested by these tests
ADDED = {"event": "miniapp_added", "notificationDetails": {"url": NOTIFY_URL, "token": "t-1"}}


@pytest.fixture
def server(make_server, hub, keys) -> Server:
    return make_server({"FARCASTER_HUB_URL": hub.url, "FARCASTER_AUTH_JWKS_URL": keys.jwks_url,
                        "NOTIFY_ALLOW_HOSTS": "127.0.0.1"})


def stored(server: Server) -> Store:
    """The stopped server's store, opened here to read what it kept."""
    server.stop()
    url = server.env.get("DATABASE_URL")
    store: Store = PgStore(url, FakeClock(), announce("test")) if url else JsonlStore(server.data_file)
    store.start()
    return store


def fresh_key(hub: Hub, fid: int) -> AppKey:
    return hub.add(AppKey(fid))


def test_a_signed_added_event_keeps_the_token_and_later_events_of_that_client_drop_it(server, hub):
    kept, dropped_by_disable, dropped_by_removal = (fresh_key(hub, 1001) for _ in range(3))
    for key in (kept, dropped_by_disable, dropped_by_removal):
        assert server.post("/api/farcaster/webhook", key.sign(ADDED)).status_code == 200
    enabled = {"event": "notifications_enabled", "notificationDetails": {"url": NOTIFY_URL, "token": "t-2"}}
    assert server.post("/api/farcaster/webhook", kept.sign(enabled)).json() == {"ok": True}
    assert server.post("/api/farcaster/webhook", dropped_by_disable.sign({"event": "notifications_disabled"})).ok
    assert server.post("/api/farcaster/webhook", dropped_by_removal.sign({"event": "miniapp_removed"})).ok
    store = stored(server)
    assert store.farcaster_tokens(1001) == [FarcasterToken(1001, kept.key, NOTIFY_URL, "t-2")]
    store.close()


def test_an_accepted_event_replayed_is_refused_and_changes_nothing(server, hub):
    """A JSON Farcaster Signature carries no nonce: whoever saw an event could post it again after a later one."""
    key = fresh_key(hub, 1007)
    added, disabled = key.sign(ADDED), key.sign({"event": "notifications_disabled"})
    assert server.post("/api/farcaster/webhook", added).status_code == 200
    assert server.post("/api/farcaster/webhook", disabled).status_code == 200
    for replay in (added, {**disabled, "extra": "the same signed event in another body"}):
        r = server.post("/api/farcaster/webhook", replay)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
        assert "already accepted" in r.json()["error"]["message"], r.text
    store = stored(server)
    assert store.farcaster_tokens(1007) == []
    store.close()


@pytest.mark.own_store
@pytest.mark.parametrize("redis_url", [None, REDIS_URL], ids=["database", "redis"])
def test_an_event_accepted_by_one_node_is_a_replay_on_another(tmp_path, hub, redis_url):
    c = Cluster(tmp_path, 2, {"FARCASTER_HUB_URL": hub.url, "NOTIFY_ALLOW_HOSTS": "127.0.0.1"},
                redis_url=redis_url).start()
    try:
        body = fresh_key(hub, 1009).sign(ADDED)
        assert c[0].post("/api/farcaster/webhook", body).status_code == 200
        r = c[1].post("/api/farcaster/webhook", body)
        assert r.status_code == 401 and "already accepted" in r.json()["error"]["message"], r.text
    finally:
        c.stop()


@pytest.mark.parametrize("forge", ["bad signature", "key not the fid's", "another fid's key", "wrong type",
                                   "not an event"])
def test_an_event_that_does_not_verify_is_unauthorized_and_stores_nothing(server, hub, forge):
    key = fresh_key(hub, 1002)
    body = key.sign(ADDED)
    if forge == "bad signature":
        body["signature"] = AppKey(1002).sign(ADDED)["signature"]
    elif forge == "key not the fid's":
        body = AppKey(1002).sign(ADDED)
    elif forge == "another fid's key":
        body = fresh_key(hub, 1003).sign(ADDED, fid=1002)
    elif forge == "wrong type":
        body = key.sign(ADDED, type="custody")
    else:
        body = key.sign({**ADDED, "event": "frame_added"})
    r = server.post("/api/farcaster/webhook", body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    store = stored(server)
    assert store.farcaster_tokens(1002) == []
    store.close()


@pytest.mark.parametrize("url", ["http://example.com/notify", "https://127.0.0.1/notify", "https://10.1.2.3/n",
                                 "https://169.254.169.254/latest", "https://[::1]/n", "not a url"])
def test_a_notification_url_a_client_may_not_reach_is_invalid(make_server, hub, url):
    server = make_server({"FARCASTER_HUB_URL": hub.url})
    body = fresh_key(hub, 1004).sign({"event": "miniapp_added", "notificationDetails": {"url": url, "token": "t"}})
    r = server.post("/api/farcaster/webhook", body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid", r.text
    store = stored(server)
    assert store.farcaster_tokens(1004) == []
    store.close()


@pytest.mark.parametrize("body", [{}, {"header": "!", "payload": "", "signature": ""}, {"header": 1}, [], "x"])
def test_garbage_is_unauthorized(server, body):
    r = server.post("/api/farcaster/webhook", body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    r = server.request("POST", "/api/farcaster/webhook", data=b"{not json")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text


def test_while_the_hub_is_down_an_event_is_unavailable_and_stores_nothing(server, hub):
    key = fresh_key(hub, 1006)
    hub.down = True
    try:
        r = server.post("/api/farcaster/webhook", key.sign(ADDED))
    finally:
        hub.down = False
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
    store = stored(server)
    assert store.farcaster_tokens(1006) == []
    store.close()


def test_without_a_hub_or_jwks_the_endpoints_are_unavailable(make_server, hub):
    server = make_server()
    wallet = Wallet().sign_in(server)
    assert server.post("/api/farcaster/webhook", fresh_key(hub, 1005).sign(ADDED)).status_code == 503
    assert server.post("/api/farcaster/link", {"token": "x"}, token=wallet.token).status_code == 503


def test_link_ties_the_tokens_fid_to_the_signed_in_address(server, keys):
    wallet = Wallet().sign_in(server)
    r = server.post("/api/farcaster/link", {"token": keys.token(4242)}, token=wallet.token)
    assert r.status_code == 200 and r.json() == {"fid": 4242, "address": wallet.address}, r.text
    store = stored(server)
    assert store.farcaster_fid(wallet.address) == 4242
    store.close()


@pytest.mark.parametrize("where", ["moved.json", "padded.json"])
def test_keys_behind_a_redirect_or_over_64_kb_are_not_taken(make_server, keys, where):
    server = make_server({"FARCASTER_AUTH_JWKS_URL": f"{keys.url}/{where}"})
    wallet, asked = Wallet().sign_in(server), len(keys.requests)
    r = server.post("/api/farcaster/link", {"token": keys.token(4244)}, token=wallet.token)
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
    assert [path for path, _, _ in keys.requests[asked:]] == [f"GET /{where}"]  # the redirect was not followed


@pytest.mark.parametrize("token", ["expired", "wrong audience", "wrong issuer", "another key", "not a fid"])
def test_link_refuses_a_token_that_is_not_valid_for_us_now(server, keys, token):
    wallet = Wallet().sign_in(server)
    from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

    jwt_ = {
        "expired": lambda: keys.token(4243, expires_in=-60),
        "wrong audience": lambda: keys.token(4243, audience="evil.example"),
        "wrong issuer": lambda: keys.token(4243, issuer="https://auth.evil.example"),
        "another key": lambda: keys.token(4243, key=generate_private_key(public_exponent=65537, key_size=2048)),
        "not a fid": lambda: keys.token("alice"),
    }[token]()
    r = server.post("/api/farcaster/link", {"token": jwt_}, token=wallet.token)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    assert server.post("/api/farcaster/link", {"token": keys.token(4243)}).status_code == 401  # not signed in
    store = stored(server)
    assert store.farcaster_fid(wallet.address) is None
    store.close()
