"""Web Push (contract v1.2 "Notifications"): the VAPID key, subscriptions and the host check, against a real server."""
from __future__ import annotations

import base64
import os
import uuid
from dataclasses import replace
from typing import Any

import psycopg
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chain import Anvil, claim
from optimistic_messaging.store.jsonl import JsonlStore
from push_service import PushService
from support import Wallet, free_port, fresh_database, new_chat, wait_until
from test_metrics import scrape

SCALAR = bytes(range(1, 33))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_point(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def test_the_key_is_the_configured_scalars_public_point_without_sign_in(make_server):
    srv = make_server({"VAPID_PRIVATE_KEY": b64url(SCALAR)})
    answer = srv.get("/api/push/key")
    expected = public_point(ec.derive_private_key(int.from_bytes(SCALAR, "big"), ec.SECP256R1()))
    assert answer.status_code == 200 and answer.json() == {"public_key": expected}


def test_a_generated_key_stays_the_same_across_a_restart(make_server, tmp_path):
    first = make_server(data_dir=tmp_path / "kept")
    key = first.get("/api/push/key").json()["public_key"]
    assert len(base64.urlsafe_b64decode(key + "=")) == 65
    first.stop()
    same = {k: v for k, v in first.env.items() if k == "DATABASE_URL"}  # the same store on PostgreSQL too
    assert make_server(same, data_dir=tmp_path / "kept").get("/api/push/key").json()["public_key"] == key


def browser_keys() -> dict[str, str]:
    """What a browser's PushSubscription carries: its P-256 public key and a 16-byte auth secret."""
    return {"p256dh": public_point(ec.generate_private_key(ec.SECP256R1())), "auth": b64url(os.urandom(16))}


def subscription(n: int | str, host: str = "push.example") -> dict[str, Any]:
    return {"endpoint": f"https://{host}/send/{n}", "keys": browser_keys()}


def put(server, wallet, body: Any) -> requests.Response:
    return server.request("PUT", "/api/push/subscriptions", wallet.token, json=body)


def delete(server, wallet, endpoint: str) -> requests.Response:
    return server.request("DELETE", "/api/push/subscriptions", wallet.token, json={"endpoint": endpoint})


def test_a_subscription_is_created_then_the_addresss_own_and_needs_sign_in(server):
    alice, sub = Wallet().sign_in(server), subscription(uuid.uuid4().hex)
    assert server.request("PUT", "/api/push/subscriptions", None, json=sub).status_code == 401
    first, again = put(server, alice, sub), put(server, alice, {**sub, "keys": browser_keys()})
    assert (first.status_code, first.json(), again.status_code) == (201, {}, 200)


def test_an_eleventh_subscription_drops_the_oldest(server):
    alice, tag = Wallet().sign_in(server), uuid.uuid4().hex
    subs = [subscription(f"{tag}-{n}") for n in range(11)]
    assert [put(server, alice, s).status_code for s in subs] == [201] * 11
    assert put(server, alice, subs[10]).status_code == 200  # the youngest is kept
    assert put(server, alice, subs[0]).status_code == 201  # the oldest was dropped


def test_registering_an_endpoint_again_moves_it_to_the_address_that_did(server):
    alice, bob, sub = Wallet().sign_in(server), Wallet().sign_in(server), subscription(uuid.uuid4().hex)
    assert put(server, alice, sub).status_code == 201
    assert put(server, bob, sub).status_code == 201 and put(server, bob, sub).status_code == 200
    assert put(server, alice, sub).status_code == 201


def test_delete_ends_only_the_callers_own_subscription(server):
    alice, bob, sub = Wallet().sign_in(server), Wallet().sign_in(server), subscription(uuid.uuid4().hex)
    put(server, alice, sub)
    assert delete(server, bob, sub["endpoint"]).status_code == 200 and put(server, alice, sub).status_code == 200
    assert delete(server, alice, sub["endpoint"]).json() == {} and put(server, alice, sub).status_code == 201


def test_an_endpoint_differing_only_in_the_case_of_its_scheme_or_host_is_the_same_subscription(server):
    alice, tag = Wallet().sign_in(server), uuid.uuid4().hex
    keys = browser_keys()
    assert put(server, alice, {"endpoint": f"https://Push.Example/send/{tag}", "keys": keys}).status_code == 201
    assert put(server, alice, {"endpoint": f"HTTPS://push.EXAMPLE/send/{tag}", "keys": keys}).status_code == 200
    assert put(server, alice, {"endpoint": f"https://push.example/send/{tag.upper()}", "keys": keys}).status_code == 201
    assert delete(server, alice, f"Https://PUSH.example/send/{tag}").status_code == 200
    assert put(server, alice, {"endpoint": f"https://push.example/send/{tag}", "keys": keys}).status_code == 201


def test_an_endpoint_to_delete_holding_a_control_character_is_invalid(server):
    alice = Wallet().sign_in(server)
    for endpoint in ("https://push.example/a\x00b", "https://push.example/a\nb"):
        answer = delete(server, alice, endpoint)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid"

def test_signing_out_ends_the_subscriptions_that_session_registered_only(server):
    alice = Wallet().sign_in(server)
    first_token, by_first, by_second = alice.token, subscription(uuid.uuid4().hex), subscription(uuid.uuid4().hex)
    put(server, alice, by_first)
    alice.sign_in(server)
    put(server, alice, by_second)
    assert server.post("/api/auth/logout", None, first_token).status_code == 200
    assert put(server, alice, by_second).status_code == 200 and put(server, alice, by_first).status_code == 201


@pytest.mark.own_store
def test_nodes_of_one_database_sign_with_one_key_made_once(make_server):
    url = fresh_database()
    first = make_server({"DATABASE_URL": url}).get("/api/push/key").json()["public_key"]
    assert make_server({"DATABASE_URL": url}).get("/api/push/key").json()["public_key"] == first
    assert make_server({"DATABASE_URL": fresh_database()}).get("/api/push/key").json()["public_key"] != first


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://push.example/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.0.0.7/x",
        "https://192.168.1.1:8443/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0/x",
        "https://user:pw@push.example/x",
        "ftp://push.example/x",
        "not a url",
        "",
        7,
        "https://push.example/" + "x" * 1100,
    ],
)
def test_an_endpoint_inside_the_network_or_not_https_is_invalid(server, endpoint):
    alice = Wallet().sign_in(server)
    answer = put(server, alice, {"endpoint": endpoint, "keys": browser_keys()})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid", answer.text


A_POINT = public_point(ec.derive_private_key(7, ec.SECP256R1()))  # a valid p256dh: only the auth secret is wrong


@pytest.mark.parametrize(
    "keys",
    [
        None,
        {},
        {"p256dh": b64url(b"\x04" + bytes(63)), "auth": b64url(bytes(16))},
        {"p256dh": b64url(b"\x02" + bytes(64)), "auth": b64url(bytes(16))},
        {"p256dh": A_POINT, "auth": b64url(bytes(15))},
        {"p256dh": A_POINT, "auth": "not+base64/url"},
        {"p256dh": A_POINT, "auth": 16},
    ],
)
def test_keys_of_the_wrong_size_or_encoding_are_invalid(server, keys):
    alice = Wallet().sign_in(server)
    answer = put(server, alice, {"endpoint": f"https://push.example/{uuid.uuid4().hex}", "keys": keys})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid", answer.text


def test_a_host_notify_allow_hosts_names_is_taken_even_on_http(make_server):
    srv = make_server({"NOTIFY_ALLOW_HOSTS": "127.0.0.1"})
    alice = Wallet().sign_in(srv)
    assert put(srv, alice, {"endpoint": "http://127.0.0.1:9/push", "keys": browser_keys()}).status_code == 201
    assert put(srv, alice, {"endpoint": "https://localhost/push", "keys": browser_keys()}).status_code == 400


# -- sending: a stand-in push service that checks the VAPID JWT and decrypts each payload ---------------------------

@pytest.fixture
def pushing(make_server):
    """A server allowed to push to a local stand-in push service (PUSH_COALESCE_S as the test asks)."""
    services: list[PushService] = []

    def start(coalesce_s: str = "0", **env: str) -> tuple[Any, PushService]:
        srv = make_server({"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": coalesce_s, **env})
        services.append(PushService(srv.get("/api/push/key").json()["public_key"]))
        return srv, services[-1]

    yield start
    for service in services:
        service.close()


def subscribed(srv, service: PushService, wallet) -> str:
    sub_id, sub = service.subscribe()
    answer = put(srv, wallet, sub)
    assert answer.status_code == 201, answer.text
    return sub_id


def test_a_member_with_the_app_closed_is_pushed_the_sender_and_a_joined_member_are_not(pushing, peers):
    srv, service = pushing()
    alice, bob, carol = (Wallet().sign_in(srv) for _ in range(3))
    chat = new_chat(srv, alice, bob, carol)
    to_alice, to_bob, to_carol = (subscribed(srv, service, w) for w in (alice, bob, carol))
    peers(srv, carol).join(chat["id"])
    sent = peers(srv, alice).send(chat["id"], "lunch?")["message"]
    sentinel = new_chat(srv, alice, bob)  # pushed after the first message's are decided: nothing else is coming
    peers(srv, alice).send(sentinel["id"], "after")
    arrived = [service.next(), service.next()]
    assert {p.payload["chat_id"] for p in arrived} == {chat["id"], sentinel["id"]}
    assert all(p.id == to_bob for p in arrived) and to_alice != to_bob != to_carol and service.pushes.empty()
    (push,) = [p for p in arrived if p.payload["chat_id"] == chat["id"]]
    assert push.headers["Host"] == service.url.removeprefix("http://")  # the name, though the address is connected to
    assert push.payload == {"type": "message", "chat_id": chat["id"], "message_id": sent["id"],
                            "sender": alice.address, "count": 1, "preview": "lunch?"}


def test_an_address_that_left_the_chat_is_not_pushed(pushing, peers):
    srv, service = pushing()
    alice, bob, carol = (Wallet().sign_in(srv) for _ in range(3))
    chat = new_chat(srv, alice, bob, carol)
    subscribed(srv, service, bob)
    to_carol = subscribed(srv, service, carol)
    assert srv.request("DELETE", f"/api/chats/{chat['id']}/members/{bob.address}", bob.token).status_code == 200
    peers(srv, alice).send(chat["id"], "without bob")
    sentinel = new_chat(srv, alice, carol)
    peers(srv, alice).send(sentinel["id"], "after")
    arrived = {(p.id, p.payload["chat_id"]) for p in (service.next(), service.next())}
    assert arrived == {(to_carol, chat["id"]), (to_carol, sentinel["id"])} and service.pushes.empty()


def test_the_preview_is_the_first_120_characters_or_null_when_the_receiver_turned_previews_off(pushing, peers):
    srv, service = pushing()
    alice, bob, carol = (Wallet().sign_in(srv) for _ in range(3))
    chat = new_chat(srv, alice, bob, carol)
    to_bob, to_carol = subscribed(srv, service, bob), subscribed(srv, service, carol)
    assert srv.request("PUT", "/api/me/settings", bob.token, json={"push_previews": False}).status_code == 200
    body = "é" * 100 + "x" * 100
    peers(srv, alice).send(chat["id"], body)
    previews = {p.id: p.payload["preview"] for p in (service.next(), service.next())}
    assert previews == {to_bob: None, to_carol: body[:120]}


def test_a_push_service_answering_410_ends_the_subscription(pushing, peers):
    port = free_port()
    srv, service = pushing(METRICS_PORT=str(port))
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat = new_chat(srv, alice, bob)
    sub_id, sub = service.subscribe()
    assert put(srv, bob, sub).status_code == 201
    service.status = 410
    peers(srv, alice).send(chat["id"], "gone?")
    assert service.next().id == sub_id
    # awaited by its count, not by registering again: a registration racing the drop is newer and rightly kept
    wait_until(lambda: scrape(port).get(("om_pushes_total", (("result", "gone"),))) == 1, what="the push to be gone")
    assert put(srv, bob, sub).status_code == 201


@pytest.mark.parametrize("busy", [429, 503])
def test_a_busy_push_service_is_asked_again_after_retry_after_and_the_pushes_are_counted(pushing, peers, busy):
    port = free_port()
    srv, service = pushing(METRICS_PORT=str(port))
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat = new_chat(srv, alice, bob)
    subscribed(srv, service, bob)
    service.once.put(busy)  # the retry, at once (Retry-After: 0), finds it answering 201 again
    sent = peers(srv, alice).send(chat["id"], "again")["message"]
    assert service.next().payload["message_id"] == sent["id"]
    assert service.next().payload["message_id"] == sent["id"]
    figures = wait_until(lambda: (f := scrape(port)).get(("om_pushes_total", (("result", "delivered"),))) and f,
                         what="the delivered push to be counted")
    assert figures[("om_pushes_total", (("result", "retried"),))] == 1
    assert figures[("om_push_seconds_count", ())] == 1 and figures[("om_push_queue", ())] == 0


def test_the_host_check_holds_at_every_request_not_only_at_registration(make_server, peers, tmp_path):
    port, kept = free_port(), tmp_path / "kept"
    before = make_server({"NOTIFY_ALLOW_HOSTS": "localhost,127.0.0.1"}, data_dir=kept)
    service = PushService(before.get("/api/push/key").json()["public_key"])
    try:
        alice, bob = Wallet().sign_in(before), Wallet().sign_in(before)
        chat = new_chat(before, alice, bob)
        by_name, sub = service.subscribe()
        assert put(before, bob, {**sub, "endpoint": sub["endpoint"].replace("127.0.0.1", "localhost")}).status_code == 201
        by_address = subscribed(before, service, bob)
        before.stop()  # the same data, now with only 127.0.0.1 allowed: localhost is a loopback name again
        same = {k: v for k, v in before.env.items() if k == "DATABASE_URL"}  # the same store on PostgreSQL too
        after = make_server({"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "METRICS_PORT": str(port), **same}, data_dir=kept)
        alice.sign_in(after)
        peers(after, alice).send(chat["id"], "only by address")
        assert service.next().id == by_address and by_name != by_address
        wait_until(lambda: scrape(port).get(("om_pushes_total", (("result", "refused"),))) == 1,
                   what="the push to the loopback name to be refused")
        assert service.pushes.empty()
    finally:
        service.close()


def test_a_hanging_push_service_does_not_delay_a_sends_ack(pushing, peers):
    srv, service = pushing()
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat = new_chat(srv, alice, bob)
    subscribed(srv, service, bob)
    service.open.clear()
    sender = peers(srv, alice)
    assert sender.send(chat["id"], "first")["ok"]
    service.held.get(timeout=10)  # the push of the first is being held by the push service
    ack = sender.send(chat["id"], "second")
    assert ack["ok"] and not service.open.is_set()  # acked while the push service still holds the request
    service.open.set()  # both pushes were held (PUSH_COALESCE_S 0): they arrive in either order
    assert {service.next().payload["preview"] for _ in range(2)} == {"first", "second"}


def test_a_hanging_push_service_holds_up_no_other_hosts_pushes(pushing, peers):
    srv, hanging = pushing(NOTIFY_ALLOW_HOSTS="127.0.0.1,127.0.0.2")
    healthy = PushService(hanging.server_key, host="127.0.0.2")
    try:
        alice, bob, carol = (Wallet().sign_in(srv) for _ in range(3))
        chat, other = new_chat(srv, alice, bob), new_chat(srv, alice, carol)
        for _ in range(10):
            subscribed(srv, hanging, bob)
        to_carol = subscribed(srv, healthy, carol)
        hanging.open.clear()
        sender = peers(srv, alice)
        for n in range(4):  # 40 pushes into the hanging service: more than were ever in flight at once to all hosts
            sender.send(chat["id"], f"held {n}")
        for _ in range(8):
            hanging.held.get(timeout=10)
        sent = sender.send(other["id"], "to a healthy host")["message"]
        push = healthy.next()
        assert (push.id, push.payload["message_id"]) == (to_carol, sent["id"]) and not hanging.open.is_set()
    finally:
        healthy.close()


def test_pushes_within_push_coalesce_s_come_as_one_naming_the_latest_and_counting_them(pushing, peers):
    srv, service = pushing(coalesce_s="2")
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat = new_chat(srv, alice, bob)
    subscribed(srv, service, bob)
    sender = peers(srv, alice)
    first = sender.send(chat["id"], "one")["message"]
    assert service.next().payload["message_id"] == first["id"]
    sender.send(chat["id"], "two")
    third = sender.send(chat["id"], "three")["message"]
    coalesced = service.next().payload
    assert (coalesced["message_id"], coalesced["count"], coalesced["preview"]) == (third["id"], 2, "three")


def test_a_message_deleted_inside_a_window_is_not_named_and_a_window_of_only_deleted_ones_sends_nothing(pushing, peers):
    srv, service = pushing(coalesce_s="2")
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat, other = new_chat(srv, alice, bob), new_chat(srv, alice, bob)
    subscribed(srv, service, bob)
    sender = peers(srv, alice)

    def delete(message: dict) -> None:
        assert sender.call("delete", {"chat_id": message["chat_id"], "message_id": message["id"]})["ok"]

    sender.send(chat["id"], "one")
    assert service.next().payload["preview"] == "one"
    two = sender.send(chat["id"], "two")["message"]
    delete(sender.send(chat["id"], "three")["message"])
    named = service.next().payload
    assert (named["message_id"], named["count"], named["preview"]) == (two["id"], 1, "two")
    sender.send(other["id"], "elsewhere")  # its window opens after the one the push of "two" opened, ends after it
    assert service.next().payload["preview"] == "elsewhere"
    later = sender.send(other["id"], "elsewhere, later")["message"]
    delete(sender.send(chat["id"], "four")["message"])
    assert service.next().payload["message_id"] == later["id"]  # the window of "four" ended first, sending nothing
    assert service.pushes.empty()


def test_after_a_window_whose_messages_were_all_deleted_the_next_message_is_pushed_at_once(pushing, peers):
    srv, service = pushing(coalesce_s="2")
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat, other = new_chat(srv, alice, bob), new_chat(srv, alice, bob, chat_id=uuid.uuid4().hex)
    subscribed(srv, service, bob)
    sender = peers(srv, alice)
    sender.send(chat["id"], "one")
    assert service.next().payload["preview"] == "one"
    two = sender.send(chat["id"], "two")["message"]
    assert sender.call("delete", {"chat_id": chat["id"], "message_id": two["id"]})["ok"]
    sender.send(other["id"], "elsewhere")  # its window ends after the one "two" was kept in
    assert service.next().payload["preview"] == "elsewhere"
    sender.send(other["id"], "elsewhere, later")
    assert service.next().payload["preview"] == "elsewhere, later"  # so the window of "two" ended, sending nothing
    three = sender.send(chat["id"], "three")["message"]
    sender.send(chat["id"], "four")
    pushed = service.next().payload
    assert (pushed["message_id"], pushed["count"]) == (three["id"], 1)  # at once, not kept with "four"


def test_a_settled_payment_is_pushed_to_its_payee_only_with_its_status_and_reason(pushing, peers, anvil: Anvil):
    srv, service = pushing(CHAIN_RPC_URL=anvil.url, RECONCILE_INTERVAL_S="0.1", TX_TIMEOUT_S="3")
    alice, bob, carol = anvil.wallet(1).sign_in(srv), anvil.wallet(2).sign_in(srv), Wallet().sign_in(srv)
    chat = new_chat(srv, alice, bob, carol)
    to_bob, to_carol = subscribed(srv, service, bob), subscribed(srv, service, carol)
    payer = peers(srv, alice)
    paid = payer.send(chat["id"], "sent you 5", tx=claim(anvil.send(alice, bob.address, 5 * 10**18), bob.address,
                                                          5 * 10**18))["message"]
    assert {(p.id, p.payload["type"]) for p in (service.next(), service.next())} == {(to_bob, "message"),
                                                                                     (to_carol, "message")}
    anvil.finalize()
    confirmed = service.next(timeout=30)
    assert (confirmed.id, confirmed.payload) == (to_bob, {
        "type": "payment", "chat_id": chat["id"], "message_id": paid["id"], "sender": alice.address, "count": 1,
        "preview": "sent you 5", "status": "confirmed", "reason": None})
    claimed = payer.send(chat["id"], "sent you 1", tx=claim("0x" + "ab" * 32, bob.address, 10**18))["message"]
    assert {(p.id, p.payload["type"]) for p in (service.next(), service.next())} == {(to_bob, "message"),
                                                                                     (to_carol, "message")}
    retracted = service.next(timeout=30)
    assert retracted.id == to_bob and (retracted.payload["message_id"], retracted.payload["status"],
                                       retracted.payload["reason"]) == (claimed["id"], "retracted", "dropped")
    payer.send(new_chat(srv, alice, carol)["id"], "after")  # decided after both settlements
    assert service.next().id == to_carol and service.pushes.empty()


def test_a_kept_subscription_whose_keys_cannot_encrypt_is_refused_once_not_retried(make_server, peers, tmp_path):
    """Keys are checked at registration; one kept before that check (here: changed in the store) fails to encrypt
    at every attempt, so it is given up at the first, and no request is made."""
    port, kept = free_port(), tmp_path / "kept"
    before = make_server({"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": "0"}, data_dir=kept)
    service = PushService(before.get("/api/push/key").json()["public_key"])
    try:
        alice, bob = Wallet().sign_in(before), Wallet().sign_in(before)
        chat = new_chat(before, alice, bob)
        _, sub = service.subscribe()
        assert put(before, bob, sub).status_code == 201
        before.stop()
        off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
        same = {k: v for k, v in before.env.items() if k == "DATABASE_URL"}
        if same:
            with psycopg.connect(same["DATABASE_URL"], autocommit=True) as conn:
                conn.execute("UPDATE push_subscriptions SET p256dh = %s", (off_curve,))
        else:
            store = JsonlStore(before.data_file)
            store.start()
            (kept_sub,) = store.push_subscriptions(bob.address)
            store.put_push_subscription(replace(kept_sub, p256dh=off_curve))
            store.close()
        after = make_server({"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": "0", "METRICS_PORT": str(port),
                             **same}, data_dir=kept)
        alice.sign_in(after)
        peers(after, alice).send(chat["id"], "to keys that cannot take it")
        figures = wait_until(lambda: (f := scrape(port)).get(("om_pushes_total", (("result", "refused"),))) and f,
                             what="the push to be refused")
        assert figures[("om_pushes_total", (("result", "refused"),))] == 1
        assert not figures.get(("om_pushes_total", (("result", "retried"),)))
        assert service.pushes.empty()
    finally:
        service.close()
