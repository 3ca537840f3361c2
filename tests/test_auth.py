"""Sign-in with Ethereum over REST, and the tokens that come of it."""
from __future__ import annotations

import re

import pytest

from optimistic_messaging.auth import Auth, Identity, Nonces, Revocations, Tokens
from optimistic_messaging.config import Config
from optimistic_messaging.errors import ApiError
from optimistic_messaging.nonces import LocalUsedNonces
from optimistic_messaging.store.jsonl import JsonlStore

from support import FakeClock, Wallet, iso_now, siwe_text


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
    clock = FakeClock()
    tokens = Tokens("k" * 32, ttl_s=60, max_age_s=3600, clock=clock)
    session = tokens.issue("0xabc")
    identity = tokens.verify(session.token)
    assert identity == Identity("0xabc", session.expires_at, clock.ms, identity.session) and len(identity.session) >= 16
    clock.advance(60_000)
    assert tokens.verify(session.token) is None


def test_token_signed_with_another_key_is_rejected():
    clock = FakeClock()
    assert Tokens("other-key", 60, 60, clock).verify(Tokens("k" * 32, 60, 60, clock).issue("0xabc").token) is None


def nonces(clock: FakeClock, key: str = "k" * 32) -> Nonces:
    return Nonces(key, LocalUsedNonces(clock), clock)


def test_nonce_is_consumed_once():
    clock = FakeClock()
    issuer = nonces(clock)
    n = issuer.issue()
    assert issuer.consume(n) is True and issuer.consume(n) is False


def test_nonce_signed_by_another_server_or_altered_is_refused():
    clock = FakeClock()
    assert nonces(clock).consume(nonces(clock, "other").issue()) is False
    mine = nonces(clock)
    good = mine.issue()
    assert mine.consume(good[:-1] + ("0" if good[-1] != "0" else "1")) is False


def test_nonce_older_than_five_minutes_is_refused():
    clock = FakeClock()
    issuer = nonces(clock)
    n = issuer.issue()
    clock.advance(5 * 60 * 1000 + 1)
    assert issuer.consume(n) is False


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


def test_nonce_issued_before_a_restart_is_refused():
    clock = FakeClock()
    before = nonces(clock).issue()
    clock.advance(1)  # the restart comes a millisecond later: a new process, which never saw what was used before
    assert nonces(clock).consume(before) is False


def test_a_session_is_renewed_without_signing_until_its_maximum_age(tmp_path):
    clock = FakeClock()
    auth = Auth(Config(secret_key="k" * 32, token_ttl_s=100, session_max_age_s=250), LocalUsedNonces(clock), clock,
                Revocations(JsonlStore(tmp_path / "log"), clock))
    start = clock.ms
    session = auth.tokens.issue("0xabc")
    clock.advance(60_000)
    renewed = auth.renew(session.token)
    assert renewed.expires_at == clock.ms + 100_000 and auth.identify(renewed.token).signed_in_at == start
    clock.advance(90_000)
    assert auth.renew(renewed.token).expires_at == start + 250_000, "never past the session's maximum age"
    clock.advance(100_000)
    with pytest.raises(ApiError) as refused:
        auth.renew(auth.renew(renewed.token).token)
    assert refused.value.code == "unauthorized"


def test_renew_over_rest_gives_a_working_token_and_refuses_a_bad_one(server, wallets):
    (alice,) = wallets(1)
    r = server.post("/api/auth/renew", token=alice.token)
    assert r.status_code == 200 and r.json()["address"] == alice.address
    assert server.get("/api/chats", r.json()["token"]).status_code == 200
    assert server.post("/api/auth/renew", token="garbage").status_code == 401
    assert server.post("/api/auth/renew").status_code == 401


@pytest.mark.parametrize("ending", ["\r\n", "\r"])
def test_a_message_with_other_line_endings_is_refused_and_uses_its_nonce_up(server, ending):
    wallet = Wallet()
    n = nonce(server)
    assert verify(server, wallet, siwe_text(wallet.address, n).replace("\n", ending)).status_code == 401
    assert verify(server, wallet, siwe_text(wallet.address, n)).status_code == 401
