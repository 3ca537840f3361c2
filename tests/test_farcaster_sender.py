"""Farcaster notifications (v1.2), against a real server: a linked fid's tokens are told of the same events as Web
Push, in Farcaster's request shape and within its limits, at a notification URL stand-in that answers as a Farcaster
client does."""
from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Iterator

import pytest

from farcaster import AppKey, Hub, NotificationUrl, QuickAuthKeys
from support import Server, Wallet, free_port, new_chat, wait_until
from test_farcaster import stored
from test_metrics import scrape

APP_URL = "https://chat.example"
FIDS = itertools.count(5000 + uuid.uuid4().int % 10**6 * 10)


@pytest.fixture
def client_url() -> Iterator[NotificationUrl]:
    stand_in = NotificationUrl()
    yield stand_in
    stand_in.close()


@pytest.fixture
def server(make_server, hub, keys) -> Server:
    return make_server({"FARCASTER_HUB_URL": hub.url, "FARCASTER_AUTH_JWKS_URL": keys.jwks_url,
                        "NOTIFY_ALLOW_HOSTS": "127.0.0.1", "APP_URL": APP_URL})


def linked(server: Server, hub: Hub, keys: QuickAuthKeys, client_url: NotificationUrl, token: str = "t-1") -> Wallet:
    """A signed-in address whose fid's client added the app with notifications on, at the stand-in's URL."""
    wallet, fid = Wallet().sign_in(server), next(FIDS)
    assert server.post("/api/farcaster/link", {"token": keys.token(fid)}, token=wallet.token).status_code == 200
    added = {"event": "miniapp_added", "notificationDetails": {"url": f"{client_url.url}/notify", "token": token}}
    assert server.post("/api/farcaster/webhook", hub.add(AppKey(fid)).sign(added)).status_code == 200
    return wallet


def test_a_message_goes_to_the_linked_fids_token_as_farcasters_request(server, hub, keys, client_url, peers):
    alice, bob = Wallet().sign_in(server), linked(server, hub, keys, client_url)
    chat = new_chat(server, alice, bob, chat_id="g" * 128)  # its message ids are longer than Farcaster takes
    sent = peers(server, alice).send(chat["id"], "x" * 200)["message"]
    assert client_url.next() == {
        "notificationId": hashlib.sha256(sent["id"].encode()).hexdigest(), "title": "New message",
        "body": "x" * 120, "targetUrl": f"{APP_URL}/chats/{chat['id']}", "tokens": ["t-1"]}


def test_the_sender_and_a_member_with_the_chat_open_are_not_notified(server, hub, keys, client_url, peers):
    alice, bob, carol = (linked(server, hub, keys, client_url, token=t) for t in ("to-alice", "to-bob", "to-carol"))
    chat = new_chat(server, alice, bob, carol)
    peers(server, carol).join(chat["id"])
    sent = peers(server, alice).send(chat["id"], "hi")["message"]
    after = peers(server, alice).send(new_chat(server, alice, carol)["id"], "after")["message"]  # decided after it
    told = {tuple(post["tokens"]): post["notificationId"] for post in (client_url.next(), client_url.next())}
    assert told == {("to-bob",): sent["id"], ("to-carol",): after["id"]}  # two requests to one host may cross
    assert client_url.posts.empty()


def test_with_previews_off_the_body_has_no_text(server, hub, keys, client_url, peers):
    alice, bob = Wallet().sign_in(server), linked(server, hub, keys, client_url)
    assert server.request("PUT", "/api/me/settings", bob.token, json={"push_previews": False}).status_code == 200
    peers(server, alice).send(new_chat(server, alice, bob)["id"], "a secret")
    assert client_url.next()["body"] == "New message"


def test_one_per_token_per_30_s_what_comes_inside_waits_counted_and_a_rate_limited_one_goes_again(
        server, hub, keys, client_url, peers):
    alice, bob = Wallet().sign_in(server), linked(server, hub, keys, client_url)
    chat, sender = new_chat(server, alice, bob), peers(server, alice)
    client_url.limited = {"t-1"}
    sender.send(chat["id"], "one")
    assert client_url.next()["body"] == "one"  # refused for its rate: it waits for the window's end
    client_url.limited = set()
    two = sender.send(chat["id"], "two")["message"]
    waited = client_url.next(timeout=45)
    assert (waited["notificationId"], waited["body"]) == (two["id"], "2 new: two")


def test_a_token_the_client_names_invalid_is_dropped(make_server, hub, keys, client_url, peers):
    port = free_port()
    server = make_server({"FARCASTER_HUB_URL": hub.url, "FARCASTER_AUTH_JWKS_URL": keys.jwks_url,
                          "NOTIFY_ALLOW_HOSTS": "127.0.0.1", "APP_URL": APP_URL, "METRICS_PORT": str(port)})
    alice, bob = Wallet().sign_in(server), linked(server, hub, keys, client_url)
    client_url.invalid = {"t-1"}
    peers(server, alice).send(new_chat(server, alice, bob)["id"], "one")
    client_url.next()
    wait_until(lambda: scrape(port).get(("om_farcaster_notifications_total", (("result", "invalid"),))) == 1,
               what="the invalid token to be dropped")
    store = stored(server)
    try:
        fid = store.farcaster_fid(bob.address)
        assert fid is not None and store.farcaster_tokens(fid) == []
    finally:
        store.close()


def test_what_waits_for_the_window_leaves_out_a_chat_the_address_left_meanwhile(server, hub, keys, client_url, peers):
    alice, bob = Wallet().sign_in(server), linked(server, hub, keys, client_url)
    left, stayed = new_chat(server, alice, bob, Wallet().sign_in(server)), new_chat(server, alice, bob)
    sender = peers(server, alice)
    sender.send(left["id"], "first")
    assert client_url.next()["body"] == "first"
    sender.send(left["id"], "inside the window")
    assert server.request("DELETE", f"/api/chats/{left['id']}/members/{bob.address}", bob.token).status_code == 200
    kept = sender.send(stayed["id"], "still a member here")["message"]
    waited = client_url.next(timeout=45)
    assert (waited["notificationId"], waited["body"]) == (kept["id"], "still a member here")
