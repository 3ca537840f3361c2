"""Sign-in by transaction over REST against a real chain (anvil), for wallets that cannot sign messages (MiniPay)."""
from __future__ import annotations

import os
import threading
from typing import Any, Iterator

import pytest
import requests
from requests.adapters import HTTPAdapter

from chain import Anvil, signed_tx
from support import TIMEOUT, Server, Wallet, free_port, wait_until

DOMAIN = "localhost:3000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("tx-sign-in"), {"CHAIN_RPC_URL": anvil.url, "SIGNIN_TX_WAIT_S": "2",
                                                         "SIGNIN_TX_PROOF": "optional"}).start()  # plain nonces too
    yield srv
    srv.stop()


@pytest.fixture
def funded(anvil: Anvil) -> Wallet:
    """A fresh key with gas money and nothing else: the MiniPay user's own wallet."""
    wallet = Wallet()
    anvil.rpc("anvil_setBalance", wallet.address, hex(10**18))
    return wallet


def nonce(server: Server) -> str:
    return server.get("/api/auth/nonce").json()["nonce"]


def text(n: str, domain: str = DOMAIN) -> bytes:
    return f"optimistic-messaging sign-in {domain} {n}".encode()


def sent(anvil: Anvil, wallet: Wallet, data: bytes, **tx: Any) -> str:
    raw, tx_hash = signed_tx(wallet, data=data, nonce=int(anvil.rpc("eth_getTransactionCount", wallet.address,
                                                                    "pending"), 16), **tx)
    assert anvil.rpc("eth_sendRawTransaction", raw) == tx_hash
    return tx_hash


def verify_tx(server: Server, tx_hash: Any):
    return server.post("/api/auth/verify-tx", {"tx_hash": tx_hash})


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "eip1559"])
def test_a_zero_value_transaction_to_oneself_naming_a_nonce_signs_in(server, anvil, funded, legacy):
    r = verify_tx(server, sent(anvil, funded, text(nonce(server)), legacy=legacy))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["address"] == funded.address and isinstance(body["expires_at"], int)
    assert server.get("/api/chats", body["token"]).status_code == 200


def test_a_pending_transaction_is_enough(server, anvil, funded):
    anvil.rpc("evm_setAutomine", False)
    try:
        tx_hash = sent(anvil, funded, text(nonce(server)))
        assert anvil.receipt(tx_hash) is None, "still pending"
        assert verify_tx(server, tx_hash).status_code == 200
    finally:
        anvil.rpc("evm_setAutomine", True)


def test_the_server_waits_for_its_node_to_learn_of_the_transaction(server, anvil, funded):
    n = nonce(server)
    raw, tx_hash = signed_tx(funded, data=text(n))
    answers: list[Any] = []
    asking = threading.Thread(target=lambda: answers.append(verify_tx(server, tx_hash)))
    asking.start()
    anvil.rpc("eth_sendRawTransaction", raw)  # most likely while the server is already asking
    asking.join()
    assert answers[0].status_code == 200


@pytest.mark.parametrize("tx, why", [
    ({"to": Wallet().address}, "own sender"),
    ({"value": 1}, "value 0"),
], ids=["to another address", "value above zero"])
def test_a_transaction_not_to_oneself_or_carrying_value_is_refused(server, anvil, funded, tx, why):
    r = verify_tx(server, sent(anvil, funded, text(nonce(server)), **tx))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized" and why in r.json()["error"]["message"]


@pytest.mark.parametrize("data", [b"", b"hello", "\xff\xfe".encode("latin-1"), b"optimistic-messaging sign-in "],
                         ids=["no data", "other text", "not utf-8", "no domain or nonce"])
def test_a_transaction_whose_data_is_not_a_sign_in_is_refused(server, anvil, funded, data):
    r = verify_tx(server, sent(anvil, funded, data))
    assert r.status_code == 401 and "data" in r.json()["error"]["message"]


def test_a_domain_that_is_not_allowed_is_refused(server, anvil, funded):
    r = verify_tx(server, sent(anvil, funded, text(nonce(server), "evil.example")))
    assert r.status_code == 401 and "evil.example" in r.json()["error"]["message"]


def test_a_nonce_signs_in_once(server, anvil, funded):
    n = nonce(server)
    first = sent(anvil, funded, text(n))
    assert verify_tx(server, first).status_code == 200
    assert verify_tx(server, first).status_code == 401, "the same transaction again"
    assert verify_tx(server, sent(anvil, funded, text(n))).status_code == 401, "another transaction, same nonce"


def test_a_refused_attempt_uses_its_nonce_up(server, anvil, funded):
    n = nonce(server)
    assert verify_tx(server, sent(anvil, funded, text(n), value=1)).status_code == 401
    assert verify_tx(server, sent(anvil, funded, text(n))).status_code == 401


def test_a_nonce_this_server_did_not_issue_is_refused(server, anvil, funded):
    r = verify_tx(server, sent(anvil, funded, text("ab" * 28)))
    assert r.status_code == 401 and "nonce" in r.json()["error"]["message"]


def test_a_transaction_the_node_does_not_know_is_refused_after_the_wait(server):
    r = verify_tx(server, "0x" + "ab" * 32)
    assert r.status_code == 401 and "not known" in r.json()["error"]["message"]


@pytest.mark.parametrize("tx_hash", [None, 5, "0x1234", "0x" + "g" * 64])
def test_a_malformed_hash_is_invalid(server, tx_hash):
    r = verify_tx(server, tx_hash)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


def test_a_transaction_for_another_chain_is_refused(make_server, anvil, funded):
    other_chain = make_server({"CHAIN_RPC_URL": anvil.url, "CHAIN_ID": "1", "SIGNIN_TX_PROOF": "optional"})  # its node is on 42220: no tx is for it
    r = verify_tx(other_chain, sent(anvil, funded, text(nonce(other_chain))))
    assert r.status_code == 401 and "chain 42220" in r.json()["error"]["message"]


def test_without_a_chain_node_sign_in_by_transaction_is_unavailable_naming_the_setting(make_server):
    r = verify_tx(make_server(), "0x" + "ab" * 32)
    assert r.status_code == 503 and "CHAIN_RPC_URL" in r.json()["error"]["message"]


# ---- Bound nonces: the transaction is public, the proof is the asker's alone ----

@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil) -> Iterator[Server]:
    """SIGNIN_TX_PROOF left at its default (v1.2: required)."""
    srv = Server(tmp_path_factory.mktemp("tx-proof"), {"CHAIN_RPC_URL": anvil.url, "SIGNIN_TX_WAIT_S": "2"}).start()
    yield srv
    srv.stop()


def bound(server: Server) -> tuple[str, str]:
    body = server.get("/api/auth/nonce", params={"bound": "true"}).json()
    return body["nonce"], body["proof"]


def verify_with(server: Server, tx_hash: str, proof: str):
    return server.post("/api/auth/verify-tx", {"tx_hash": tx_hash, "proof": proof})


def test_whoever_reads_a_bound_transaction_cannot_sign_in_with_it_and_leaves_its_nonce_to_its_owner(
        server, anvil, funded):
    n, proof = bound(server)
    tx_hash = sent(anvil, funded, text(n))  # from here on anyone can read it, in the mempool and then in a block
    assert verify_tx(server, tx_hash).status_code == 401
    assert verify_with(server, tx_hash, "0" * 32).status_code == 401
    r = verify_with(server, tx_hash, proof)
    assert r.status_code == 200 and r.json()["address"] == funded.address


def test_a_proof_is_good_for_its_own_nonce_only(server, anvil, funded):
    n, _ = bound(server)
    _, other_proof = bound(server)
    r = verify_with(server, sent(anvil, funded, text(n)), other_proof)
    assert r.status_code == 401 and "proof" in r.json()["error"]["message"]


def test_a_bound_attempt_spends_its_own_nonce_alone(server, anvil, funded):
    victims, victims_proof = bound(server)
    mine, proof = bound(server)
    ruse = f"optimistic-messaging sign-in x{victims} {mine}".encode()  # names the victim's nonce too
    assert verify_with(server, sent(anvil, funded, ruse), proof).status_code == 401  # no such domain
    victim = Wallet()
    anvil.rpc("anvil_setBalance", victim.address, hex(10**18))
    r = verify_with(server, sent(anvil, victim, text(victims)), victims_proof)
    assert r.status_code == 200 and r.json()["address"] == victim.address


def test_where_the_proof_is_required_an_unbound_nonce_does_not_sign_in(strict, anvil, funded):
    assert verify_tx(strict, sent(anvil, funded, text(nonce(strict)))).status_code == 401
    n, proof = bound(strict)
    assert verify_with(strict, sent(anvil, funded, text(n)), proof).status_code == 200


# ---- Look-ups waiting for the node: one batched poller for all, a share of them per client ----

PER_CLIENT = 16  # SIGNIN_TX_PER_CLIENT's default
OLD_CAP = 64  # what the whole server used to hold, whoever asked


class FromAddress(HTTPAdapter):
    """Connects from a source address of its own: Linux routes all of 127.0.0.0/8 to lo, so one test has many clients
    of a server listening on 127.0.0.1."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(pool_maxsize=OLD_CAP)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self.source, 0), **kwargs)


def client_at(source: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(source))
    return session


def verify_from(client: requests.Session, server: Server, tx_hash: str) -> requests.Response:
    return client.post(server.url + "/api/auth/verify-tx", json={"tx_hash": tx_hash}, timeout=3 * TIMEOUT)


def unknown_hash() -> str:
    return "0x" + os.urandom(32).hex()


@pytest.fixture
def patient(make_server, anvil) -> Server:
    """Waits long enough for a test to act while an attacker's look-ups are held."""
    return make_server({"CHAIN_RPC_URL": anvil.url, "SIGNIN_TX_WAIT_S": "10", "SIGNIN_TX_PROOF": "optional"})


def test_a_client_holding_its_share_of_waiting_look_ups_is_refused_and_others_still_sign_in(patient, anvil, funded):
    attacker = client_at("127.0.0.2")
    answers: list[requests.Response] = []
    flood = [threading.Thread(target=lambda: answers.append(verify_from(attacker, patient, unknown_hash())))
             for _ in range(OLD_CAP)]
    for thread in flood:
        thread.start()
    wait_until(lambda: len(answers) >= OLD_CAP - PER_CLIENT, 3 * TIMEOUT, "the look-ups over the attacker's share")
    over = answers[:OLD_CAP - PER_CLIENT]
    assert {r.status_code for r in over} == {429}, [r.text for r in over[:3]]
    assert all(r.json()["error"]["code"] == "rate_limited" and r.json()["error"]["retry_after_ms"] > 0 for r in over)

    r = verify_from(client_at("127.0.0.3"), patient, sent(anvil, funded, text(nonce(patient))))
    assert r.status_code == 200, r.text
    assert r.json()["address"] == funded.address
    assert verify_from(attacker, patient, unknown_hash()).status_code == 429, "its share is still held"

    for thread in flood:
        thread.join()
    assert {r.status_code for r in answers[OLD_CAP - PER_CLIENT:]} == {401}, "unknown after the wait"
    r = verify_from(attacker, patient, sent(anvil, funded, text(nonce(patient))))
    assert r.status_code == 200, "its share is back once its look-ups ended"


def test_many_look_ups_waiting_at_once_each_get_their_transaction(server, anvil):
    wallets = [Wallet() for _ in range(PER_CLIENT)]
    hashes = []
    for wallet in wallets:
        anvil.rpc("anvil_setBalance", wallet.address, hex(10**18))
        raw, tx_hash = signed_tx(wallet, data=text(nonce(server)))
        hashes.append((raw, tx_hash))
    answers: dict[str, requests.Response] = {}
    asking = [threading.Thread(target=lambda h=h: answers.__setitem__(h, verify_tx(server, h))) for _, h in hashes]
    for thread in asking:
        thread.start()
    for raw, _ in hashes:  # most likely while the server is already waiting for them
        anvil.rpc("eth_sendRawTransaction", raw)
    for thread in asking:
        thread.join()
    assert [answers[h].json().get("address") for _, h in hashes] == [w.address for w in wallets]


def test_a_node_that_cannot_be_asked_answers_unavailable(make_server):
    down = make_server({"CHAIN_RPC_URL": f"http://127.0.0.1:{free_port()}", "SIGNIN_TX_WAIT_S": "2"})
    r = verify_tx(down, unknown_hash())
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
