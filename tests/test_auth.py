"""Sign-in with Ethereum over REST, and the tokens that come of it."""
from __future__ import annotations

import re

from optimistic_messaging.auth import Identity, Nonces, Tokens

from support import Wallet, iso_now, new_chat, siwe_text, wait_until


def nonce(server) -> str:
    return server.get("/api/auth/nonce").json()["nonce"]


def verify(server, wallet: Wallet, text: str, signature: str | None = None):
    return server.post("/api/auth/verify", {"message": text, "signature": signature or wallet.sign(text)})


def test_nonce_is_alphanumeric_and_at_least_8_characters(server):
    r = server.get("/api/auth/nonce")
    assert r.status_code == 200 and re.fullmatch(r"[A-Za-z0-9]{8,}", r.json()["nonce"])


def test_nonces_are_unique(server):
    assert len({nonce(server) for _ in range(20)}) == 20


def test_valid_sign_in_returns_token_checksummed_address_and_expiry(server):
    wallet = Wallet()
    text = siwe_text(wallet.address.lower(), nonce(server))
    r = verify(server, wallet, text)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["address"] == wallet.address
    assert isinstance(body["expires_at"], int) and body["token"]
    assert server.get("/api/chats", body["token"]).status_code == 200


def test_nonce_is_single_use(server):
    wallet = Wallet()
    text = siwe_text(wallet.address, nonce(server))
    assert verify(server, wallet, text).status_code == 200
    r = verify(server, wallet, text)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_a_failed_attempt_uses_the_nonce_up(server):
    wallet, other = Wallet(), Wallet()
    text = siwe_text(wallet.address, nonce(server))
    assert verify(server, wallet, text, other.sign(text)).status_code == 401
    assert verify(server, wallet, text).status_code == 401


def test_nonce_not_issued_by_this_server_is_unauthorized(server):
    wallet = Wallet()
    r = verify(server, wallet, siwe_text(wallet.address, "abcdefgh12345678"))
    assert r.status_code == 401 and "Nonce" in r.json()["error"]["message"]


def test_signature_by_another_key_is_unauthorized(server):
    wallet, other = Wallet(), Wallet()
    text = siwe_text(wallet.address, nonce(server))
    r = verify(server, wallet, text, other.sign(text))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_malformed_signature_is_unauthorized(server):
    wallet = Wallet()
    r = verify(server, wallet, siwe_text(wallet.address, nonce(server)), "0x1234")
    assert r.status_code == 401


def test_domain_not_allowed_is_unauthorized(server):
    wallet = Wallet()
    r = verify(server, wallet, siwe_text(wallet.address, nonce(server), domain="evil.example"))
    assert r.status_code == 401 and "evil.example" in r.json()["error"]["message"]


def test_expired_message_is_unauthorized(server):
    wallet = Wallet()
    text = siwe_text(wallet.address, nonce(server), extra=f"\nExpiration Time: {iso_now(-60)}")
    r = verify(server, wallet, text)
    assert r.status_code == 401 and "Expiration Time" in r.json()["error"]["message"]


def test_message_not_valid_yet_is_unauthorized(server):
    wallet = Wallet()
    text = siwe_text(wallet.address, nonce(server), extra=f"\nExpiration Time: {iso_now(600)}\nNot Before: {iso_now(300)}")
    r = verify(server, wallet, text)
    assert r.status_code == 401 and "Not Before" in r.json()["error"]["message"]


def test_message_within_its_validity_window_signs_in(server):
    wallet = Wallet()
    text = siwe_text(wallet.address, nonce(server), extra=f"\nExpiration Time: {iso_now(600)}\nNot Before: {iso_now(-60)}")
    assert verify(server, wallet, text).status_code == 200


def test_any_chain_id_is_accepted(server):
    wallet = Wallet()
    text = siwe_text(wallet.address, nonce(server)).replace("Chain ID: 42220", "Chain ID: 1")
    assert verify(server, wallet, text).status_code == 200


def test_unparseable_message_is_unauthorized(server):
    wallet = Wallet()
    r = verify(server, wallet, f"hello\nNonce: {nonce(server)}")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_verify_with_malformed_json_is_invalid(server):
    r = server.post("/api/auth/verify", data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


def test_verify_with_missing_fields_is_invalid(server):
    r = server.post("/api/auth/verify", {"message": "x"})
    assert r.status_code == 400 and "signature" in r.json()["error"]["message"]


def test_rest_without_token_or_with_a_bad_one_is_unauthorized(server):
    for token in (None, "garbage"):
        r = server.get("/api/chats", token)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_token_expires_after_its_ttl():
    tokens = Tokens("k" * 32, ttl_s=0)
    assert tokens.verify(tokens.issue("0x" + "1" * 40).token) is None
    live = Tokens("k" * 32, ttl_s=60)
    session = live.issue("0xabc")
    assert live.verify(session.token) == Identity("0xabc", session.expires_at)


def test_token_signed_with_another_key_is_rejected():
    assert Tokens("other-key", 60).verify(Tokens("k" * 32, 60).issue("0xabc").token) is None


def test_nonce_is_consumed_once():
    nonces = Nonces("k" * 32)
    n = nonces.issue()
    assert nonces.consume(n) is True and nonces.consume(n) is False


def test_nonce_signed_by_another_server_or_altered_is_refused():
    n = Nonces("other").issue()
    assert Nonces("k" * 32).consume(n) is False
    mine = Nonces("k" * 32)
    good = mine.issue()
    assert mine.consume(good[:-1] + ("0" if good[-1] != "0" else "1")) is False


def test_nonce_older_than_five_minutes_is_refused(monkeypatch):
    nonces = Nonces("k" * 32)
    n = nonces.issue()
    import optimistic_messaging.auth as auth
    monkeypatch.setattr(auth, "now_ms", lambda: int(n[:12], 16) + 5 * 60 * 1000 + 1)
    assert nonces.consume(n) is False


def test_nonce_in_the_statement_is_not_the_one_checked(server):
    wallet = Wallet()
    decoy, real = nonce(server), "abcdef0123456789"
    text = siwe_text(wallet.address, real).replace("Sign in to Optimistic Messaging", f"Nonce: {decoy}")
    assert verify(server, wallet, text).status_code == 401
    clean = siwe_text(wallet.address, decoy)
    assert verify(server, wallet, clean).status_code == 200, "the decoy nonce was not used up by someone else's text"


def test_unparseable_message_still_uses_up_its_nonce(server):
    wallet = Wallet()
    n = nonce(server)
    assert verify(server, wallet, f"garbage\nNonce: {n}").status_code == 401
    assert verify(server, wallet, siwe_text(wallet.address, n)).status_code == 401


def test_nonce_issued_before_a_restart_is_refused(monkeypatch):
    import optimistic_messaging.auth as auth
    before = Nonces("k" * 32).issue()
    monkeypatch.setattr(auth, "now_ms", lambda: int(before[:12], 16) + 1)  # the restart comes a millisecond later
    assert Nonces("k" * 32).consume(before) is False


def test_a_socket_cannot_outlive_its_session(make_server, peers):
    server = make_server({"TOKEN_TTL_S": "4", "RATE_PER_S": "1000", "RATE_BURST": "1000"})
    alice, bob = Wallet(), Wallet().sign_in(server)
    chat = new_chat(server, bob, alice)
    peer = peers(server, alice.sign_in(server))  # alice's 4 s start here, with nothing else to set up
    assert peer.send(chat["id"])["ok"]
    expired = wait_until(lambda: (ack := peer.send(chat["id"]))["ok"] is False and ack, 15, "the session to expire")
    assert expired["error"]["code"] == "unauthorized" and "expired" in expired["error"]["message"]
