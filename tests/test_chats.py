"""Chats, membership and history over REST."""
from __future__ import annotations

import json

import pytest

from support import STORE, Peer, Wallet, new_chat, wait_until

CHAT_FIELDS = {"id", "members", "title", "created_by", "created_at", "last_seq", "rev",
               "last_message", "read_seq", "delivered_seq", "unread"}  # v1.2: as the caller sees it


def test_dm_id_is_the_same_for_the_pair_in_either_order_by_either_member(server, wallets):
    alice, bob = wallets(2)
    first = server.post("/api/chats", {"members": [bob.address]}, alice.token)
    assert first.status_code == 201
    chat = first.json()["chat"]
    assert set(chat) == CHAT_FIELDS
    again = server.post("/api/chats", {"members": [alice.address.lower(), bob.address]}, bob.token)
    assert again.status_code == 200 and again.json()["chat"] == chat
    assert sorted(chat["members"]) == sorted([alice.address, bob.address])
    assert chat["created_by"] == alice.address and chat["last_seq"] == 0 and chat["rev"] == 0


def test_caller_is_always_a_member(server, wallets):
    alice, bob, carol = wallets(3)
    chat = server.post("/api/chats", {"members": [bob.address, carol.address], "title": "trio"}, alice.token).json()["chat"]
    assert set(chat["members"]) == {alice.address, bob.address, carol.address} and chat["title"] == "trio"


def test_groups_without_id_are_always_new(server, wallets):
    alice, bob, carol = wallets(3)
    body = {"members": [bob.address, carol.address]}
    one = server.post("/api/chats", body, alice.token)
    two = server.post("/api/chats", body, alice.token)
    assert one.status_code == two.status_code == 201
    assert one.json()["chat"]["id"] != two.json()["chat"]["id"]


XMTP_GROUP = "aed8a9cc52ca1c02c03a6d90171b1fd9"


def register(server, wallet, chat_id, *others, **extra):
    return server.post("/api/chats", {"members": [w.address for w in others], "id": chat_id, **extra}, wallet.token)


def test_a_registered_id_is_created_once_and_given_back_to_a_member_asking_for_the_same_members(server, wallets):
    alice, bob = wallets(2)
    chat_id = XMTP_GROUP + alice.address[2:8]
    created = register(server, alice, chat_id, bob)
    assert created.status_code == 201 and created.json()["chat"]["id"] == chat_id
    again = register(server, bob, chat_id, alice, title="ignored")
    assert again.status_code == 200 and again.json()["chat"] == created.json()["chat"]


def test_a_member_asking_for_other_members_gets_conflict_with_the_chats_members(server, wallets):
    alice, bob, carol = wallets(3)
    chat_id = XMTP_GROUP + alice.address[2:8]
    chat = register(server, alice, chat_id, bob).json()["chat"]
    r = register(server, bob, chat_id, carol)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert sorted(r.json()["error"]["members"]) == sorted(chat["members"])
    assert server.get(f"/api/chats/{chat_id}", bob.token).json()["chat"] == chat, "nothing changed"


def test_an_id_squatted_with_its_owners_inside_is_a_conflict_for_them_naming_the_squatter(server, wallets):
    alice, bob, mallory = wallets(3)
    chat_id = XMTP_GROUP + alice.address[2:8]  # the id of Alice and Bob's XMTP conversation, registered first by Mallory
    assert register(server, mallory, chat_id, alice, bob).status_code == 201
    r = register(server, alice, chat_id, bob)
    assert r.status_code == 409 and mallory.address in r.json()["error"]["members"]


def test_someone_outside_a_registered_id_gets_conflict_without_its_members(server, wallets):
    alice, bob, mallory = wallets(3)
    chat_id = XMTP_GROUP + alice.address[2:8]
    register(server, alice, chat_id, bob)
    r = register(server, mallory, chat_id, alice)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict" and "members" not in r.json()["error"]


def test_dm_prefix_is_reserved(server, wallets):
    alice, bob = wallets(2)
    r = server.post("/api/chats", {"members": [bob.address], "id": "dm:squat"}, alice.token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("body", [
    {"members": ["0x123"]},
    {"members": "0xabc"},
    {},
    {"members": [], "id": "has space"},
    {"members": [], "title": 5},
    [1, 2],
])
def test_malformed_chat_creation_is_invalid(server, wallets, body):
    (alice,) = wallets(1)
    r = server.post("/api/chats", body, alice.token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


def test_a_member_adds_members_and_outsiders_cannot(server, wallets):
    alice, bob, carol, mallory = wallets(4)
    chat = new_chat(server, alice, bob, carol)
    r = server.post(f"/api/chats/{chat['id']}/members", {"members": [mallory.address]}, bob.token)
    assert r.status_code == 200 and mallory.address in r.json()["chat"]["members"]
    other = new_chat(server, alice, bob, carol)
    r = server.post(f"/api/chats/{other['id']}/members", {"members": [mallory.address]}, mallory.token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_list_shows_the_callers_chats_latest_message_first(server, wallets, peers):
    alice, bob, carol = wallets(3)
    older = new_chat(server, alice, bob)
    newer = new_chat(server, alice, carol)
    a = peers(server, alice)
    a.send(newer["id"], "first")
    a.send(older["id"], "latest")
    chats = server.get("/api/chats", alice.token).json()["chats"]
    assert [c["id"] for c in chats] == [older["id"], newer["id"]]
    assert [c["id"] for c in server.get("/api/chats", carol.token).json()["chats"]] == [newer["id"]]


def test_get_chat_is_members_only(server, wallets):
    alice, bob, mallory = wallets(3)
    chat = new_chat(server, alice, bob)
    assert server.get(f"/api/chats/{chat['id']}", bob.token).json()["chat"]["id"] == chat["id"]
    assert server.get(f"/api/chats/{chat['id']}", mallory.token).status_code == 403
    assert server.get("/api/chats/no-such-chat", mallory.token).status_code == 404


@pytest.fixture
def chat_with_120(server, wallets, peers):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    a = peers(server, alice)
    for i in range(120):
        a.sio.emit("send", {"chat_id": chat["id"], "client_id": f"h{i}", "body": str(i + 1)})
    a.send(chat["id"], "121")
    return chat, alice


def seqs(server, chat, wallet, query=""):
    body = server.get(f"/api/chats/{chat['id']}/messages{query}", wallet.token).json()
    return [m["seq"] for m in body["messages"]], body["has_more"]


def test_history_without_cursor_is_the_latest_page_ascending(server, chat_with_120):
    chat, alice = chat_with_120
    assert seqs(server, chat, alice) == (list(range(72, 122)), True)
    assert seqs(server, chat, alice, "?limit=200") == (list(range(1, 122)), False)


def test_history_before_pages_backwards(server, chat_with_120):
    chat, alice = chat_with_120
    assert seqs(server, chat, alice, "?before=72&limit=50") == (list(range(22, 72)), True)
    assert seqs(server, chat, alice, "?before=22&limit=50") == (list(range(1, 22)), False)


def test_history_after_pages_forwards(server, chat_with_120):
    chat, alice = chat_with_120
    assert seqs(server, chat, alice, "?after=0&limit=100") == (list(range(1, 101)), True)
    assert seqs(server, chat, alice, "?after=100&limit=100") == (list(range(101, 122)), False)


def test_history_between_after_and_before(server, chat_with_120):
    chat, alice = chat_with_120
    assert seqs(server, chat, alice, "?after=10&before=20&limit=5") == ([11, 12, 13, 14, 15], True)
    assert seqs(server, chat, alice, "?after=10&before=20") == (list(range(11, 20)), False)


@pytest.mark.parametrize("query", ["?limit=0", "?limit=201", "?limit=x", "?before=-1", "?after=1.5"])
def test_history_with_bad_paging_is_invalid(server, wallets, query):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    r = server.get(f"/api/chats/{chat['id']}/messages{query}", alice.token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


def test_history_is_members_only(server, wallets):
    alice, bob, mallory = wallets(3)
    chat = new_chat(server, alice, bob)
    r = server.get(f"/api/chats/{chat['id']}/messages", mallory.token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_health_needs_no_auth(server):
    r = server.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_unknown_route_is_not_found_in_the_error_shape(server):
    r = server.get("/api/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_request_over_64_kib_is_too_large(server, wallets):
    (alice,) = wallets(1)
    r = server.post("/api/chats", {"members": [], "title": "x" * 70_000}, alice.token)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_cors_headers_only_for_allowed_origins(server):
    allowed = server.get("/api/health", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    other = server.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_preflight_is_answered_for_allowed_origins(server):
    r = server.request("OPTIONS", "/api/chats", headers={
        "Origin": "http://127.0.0.1:3000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("query", ["?limit=²", "?before=³", "?after=١٢", "?limit=５", "?before=" + "9" * 5000])
def test_history_paging_takes_ascii_digits_only(server, wallets, query):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    r = server.get(f"/api/chats/{chat['id']}/messages{query}", alice.token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


def test_chunked_request_over_64_kib_is_too_large(server, wallets):
    (alice,) = wallets(1)
    body = b'{"members": [], "title": "x"' + b" " * 70_000 + b"}"
    r = server.post("/api/chats", token=alice.token, data=iter([body[:30_000], body[30_000:]]),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


def test_chunked_request_within_the_limit_is_served(server, wallets):
    alice, bob = wallets(2)
    body = json.dumps({"members": [bob.address], "id": f"chunked-{alice.address[2:10]}"}).encode()
    r = server.post("/api/chats", token=alice.token, data=iter([body[:10], body[10:]]),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 201


def test_a_dm_cannot_gain_members(server, wallets):
    alice, bob, carol = wallets(3)
    dm = new_chat(server, alice, bob)
    r = server.post(f"/api/chats/{dm['id']}/members", {"members": [carol.address]}, alice.token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
    assert server.get(f"/api/chats/{dm['id']}/messages", carol.token).status_code == 403


def test_chat_size_is_capped(make_server):
    server = make_server({"MAX_MEMBERS": "3"})
    alice, bob, carol, dave = (Wallet().sign_in(server) for _ in range(4))
    chat = new_chat(server, alice, bob, carol)
    r = server.post(f"/api/chats/{chat['id']}/members", {"members": [dave.address]}, alice.token)
    assert r.status_code == 400 and "3" in r.json()["error"]["message"]
    too_big = server.post("/api/chats", {"members": [bob.address, carol.address, dave.address]}, alice.token)
    assert too_big.status_code == 400


def group(server, creator, *others) -> dict:
    return new_chat(server, creator, *others, Wallet())  # a third member makes it a group, not a DM


def remove(server, caller, chat_id, address):
    return server.request("DELETE", f"/api/chats/{chat_id}/members/{address}", caller.token)


def test_a_member_leaves_a_group_and_is_forbidden_from_then_on(server, wallets, peers):
    alice, bob = wallets(2)
    chat = group(server, alice, bob)
    r = remove(server, bob, chat["id"], bob.address.lower())
    assert r.status_code == 200 and bob.address not in r.json()["chat"]["members"]
    assert server.get(f"/api/chats/{chat['id']}", bob.token).json()["error"]["code"] == "forbidden"
    assert peers(server, bob).send(chat["id"])["error"]["code"] == "forbidden"
    assert chat["id"] not in [c["id"] for c in server.get("/api/chats", bob.token).json()["chats"]]
    assert server.get(f"/api/chats/{chat['id']}", alice.token).json()["chat"]["members"] == r.json()["chat"]["members"]


def test_a_groups_creator_may_remove_others_and_nobody_else_may(server, wallets):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob, carol)
    refused = remove(server, bob, chat["id"], carol.address)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert remove(server, alice, chat["id"], carol.address).status_code == 200
    assert server.get(f"/api/chats/{chat['id']}", carol.token).status_code == 403


def test_a_dms_members_cannot_be_removed(server, wallets):
    alice, bob = wallets(2)
    chat = new_chat(server, alice, bob)
    for who in (alice, bob):
        r = remove(server, alice, chat["id"], who.address)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize("target, code", [("0x" + "1" * 40, "not_found"), ("0x123", "invalid")])
def test_removing_a_non_member_or_a_malformed_address_changes_nothing(server, wallets, target, code):
    alice, bob = wallets(2)
    chat = group(server, alice, bob)
    r = remove(server, alice, chat["id"], target)
    assert r.json()["error"]["code"] == code
    assert server.get(f"/api/chats/{chat['id']}", alice.token).json()["chat"]["members"] == chat["members"]


def test_removal_by_someone_outside_the_chat_is_forbidden(server, wallets):
    alice, bob, mallory = wallets(3)
    chat = group(server, alice, bob)
    assert remove(server, mallory, chat["id"], bob.address).json()["error"]["code"] == "forbidden"


def test_a_removed_member_hears_of_it_last_and_its_sockets_get_nothing_more(server, wallets, peers):
    alice, bob = wallets(2)
    chat = group(server, alice, bob)
    a, b1, b2 = peers(server, alice), peers(server, bob), peers(server, bob)
    for peer in (a, b1, b2):
        peer.join(chat["id"])
    assert remove(server, alice, chat["id"], bob.address).status_code == 200
    for peer in (b1, b2):
        update = peer.wait("chat:update")
        assert update["id"] == chat["id"] and bob.address not in update["members"]
    assert a.wait("presence", lambda p: p["address"] == bob.address and not p["online"])
    assert a.wait("chat:update")["members"] == update["members"]
    after = a.send(chat["id"], "after bob left")["message"]
    a.wait("message", lambda m: m["id"] == after["id"])
    marker = peers(server, bob)  # a socket of bob's that joins nothing: its events end where b1's and b2's would
    assert marker.call("join", {"chat_id": chat["id"]})["error"]["code"] == "forbidden"
    assert [m["body"] for m in b1.received("message") + b2.received("message")] == []


def test_member_changes_reach_every_socket_following_the_chat(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    b = peers(server, bob)
    b.join(chat["id"])
    assert server.post(f"/api/chats/{chat['id']}/members", {"members": [carol.address]}, alice.token).status_code == 200
    assert carol.address in b.wait("chat:update")["members"]


@pytest.fixture
def frugal(make_server):
    """Three chat creations or member changes, then one per 20 minutes: no refill within a test."""
    return make_server({"CHAT_RATE_PER_MIN": "0.05", "CHAT_RATE_BURST": "3"})


def test_chat_creation_and_member_changes_share_a_per_address_budget(frugal):
    alice, bob, carol = Wallet().sign_in(frugal), Wallet().sign_in(frugal), Wallet().sign_in(frugal)
    chat = new_chat(frugal, alice, bob, carol)
    assert frugal.post(f"/api/chats/{chat['id']}/members", {"members": [Wallet().address]}, alice.token).ok
    assert frugal.request("DELETE", f"/api/chats/{chat['id']}/members/{carol.address}", alice.token).ok
    r = frugal.post("/api/chats", {"members": [bob.address]}, alice.token)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert 0 < r.json()["error"]["retry_after_ms"] <= 20 * 60 * 1000
    assert frugal.post("/api/chats", {"members": [alice.address]}, bob.token).status_code == 201, "bob has his own budget"


def test_malformed_chat_requests_spend_the_budget_too(frugal):
    alice = Wallet().sign_in(frugal)
    assert frugal.post("/api/chats", {"members": "nobody"}, alice.token).status_code == 400
    assert frugal.post("/api/chats/x/members", {"members": 7}, alice.token).status_code == 400
    assert frugal.request("DELETE", "/api/chats/x/members/not-an-address", alice.token).status_code == 400
    r = frugal.post("/api/chats", {"members": [Wallet().address]}, alice.token)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"


def test_the_chat_list_comes_in_pages_latest_first(server, wallets, peers):
    alice, bob = wallets(2)
    chats = [group(server, alice, bob)["id"] for _ in range(5)]
    peers(server, alice).send(chats[0], "makes it the latest")
    expected = [chats[0], *reversed(chats[1:])]
    seen, cursor = [], None
    while True:
        page = server.get("/api/chats?limit=2" + (f"&cursor={cursor}" if cursor else ""), alice.token).json()
        assert len(page["chats"]) <= 2
        seen += [c["id"] for c in page["chats"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == expected


def next_cursor(server, wallet, cursor=None) -> str:
    page = server.get("/api/chats?limit=1" + (f"&cursor={cursor}" if cursor else ""), wallet.token).json()
    assert page["has_more"], page
    return page["next_cursor"]


def test_the_chat_list_cursor_says_nothing_of_anyone_elses_traffic(server, wallets, peers):
    alice, bob, carol, dave = wallets(4)
    for _ in range(3):
        group(server, alice, bob)
    before = next_cursor(server, alice)
    others = group(server, carol, dave)
    talk = peers(server, carol)
    for i in range(5):
        talk.send(others["id"], f"traffic {i}")
    after = next_cursor(server, alice)
    assert not before.isdigit() and not after.isdigit(), "a number would count everyone's writes"
    assert before != after != next_cursor(server, alice), "the same position never reads the same twice"


def test_a_chat_list_cursor_pages_for_its_own_caller_alone_and_a_tampered_one_is_invalid(server, wallets):
    alice, bob = wallets(2)
    chats = [group(server, alice, bob)["id"] for _ in range(2)]
    cursor = next_cursor(server, alice)
    tampered = cursor[:20] + ("A" if cursor[20] != "A" else "B") + cursor[21:]
    for wallet, sent in ((bob, cursor), (alice, tampered), (alice, cursor + "A")):
        r = server.get(f"/api/chats?limit=1&cursor={sent}", wallet.token)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid", (wallet.address, sent, r.text)
    page = server.get(f"/api/chats?limit=1&cursor={cursor}", alice.token).json()
    assert [c["id"] for c in page["chats"]] == [chats[0]]


def test_the_chat_list_is_100_at_most_by_default(server, wallets):
    (alice,) = wallets(1)
    page = server.get("/api/chats", alice.token).json()
    assert page == {"chats": [], "has_more": False, "next_cursor": None}


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "cursor=-1", "cursor=abc", "cursor=1"])
def test_a_bad_page_of_the_chat_list_is_invalid(server, wallets, query):
    (alice,) = wallets(1)
    r = server.get(f"/api/chats?{query}", alice.token)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


# v1.2: a member added to an existing chat sees it from that point on, unless the adder shares its history.

def add(server, caller, chat_id, *others, **extra):
    return server.post(f"/api/chats/{chat_id}/members", {"members": [w.address for w in others], **extra}, caller.token)


def bodies(server, chat_id, wallet, query=""):
    r = server.get(f"/api/chats/{chat_id}/messages{query}", wallet.token)
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"]]


def test_a_member_added_later_sees_the_chat_from_then_on_everywhere(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    a = peers(server, alice)
    a.join(chat["id"])
    old = [a.send(chat["id"], f"before carol {i}")["message"] for i in range(3)]
    added = add(server, alice, chat["id"], carol)
    assert added.status_code == 200 and added.json()["chat"]["last_seq"] == 3, "last_seq stays the chat's"
    assert bodies(server, chat["id"], carol) == [] and bodies(server, chat["id"], carol, "?after=0") == []
    assert bodies(server, chat["id"], carol, "?before=3") == []
    changes = server.get(f"/api/chats/{chat['id']}/changes?since_rev=0", carol.token).json()
    assert changes == {"changes": [], "has_more": False}
    c = peers(server, carol)
    joined = c.join(chat["id"])
    assert joined["changes"] == [] and not joined["has_more"] and joined["chat"]["last_seq"] == 3
    assert c.join(chat["id"], since_rev=0)["changes"] == []
    # A change to an earlier message (here its XMTP id; settlement is another) reaches the others, not carol.
    ack = a.call("attest", {"chat_id": chat["id"], "message_id": old[0]["id"], "xmtp_id": "x-old"})
    assert ack["ok"]
    new = a.send(chat["id"], "after carol")["message"]
    assert c.wait("message", lambda m: m["id"] == new["id"])["seq"] == 4
    assert c.received("message:update") == [] and [m["id"] for m in c.received("message")] == [new["id"]]
    assert a.wait("message:update", lambda m: m["id"] == old[0]["id"])
    assert bodies(server, chat["id"], carol) == ["after carol"]
    assert [m["seq"] for m in c.join(chat["id"], since_rev=0)["changes"]] == [4]
    assert bodies(server, chat["id"], bob) == [m["body"] for m in old] + ["after carol"], "first members see it all"


def test_an_adder_may_share_as_much_history_as_it_sees(server, wallets, peers):
    alice, bob, carol, dave, eve = wallets(5)
    chat = group(server, alice, bob)
    a = peers(server, alice)
    for body in ("one", "two"):
        a.send(chat["id"], body)
    assert add(server, alice, chat["id"], carol).status_code == 200  # carol: from seq 3 on
    a.send(chat["id"], "three")
    assert add(server, bob, chat["id"], dave, share_history=True).status_code == 200
    assert bodies(server, chat["id"], dave) == ["one", "two", "three"]
    assert add(server, carol, chat["id"], eve, share_history=True).status_code == 200
    assert bodies(server, chat["id"], eve) == ["three"], "at most what the adder sees"
    assert add(server, alice, chat["id"], Wallet().sign_in(server), share_history=False).status_code == 200


@pytest.mark.parametrize("share", ["yes", 1, None, [True]])
def test_share_history_must_be_true_or_false(server, wallets, share):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    r = add(server, alice, chat["id"], carol, share_history=share)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"
    assert "share_history" in r.json()["error"]["message"]
    assert carol.address not in server.get(f"/api/chats/{chat['id']}", alice.token).json()["chat"]["members"]


def test_a_member_added_back_starts_again_from_then_and_its_own_earlier_messages_are_not_found(server, wallets, peers):
    alice, bob = wallets(2)
    chat = group(server, alice, bob)
    b = peers(server, bob)
    mine = b.send(chat["id"], "bob's before he left")["message"]
    assert remove(server, bob, chat["id"], bob.address).status_code == 200
    peers(server, alice).send(chat["id"], "while bob was away")
    assert add(server, alice, chat["id"], bob).status_code == 200
    assert bodies(server, chat["id"], bob) == []
    ack = b.call("attest", {"chat_id": chat["id"], "message_id": mine["id"], "xmtp_id": "x-1"})
    assert ack["error"]["code"] == "not_found"
    assert b.send(chat["id"], "again", client_id=mine["client_id"])["error"]["code"] == "conflict"  # not its answer
    assert bodies(server, chat["id"], bob) == []


# v1.2: when a chat's last member leaves, its history is erased and its id is free again.

def test_a_chat_whose_last_member_left_is_erased_and_its_id_starts_again_after_it(make_server, tmp_path):
    srv = make_server()
    alice, bob, carol, mallory = (Wallet().sign_in(srv) for _ in range(4))
    chat_id = XMTP_GROUP + "e1"
    assert register(srv, alice, chat_id, bob, carol).status_code == 201
    a = Peer(srv, alice.token)
    try:
        sent = [a.send(chat_id, f"secret {i} of the erased chat", client_id=f"erased-{i}")["message"] for i in range(3)]
        a.call("attest", {"chat_id": chat_id, "message_id": sent[0]["id"], "xmtp_id": "x-erased"})
    finally:
        a.close()
    last = srv.get(f"/api/chats/{chat_id}", alice.token).json()["chat"]
    assert remove(srv, alice, chat_id, bob.address).status_code == 200
    assert remove(srv, carol, chat_id, carol.address).status_code == 200
    gone = remove(srv, alice, chat_id, alice.address)
    assert gone.status_code == 200 and gone.json()["chat"]["members"] == []
    assert srv.get(f"/api/chats/{chat_id}", alice.token).json()["error"]["code"] == "not_found"
    if STORE == "jsonl":  # the log is rewritten without it at once (the first erasure since the server started)
        wait_until(lambda: b"erased chat" not in srv.data_file.read_bytes(), what="the erased text gone from the log")

    def check_continuation(srv):
        again = register(srv, mallory, chat_id)
        assert again.status_code == 201, again.text
        chat = again.json()["chat"]
        assert chat["members"] == [mallory.address] and chat["created_by"] == mallory.address
        m = Peer(srv, mallory.token)
        try:
            assert m.join(chat_id)["changes"] == []
            first = m.send(chat_id, "a new chat", client_id="erased-0")["message"]  # an erased key is free again
            assert first["seq"] > last["last_seq"] and first["rev"] > last["rev"]
            assert first["id"] not in {s["id"] for s in sent} and first["body"] == "a new chat"
            ack = m.call("attest", {"chat_id": chat_id, "message_id": sent[1]["id"], "xmtp_id": "x"})
            assert ack["error"]["code"] == "not_found"
        finally:
            m.close()
        assert bodies(srv, chat_id, mallory) == bodies(srv, chat_id, mallory, "?after=0") == ["a new chat"]
        changes = srv.get(f"/api/chats/{chat_id}/changes?since_rev=0", mallory.token).json()["changes"]
        assert [c["body"] for c in changes] == ["a new chat"]
        return first

    srv.stop()
    srv.start()  # what was erased stays erased, and the new chat continues after it
    first = check_continuation(srv)
    srv.stop()
    srv.start()
    assert bodies(srv, chat_id, mallory) == ["a new chat"]
    assert srv.get(f"/api/chats/{chat_id}", mallory.token).json()["chat"]["last_seq"] == first["seq"]
    if STORE == "jsonl":
        assert b"erased chat" not in srv.data_file.read_bytes()


def test_the_last_member_of_a_chat_that_others_left_may_leave_and_anyone_may_register_it(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat_id = XMTP_GROUP + alice.address[2:10]
    register(server, alice, chat_id, bob)
    sent = peers(server, bob).send(chat_id, "to be erased")["message"]
    assert remove(server, alice, chat_id, bob.address).status_code == 200
    assert remove(server, alice, chat_id, alice.address).json()["chat"]["members"] == []
    assert server.get(f"/api/chats/{chat_id}/messages", bob.token).json()["error"]["code"] == "not_found"
    again = register(server, carol, chat_id, alice)
    assert again.status_code == 201 and again.json()["chat"]["last_seq"] == sent["seq"]
    assert bodies(server, chat_id, alice) == [] and bodies(server, chat_id, carol) == []


def test_an_erased_chats_pending_settlements_are_dropped_harmlessly(make_server):
    srv = make_server({"XMTP_GRACE_S": "3"})  # long enough not to settle them first: they wait when erased
    alice, bob = Wallet().sign_in(srv), Wallet().sign_in(srv)
    chat_id = XMTP_GROUP + "e2"
    assert register(srv, alice, chat_id, bob).status_code == 201
    a = Peer(srv, alice.token)
    try:
        for i in range(3):
            assert a.send(chat_id, f"pending {i}")["message"]["status"] == "provisional"
    finally:
        a.close()
    provisional = lambda n: lambda: (r := srv.get("/api/health").json()["reconciler"])["provisional"] == n and r
    health = wait_until(provisional(3), what="health to count the three waiting")  # counted at most a second late
    for who in (bob, alice):
        assert remove(srv, who, chat_id, who.address).status_code == 200
    wait_until(provisional(0), what="health to count none waiting once the chat is erased")
    rounds = srv.get("/api/health").json()["reconciler"]["rounds"]
    past_grace = lambda: srv.get("/api/health").json()["reconciler"]["rounds"] > rounds + 20
    wait_until(past_grace, what="rounds past the grace")
    after = srv.get("/api/health").json()["reconciler"]
    assert after["errors"] == health["errors"] == 0 and after["provisional"] == 0
    assert "Traceback" not in srv.log() and "cannot settle" not in srv.log()


def test_paging_forward_from_the_start_gives_the_first_page_a_late_member_may_see(server, wallets, peers):
    alice, bob, carol = wallets(3)
    chat = group(server, alice, bob)
    a = peers(server, alice)
    for i in range(5):
        a.send(chat["id"], f"before carol {i}")
    assert add(server, alice, chat["id"], carol).status_code == 200  # carol: from seq 6 on
    for i in range(5):
        a.send(chat["id"], f"after carol {i}")
    assert seqs(server, chat, carol, "?after=0&limit=3") == ([6, 7, 8], True)
    assert seqs(server, chat, carol, "?after=8&limit=3") == ([9, 10], False)
    assert seqs(server, chat, carol, "?after=0&limit=5") == ([6, 7, 8, 9, 10], False)
    assert seqs(server, chat, carol, "?after=0&before=9&limit=2") == ([6, 7], True)
    assert seqs(server, chat, carol, "?after=0&before=9&limit=3") == ([6, 7, 8], False)


def test_paging_forward_from_the_start_of_a_chat_recreated_after_an_erasure(server, wallets, peers):
    alice, bob = wallets(2)
    chat_id = XMTP_GROUP + alice.address[2:10]
    register(server, alice, chat_id)
    peers(server, alice).send(chat_id, "erased")
    assert remove(server, alice, chat_id, alice.address).json()["chat"]["members"] == []
    chat = register(server, bob, chat_id).json()["chat"]
    b = peers(server, bob)
    sent = [b.send(chat_id, f"new {i}")["message"]["seq"] for i in range(3)]
    assert sent[0] > 1
    assert seqs(server, chat, bob, "?after=0&limit=2") == (sent[:2], True)
    assert seqs(server, chat, bob, f"?after={sent[1]}&limit=2") == (sent[2:], False)
    assert seqs(server, chat, bob, "?after=0&limit=3") == (sent, False)
