"""The OpenAPI document at GET /api/openapi.json: it describes exactly the routes the app serves, it is valid
OpenAPI 3.1, and the real server, fed generated requests by schemathesis, answers only what it documents."""
from __future__ import annotations

import base64
import json
import re
import uuid
import zlib
from typing import Any, Callable, Iterator

import pytest
import requests
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from openapi_spec_validator import OpenAPIV31SpecValidator

from chain import Anvil, claim
from farcaster import Hub, QuickAuthKeys
from optimistic_messaging.app import create_app
from optimistic_messaging.config import Config
from optimistic_messaging.openapi import SPEC
from support import Peer, Server, Wallet, new_chat

# The schema schemathesis generates from: the module the server serves (that it serves exactly this is a test below).
# Deterministic: a fixed seed, derandomized, no example database; bounded: a dozen generated cases per operation on
# top of the coverage phase's boundary cases. Unknown query parameters are not generated: the server ignores them by
# design (the document says so).
SCHEMA = schemathesis.openapi.from_dict(SPEC, config=schemathesis.Config.from_dict({
    "seed": 20260,
    "generation": {"max-examples": 12, "deterministic": True, "database": "none", "allow-extra-parameters": False},
}))

ON_THE_CURVE = base64.urlsafe_b64encode(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)).rstrip(b"=").decode()
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}  # Flask answers these on every route by itself (HEAD as GET; CORS preflight)
# The contract's table of codes and statuses (docs/protocol.md), with this implementation's two additions: 414 for a
# request line over 8 KiB, and 405 (code `invalid`) for a method a path does not serve.
STATUSES_OF = {"invalid": {400, 405}, "unauthorized": {401}, "forbidden": {403}, "not_found": {404},
               "conflict": {409}, "too_large": {413, 414}, "rate_limited": {429}, "internal": {500},
               "unavailable": {503}}


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Every route under /api the app serves, as an OpenAPI path, with the methods its views declare: the real app
    factory, built in this process (building it starts and writes nothing)."""
    data_file = tmp_path_factory.mktemp("routes") / "messages.json"
    app = create_app(Config(data_file=data_file, secret_key="k" * 32))
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes.setdefault(path, set()).update(set(rule.methods or ()) - AUTOMATIC_METHODS)
    return routes


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil) -> Iterator[Server]:
    """The real server with a chain and Farcaster's hub and keys (so sign-in by transaction and the Farcaster
    endpoints are served rather than `unavailable`), settling at once (no XMTP grace, no patience for a transaction
    the chain does not know), and budgets no run exhausts."""
    hub, keys = Hub(), QuickAuthKeys()
    srv = Server(tmp_path_factory.mktemp("openapi"), {
        "FARCASTER_HUB_URL": hub.url, "FARCASTER_AUTH_JWKS_URL": keys.jwks_url,
        "CHAIN_RPC_URL": anvil.url, "SIGNIN_TX_WAIT_S": "0", "XMTP_GRACE_S": "0", "TX_TIMEOUT_S": "0",
        "RECONCILE_INTERVAL_S": "0.1", "RATE_PER_S": "1000", "RATE_BURST": "1000",
        "CHAT_RATE_PER_MIN": "600000", "CHAT_RATE_BURST": "100000"}).start()
    yield srv
    srv.stop()
    hub.close()
    keys.close()


@pytest.fixture(scope="module")
def scene(api: Server, anvil: Anvil) -> dict[str, Any]:
    """A signed-in caller (a funded dev account) in chats of every kind; the group holds a message in each settled
    state — confirmed by the fallback, confirmed by XMTP, retracted (a payment the chain does not know), corrected
    (a payment of another amount than claimed); a chat it is not in; a group it may leave or clear."""
    me, friend, stranger = anvil.wallet(1).sign_in(api), anvil.wallet(2).sign_in(api), Wallet().sign_in(api)
    group = new_chat(api, me, friend, stranger)["id"]
    chats = {"group": group, "dm": new_chat(api, me, friend)["id"],
             "registered": new_chat(api, me, friend, chat_id="0123456789abcdef0123456789abcdef")["id"],
             "theirs": new_chat(api, friend, stranger)["id"], "leavable": new_chat(api, me, friend, stranger)["id"]}
    peer = Peer(api, me.token)
    try:
        peer.join(group)
        paid = anvil.send(me, friend.address, 3 * 10**18)
        sent = [peer.send(group, "plain"), peer.send(group, "also on XMTP", xmtp_id="xmtp-" + uuid.uuid4().hex),
                peer.send(group, "paid", tx=claim("0x" + uuid.uuid4().hex * 2, friend.address, 10**18)),
                peer.send(group, "sent you 5", tx=claim(paid, friend.address, 5 * 10**18))]
        anvil.finalize()
        for ack in sent:
            peer.settled(ack["message"]["id"])  # a payment or copy by message:update, the plain one by chat:confirmed
        for chat in ("dm", "registered"):
            peer.send(chats[chat], "hello")
    finally:
        peer.close()
    cursor = api.get("/api/chats?limit=1", me.token).json()["next_cursor"]  # sealed for `me`: only the server makes one
    return {"me": me, "friend": friend, "cursor": cursor, **chats}


def operations(document: dict[str, Any]) -> dict[str, set[str]]:
    verbs = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return {path: {verb.upper() for verb in item if verb in verbs} for path, item in document["paths"].items()}


def conforms(method: str, path: str, response: requests.Response) -> bool:
    """The status is one the operation documents and the body matches what it documents for it."""
    operation = SCHEMA[path][method]
    assert str(response.status_code) in operation.definition.raw["responses"], response.status_code
    operation.validate_response(response)
    return True


# --- the document ------------------------------------------------------------------------------------------------

def test_the_document_is_served_as_json_without_a_token(api: Server) -> None:
    r = api.get("/api/openapi.json")
    assert (r.status_code, r.headers["Content-Type"]) == (200, "application/json")
    assert r.json() == SPEC


def test_the_document_is_valid_openapi_3_1() -> None:
    OpenAPIV31SpecValidator(SPEC).validate()


def test_every_route_the_app_serves_is_described_with_every_method_it_serves(app_routes: dict[str, set[str]]) -> None:
    described = operations(SPEC)
    missing = {path: methods - described.get(path, set()) for path, methods in app_routes.items()}
    assert {path: methods for path, methods in missing.items() if methods} == {}


def test_the_document_describes_nothing_the_app_does_not_serve(app_routes: dict[str, set[str]]) -> None:
    extra = {path: methods - app_routes.get(path, set()) for path, methods in operations(SPEC).items()}
    assert {path: methods for path, methods in extra.items() if methods} == {}


def test_every_operation_that_declares_bearer_auth_refuses_a_request_without_a_token(api: Server) -> None:
    filled = {"chat_id": "grp:00000000000000000000", "address": "0x" + "11" * 20}
    answers = {(verb, path): api.request(verb.upper(), path.format(**filled), json={"members": []})
               for path, item in SPEC["paths"].items() for verb, op in item.items()
               if verb != "parameters" and op["security"]}
    assert {key: (r.status_code, r.json()["error"]["code"]) for key, r in answers.items()} == \
        {key: (401, "unauthorized") for key in answers}


# --- real answers in the states generated requests rarely reach ---------------------------------------------------

def test_history_holding_a_message_in_every_settled_state_conforms_to_the_spec(
        api: Server, scene: dict[str, Any]) -> None:
    r = api.get(f"/api/chats/{scene['group']}/messages", scene["me"].token)
    assert {(m["status"], m["source"], m["reason"]) for m in r.json()["messages"]} == {
        ("confirmed", "fallback", None), ("confirmed", "xmtp", None), ("retracted", "chain", "dropped"),
        ("corrected", "chain", "amount_mismatch")}
    assert conforms("GET", "/api/chats/{chat_id}/messages", r)


def test_changes_holding_a_message_in_every_settled_state_conform_to_the_spec(
        api: Server, scene: dict[str, Any]) -> None:
    r = api.get(f"/api/chats/{scene['group']}/changes?since_rev=0", scene["me"].token)
    assert len(r.json()["changes"]) == 4
    assert conforms("GET", "/api/chats/{chat_id}/changes", r)


def test_history_and_changes_holding_a_reply_reactions_and_a_deleted_message_conform_to_the_spec(
        api: Server, scene: dict[str, Any]) -> None:
    peer = Peer(api, scene["me"].token)
    try:
        first = peer.send(scene["dm"], "to reply to")["message"]
        reply = peer.send(scene["dm"], "a reply", reply_to=first["id"])["message"]
        for emoji in ("👍", "🎉"):
            assert peer.call("react", {"chat_id": scene["dm"], "message_id": reply["id"], "emoji": emoji,
                                       "action": "added"})["ok"]
        assert peer.call("delete", {"chat_id": scene["dm"], "message_id": first["id"]})["message"]["deleted"]
    finally:
        peer.close()
    r = api.get(f"/api/chats/{scene['dm']}/messages", scene["me"].token)
    shown = {m["id"]: m for m in r.json()["messages"]}
    assert shown[first["id"]]["deleted"] and shown[reply["id"]]["reaction_counts"] == {"👍": 1, "🎉": 1}
    assert shown[reply["id"]]["reply_to"] == first["id"]
    assert conforms("GET", "/api/chats/{chat_id}/messages", r)
    assert conforms("GET", "/api/chats/{chat_id}/changes", api.get(f"/api/chats/{scene['dm']}/changes", scene["me"].token))


def test_a_conflict_for_a_member_carries_the_chats_members_as_the_spec_says(api: Server, scene: dict[str, Any]) -> None:
    r = api.post("/api/chats", {"id": scene["registered"], "members": []}, scene["me"].token)
    assert (r.status_code, sorted(r.json()["error"]["members"])) == \
        (409, sorted([scene["me"].address, scene["friend"].address]))
    assert conforms("POST", "/api/chats", r)


def test_a_spent_chat_budget_is_answered_rate_limited_with_retry_after_ms_as_the_spec_says(
        make_server: Callable[..., Server]) -> None:
    stingy = make_server({"CHAT_RATE_PER_MIN": "1", "CHAT_RATE_BURST": "1"})
    me = Wallet().sign_in(stingy)
    assert stingy.post("/api/chats", {"members": []}, me.token).status_code == 201
    r = stingy.post("/api/chats", {"members": []}, me.token)
    error = r.json()["error"]
    assert (r.status_code, error["code"], error["retry_after_ms"] > 0) == (429, "rate_limited", True)
    assert conforms("POST", "/api/chats", r)


def test_a_page_of_chats_with_more_to_come_has_a_cursor_for_the_next(api: Server, scene: dict[str, Any]) -> None:
    first = api.get("/api/chats?limit=1", scene["friend"].token)
    assert (first.json()["has_more"], conforms("GET", "/api/chats", first)) == (True, True)
    after = api.get(f"/api/chats?limit=1&cursor={first.json()['next_cursor']}", scene["friend"].token)
    assert after.json()["chats"][0]["id"] != first.json()["chats"][0]["id"]


# --- server bugs found on the way: two fixed in api.py, one reported ---------------------------------------------

def test_a_method_a_path_does_not_serve_is_answered_405_with_the_methods_it_serves(api: Server) -> None:
    r = api.request("PUT", "/api/chats")
    assert (r.status_code, r.json()["error"]["code"]) == (405, "invalid")
    assert r.headers.get("Allow") == "GET, HEAD, OPTIONS, POST"


def test_a_position_is_no_cursor_however_large_only_a_sealed_next_cursor_is(
        api: Server, scene: dict[str, Any]) -> None:
    for position in (1, 2**63 - 1, 2**63):  # PostgreSQL's bigint once made the last of these a 500
        r = api.get(f"/api/chats?cursor={position}", scene["me"].token)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid")
        assert conforms("GET", "/api/chats", r)


def test_a_chat_title_holding_nul_is_invalid(api: Server, scene: dict[str, Any]) -> None:
    r = api.post("/api/chats", {"members": [], "title": "a\u0000b"}, scene["me"].token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid", r.text


# --- schemathesis against the real server ------------------------------------------------------------------------

def errors_are_in_the_contract_shape(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx/5xx body is {"error": {"code", "message", ...}}, its code the one the contract pairs with the status,
    `retry_after_ms` exactly with `rate_limited`, `members` only with `conflict` — except GET /api/health's 503,
    {"status": "unavailable", ...}, as docs/protocol.md says."""
    if response.status_code < 400 or (case.path == "/api/health" and response.status_code == 503):
        return None
    body = json.loads(response.content)
    assert isinstance(body, dict) and list(body) == ["error"], body
    error = body["error"]
    assert isinstance(error, dict) and isinstance(error.get("message"), str), body
    assert response.status_code in STATUSES_OF.get(error.get("code"), ()), (response.status_code, body)
    assert ("retry_after_ms" in error) == (error["code"] == "rate_limited"), body
    assert "members" not in error or error["code"] == "conflict", body
    assert set(error) <= {"code", "message", "retry_after_ms", "members"}, body
    return None


def point_at_the_scene(case: Any, scene: dict[str, Any]) -> None:
    """Generated chat ids almost never exist, so half of the valid cases are pointed at the scene's chats instead (the
    choice a function of the generated id: the run stays deterministic). Members are added to groups only (a DM's
    members cannot change: `invalid`, rightly) and removed from the group kept for that. A valid chat-list `cursor` is
    one the server sealed for the caller, so valid cases carry the scene's."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if "cursor" in (case.query or {}):
        case.query["cursor"] = scene["cursor"]
    keys = case.body.get("keys") if case.path == "/api/push/subscriptions" and isinstance(case.body, dict) else None
    if isinstance(keys, dict) and "p256dh" in keys:  # a schema can give the point's size, not that it is on the curve
        keys["p256dh"] = ON_THE_CURVE
    params = case.path_parameters or {}
    if "chat_id" not in params:
        return
    if case.method == "DELETE":
        pool = [scene["leavable"]]
    elif "/members" in case.path:
        pool = [scene["group"], scene["registered"]]
    else:
        pool = [scene["group"], scene["registered"], scene["dm"], scene["theirs"]]
    pick = zlib.crc32(str(params["chat_id"]).encode()) % (2 * len(pool))
    if pick < len(pool):
        params["chat_id"] = pool[pick]
        if "address" in params:
            params["address"] = (scene["friend"], scene["me"])[zlib.crc32(str(params["address"]).encode()) % 2].address


@SCHEMA.parametrize()
def test_generated_requests_get_only_documented_answers_and_never_a_server_error(
        case: Any, api: Server, scene: dict[str, Any]) -> None:
    """Schemathesis's checks — no 5xx, statuses, content types, headers and bodies as documented, invalid input
    refused, valid input not refused, auth not ignored, undeclared methods 405 — and the contract's error shape."""
    point_at_the_scene(case, scene)
    token = Wallet().sign_in(api).token if case.path == "/api/auth/logout" else scene["me"].token  # the scene's stays
    case.call_and_validate(base_url=api.url, headers={"Authorization": f"Bearer {token}"},
                           additional_checks=[errors_are_in_the_contract_shape])
