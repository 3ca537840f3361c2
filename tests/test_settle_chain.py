"""Payment messages settled by a real chain (anvil): nothing before finality, then confirmed, corrected or retracted."""
from __future__ import annotations

from typing import Iterator

import pytest

from chain import REVERTER, Anvil, claim
from support import TIMEOUT, Peer, Server, new_chat, wait_until


def chain_server(folder, anvil: Anvil, **env: str) -> Server:
    return Server(folder, {"CHAIN_RPC_URL": anvil.url, "RECONCILE_INTERVAL_S": "0.1", **env}).start()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil) -> Iterator[Server]:
    srv = chain_server(tmp_path_factory.mktemp("chain-server"), anvil)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil) -> Iterator[Server]:
    """A server that gives up on a missing transaction after 2 s."""
    srv = chain_server(tmp_path_factory.mktemp("impatient"), anvil, TX_TIMEOUT_S="2")
    yield srv
    srv.stop()


@pytest.fixture
def pair(anvil: Anvil, peers):
    """Two funded dev accounts signed in, in a DM, the payee listening."""
    def make(server: Server, payer: int = 1, payee: int = 2):
        a, b = anvil.wallet(payer).sign_in(server), anvil.wallet(payee).sign_in(server)
        chat = new_chat(server, a, b)
        listener = peers(server, b)
        listener.join(chat["id"])
        return a, b, chat, peers(server, a), listener
    return make


def settled(peer: Peer, message_id: str) -> dict:
    return peer.wait("message:update", lambda m: m["id"] == message_id and m["status"] != "provisional")


def rounds(server: Server) -> int:
    return server.get("/api/health").json()["reconciler"]["rounds"]


def after_rounds(server: Server, n: int) -> None:
    """Wait until the reconciler has run `n` more full rounds (there is no event for 'nothing happened')."""
    start = rounds(server)
    wait_until(lambda: rounds(server) >= start + n + 1, TIMEOUT, f"{n} reconcile rounds")


def status(server: Server, wallet, message: dict) -> str:
    page = server.get(f"/api/chats/{message['chat_id']}/messages", wallet.token).json()["messages"]
    return next(m for m in page if m["id"] == message["id"])["status"]


def test_payment_stays_provisional_until_final_then_is_confirmed(anvil, server, pair):
    a, b, chat, payer, payee = pair(server)
    tx = anvil.send(a, b.address, 5 * 10**18)
    sent = payer.send(chat["id"], "sent you 5 CELO", tx=claim(tx, b.address, 5 * 10**18))["message"]
    after_rounds(server, 3)
    assert status(server, a, sent) == "provisional"
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["source"], update["reason"]) == ("confirmed", "chain", None)
    assert update["tx"] == sent["tx"] and update["rev"] > sent["rev"]


def test_wrong_amount_is_corrected_to_the_chains_value(anvil, server, pair):
    a, b, chat, payer, payee = pair(server)
    tx = anvil.send(a, b.address, 3 * 10**18)
    claimed = claim(tx, b.address, 5 * 10**18)
    sent = payer.send(chat["id"], "sent you 5", tx=claimed)["message"]
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["source"], update["reason"]) == ("corrected", "chain", "amount_mismatch")
    assert update["tx"]["value"] == str(3 * 10**18)
    assert update["original"] == {"body": "sent you 5", "tx": sent["tx"]}


def test_wrong_recipient_is_corrected(anvil, server, pair):
    a, b, chat, payer, payee = pair(server)
    elsewhere = anvil.wallet(3).address
    tx = anvil.send(a, elsewhere, 10**18)
    sent = payer.send(chat["id"], "paid you", tx=claim(tx, b.address, 10**18))["message"]
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["reason"], update["tx"]["to"]) == ("corrected", "recipient_mismatch", elsewhere)


def test_someone_elses_transaction_is_retracted_as_not_sender(anvil, server, pair):
    a, b, chat, payer, payee = pair(server)
    tx = anvil.send(anvil.wallet(3), b.address, 10**18)  # a real payment to b, but not by a
    sent = payer.send(chat["id"], "that was me", tx=claim(tx, b.address, 10**18))["message"]
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["source"], update["reason"]) == ("retracted", "chain", "not_sender")


def test_reverted_transaction_is_retracted(anvil, server, pair):
    a, b, chat, payer, payee = pair(server)
    reverter = anvil.deploy(a, REVERTER)
    tx = anvil.send(a, reverter, 0, gas=100_000)
    assert anvil.receipt(tx)["status"] == "0x0"
    sent = payer.send(chat["id"], "paid", tx=claim(tx, reverter, 0))["message"]
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["source"], update["reason"]) == ("retracted", "chain", "reverted")


def test_unknown_hash_is_retracted_as_dropped_after_the_timeout(anvil, impatient, pair):
    a, b, chat, payer, payee = pair(impatient)
    sent = payer.send(chat["id"], "never sent", tx=claim("0x" + "ab" * 32, b.address, 1))["message"]
    update = settled(payee, sent["id"])
    assert (update["status"], update["source"], update["reason"]) == ("retracted", "chain", "dropped")


def test_reorg_that_removes_the_block_means_it_is_never_confirmed(anvil, impatient, pair):
    a, b, chat, payer, payee = pair(impatient)
    tx = anvil.send(a, b.address, 10**18)
    sent = payer.send(chat["id"], "paid", tx=claim(tx, b.address, 10**18))["message"]
    anvil.rpc("anvil_reorg", 1, [])  # replace the block holding the transaction with an empty one
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["reason"]) == ("retracted", "dropped")
    assert [m["status"] for m in payee.received("message:update") if m["id"] == sent["id"]] == ["retracted"]


@pytest.mark.parametrize("decimals", [6, 18])
def test_erc20_transfer_is_confirmed(anvil, server, pair, decimals):
    a, b, chat, payer, payee = pair(server)
    token = anvil.deploy_token(a, decimals)
    amount = 5 * 10**decimals
    tx = anvil.transfer_token(token, a, b.address, amount)
    sent = payer.send(chat["id"], "sent you 5 USDm", tx=claim(tx, b.address, amount, token))["message"]
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["source"]) == ("confirmed", "chain")


def test_erc20_transfer_of_another_amount_is_corrected(anvil, server, pair):
    a, b, chat, payer, payee = pair(server)
    token = anvil.deploy_token(a, 6)
    tx = anvil.transfer_token(token, a, b.address, 4_000_000)
    sent = payer.send(chat["id"], "sent you 5 USDC", tx=claim(tx, b.address, 5_000_000, token))["message"]
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["reason"], update["tx"]["value"], update["tx"]["token"]) == (
        "corrected", "amount_mismatch", "4000000", token)


def test_erc20_claim_for_a_native_payment_is_corrected_as_token_mismatch(anvil, server, pair):
    a, b, chat, payer, payee = pair(server)
    token = anvil.deploy_token(a, 18)
    tx = anvil.send(a, b.address, 10**18)
    sent = payer.send(chat["id"], "sent you 1 USDm", tx=claim(tx, b.address, 10**18, token))["message"]
    anvil.finalize()
    update = settled(payee, sent["id"])
    assert (update["status"], update["reason"], update["tx"]["token"]) == ("corrected", "token_mismatch", None)


def test_pending_payment_survives_kill_9_and_settles_after_restart(anvil, make_server, pair):
    srv = make_server({"CHAIN_RPC_URL": anvil.url, "RECONCILE_INTERVAL_S": "0.1"})
    a, b, chat, payer, _ = pair(srv)
    tx = anvil.send(a, b.address, 10**18)
    sent = payer.send(chat["id"], "paid", tx=claim(tx, b.address, 10**18))["message"]
    srv.kill()
    srv.start()
    listener = Peer(srv, b.token)
    listener.join(chat["id"])
    anvil.finalize()
    assert settled(listener, sent["id"])["status"] == "confirmed"
    listener.close()


def test_chain_outage_settles_nothing_keeps_serving_and_resumes(tmp_path, make_server, pair):
    node = Anvil(tmp_path).start()
    try:
        srv = make_server({"CHAIN_RPC_URL": node.url, "RECONCILE_INTERVAL_S": "0.1"})
        a, b, chat, payer, payee = pair(srv)
        tx = node.send(node.wallet(1), b.address, 10**18)
        sent = payer.send(chat["id"], "paid", tx=claim(tx, b.address, 10**18))["message"]
        node.stop()
        wait_until(lambda: srv.get("/api/health").json()["reconciler"]["errors"], TIMEOUT, "the outage noticed")
        assert srv.get("/api/health").status_code == 200
        assert payer.send(chat["id"], "chat still works")["ok"]
        assert status(srv, a, sent) == "provisional"
        node.start()
        node.finalize()
        assert settled(payee, sent["id"])["status"] == "confirmed"
    finally:
        node.stop()
