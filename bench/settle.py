"""Settlement benchmark: `.venv/bin/python bench/settle.py [--payments 1000]`.

1,000 payment messages wait, provisional, on a block that is not final yet (all their transactions in one block
on a real anvil node). Then two blocks are mined, making it final, and every client's `message:update` is timed
from that moment. Also counts the reconciler's JSON-RPC requests per round while they settle. Prints figures; not CI.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "backend")]

from chain import Anvil, claim  # noqa: E402  (the tests' anvil driver: one way to run the chain)
from support import Peer, Server, new_chat, wait_until  # noqa: E402

ACCOUNTS = 10


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1000)
    n = parser.parse_args().payments
    folder = Path(tempfile.mkdtemp(prefix="settle-"))
    anvil = Anvil(folder).start()
    server = Server(folder, {"CHAIN_RPC_URL": anvil.url, "RECONCILE_INTERVAL_S": "1",
                             "RATE_PER_S": "100000", "RATE_BURST": "100000"}).start()
    try:
        wallets = [anvil.wallet(i).sign_in(server) for i in range(ACCOUNTS)]
        chats = [new_chat(server, wallets[i], wallets[(i + 1) % ACCOUNTS])["id"] for i in range(ACCOUNTS)]
        clients = [Peer(server, w.token) for w in wallets]
        for i, peer in enumerate(clients):
            peer.join(chats[i])
            peer.join(chats[(i - 1) % ACCOUNTS])
        expected = 2 * n  # every payment's chat has two members, each with one client
        arrived: list[float] = []
        done = threading.Event()
        lock = threading.Lock()

        def on_update(message: dict) -> None:
            if message["status"] != "provisional":
                with lock:
                    arrived.append(time.perf_counter())
                    if len(arrived) == expected:
                        done.set()

        for peer in clients:
            peer.sio.on("message:update", on_update)

        anvil.rpc("evm_setAutomine", False)
        hashes = [anvil.rpc("eth_sendTransaction", {"from": wallets[k % ACCOUNTS].address,
                                                     "to": wallets[(k + 1) % ACCOUNTS].address, "value": hex(k + 1)})
                  for k in range(n)]
        anvil.mine(1)  # one block with every payment: not final until two more
        for k, tx in enumerate(hashes):
            payer = clients[k % ACCOUNTS]
            ack = payer.send(chats[k % ACCOUNTS], f"paid {k + 1} wei",
                             tx=claim(tx, wallets[(k + 1) % ACCOUNTS].address, k + 1))
            assert ack["ok"], ack
        before = server.get("/api/health").json()["reconciler"]
        time.sleep(3)  # let a few rounds see them all pending: those rounds' RPC cost is measured too
        pending = server.get("/api/health").json()["reconciler"]
        final_at = time.perf_counter()
        anvil.mine(2)
        assert done.wait(120), f"only {len(arrived)} of {expected} updates arrived"
        after = server.get("/api/health").json()["reconciler"]
        wait_until(lambda: server.get("/api/health").json()["reconciler"]["provisional"] == 0, 30, "all settled")
        latencies = [(t - final_at) * 1000 for t in arrived]
        pending_rounds = pending["rounds"] - before["rounds"]
        print(f"payments: {n} in one block; clients: {len(clients)}; updates expected and received: {expected}")
        print(f"finality -> message:update (ms): p50 {percentile(latencies, 50):.0f}  p99 "
              f"{percentile(latencies, 99):.0f}  max {max(latencies):.0f}   (target: all within 1,000 ms; "
              f"rounds are RECONCILE_INTERVAL_S = 1 s apart)")
        print(f"JSON-RPC requests per round while {n} wait: "
              f"{(pending['rpc_calls'] - before['rpc_calls']) / max(1, pending_rounds):.1f} "
              f"(the round's head call + the 250 ms head watch between rounds; no receipts: they are remembered)")
        print(f"JSON-RPC requests for the settling round(s): {after['rpc_calls'] - pending['rpc_calls']}")
    finally:
        server.stop()
        anvil.stop()


if __name__ == "__main__":
    main()
