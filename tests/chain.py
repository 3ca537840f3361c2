"""A real local EVM chain for the reconciler tests: anvil from the npm package, driven over JSON-RPC."""
from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import requests
from eth_account import Account
from eth_utils import to_checksum_address

from support import ROOT, TIMEOUT, Wallet, free_port, wait_until

ANVIL = ROOT / "tests" / "node" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CONTRACTS = ROOT / "tests" / "contracts"
CHAIN_ID = 42220
# Init code that deploys the runtime 60006000fd (PUSH1 0 PUSH1 0 REVERT): every call to it reverts.
REVERTER = "0x6005600c60003960056000f360006000fd"


class Anvil:
    """One anvil node; `finalized` trails `latest` by two blocks (--slots-in-an-epoch 1). Restartable with its state."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = folder / "anvil-state.json"
        self.config = folder / "anvil-config.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.keys: list[str] = []

    def start(self) -> "Anvil":
        self.config.unlink(missing_ok=True)
        command = [str(ANVIL), "--port", str(self.port), "--chain-id", str(CHAIN_ID), "--slots-in-an-epoch", "1",
                   "--config-out", str(self.config), "--state", str(self.state)]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(self.folder / "anvil.log", "ab"))
        try:
            self.keys = wait_until(self._up, 30, f"anvil on {self.url}")
        except BaseException:
            self.proc.kill()  # never left holding its port
            self.proc.wait(30)
            raise
        return self

    def _up(self) -> list[str] | None:
        """The dev keys once this anvil answers and has written its config (that file is ours alone, so an answer
        from some other process on the port never counts)."""
        if self.proc is not None and self.proc.poll() is not None:
            log = (self.folder / "anvil.log").read_text()[-500:]
            raise AssertionError(f"anvil exited with {self.proc.returncode}: {log}")
        try:
            if self.rpc("eth_chainId") != hex(CHAIN_ID):
                return None
            return json.loads(self.config.read_text())["private_keys"]
        except (requests.ConnectionError, requests.Timeout, FileNotFoundError, ValueError, KeyError):
            return None

    def stop(self) -> None:
        """SIGTERM: anvil writes its state file, so start() brings the same chain back."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    def rpc(self, method: str, *params: Any) -> Any:
        answer = requests.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)},
                               timeout=TIMEOUT).json()
        if "error" in answer:
            raise AssertionError(f"{method}: {answer['error']}")
        return answer["result"]

    def wallet(self, index: int) -> Wallet:
        """Dev account `index` as a chat wallet: the same key signs in and pays."""
        return Wallet(Account.from_key(self.keys[index]))

    def send(self, sender: Wallet, to: str | None = None, value: int = 0, data: str | None = None,
             gas: int | None = None) -> str:
        """A transaction from an unlocked dev account, returned once anvil has mined it into its own block."""
        tx: dict[str, Any] = {"from": sender.address, "value": hex(value)}
        if to is not None:
            tx["to"] = to
        if data is not None:
            tx["data"] = data
        if gas is not None:
            tx["gas"] = hex(gas)
        tx_hash = self.rpc("eth_sendTransaction", tx)
        wait_until(lambda: self.receipt(tx_hash), TIMEOUT, f"{tx_hash} mined")
        return tx_hash

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        return self.rpc("eth_getTransactionReceipt", tx_hash)

    def deploy(self, sender: Wallet, code: str) -> str:
        return to_checksum_address(self.receipt(self.send(sender, data=code))["contractAddress"])

    def deploy_token(self, sender: Wallet, decimals: int, supply: int = 10**30) -> str:
        args = decimals.to_bytes(32, "big") + supply.to_bytes(32, "big")
        return self.deploy(sender, "0x" + (CONTRACTS / "Token.bin").read_text().strip() + args.hex())

    def transfer_token(self, token: str, sender: Wallet, to: str, value: int) -> str:
        selector = "a9059cbb"  # transfer(address,uint256)
        data = "0x" + selector + bytes.fromhex(to[2:]).rjust(32, b"\0").hex() + value.to_bytes(32, "big").hex()
        return self.send(sender, token, data=data)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def finalize(self) -> None:
        """Mine until everything so far is at or below `finalized` (latest - 2)."""
        self.mine(2)


def claim(tx_hash: str, to: str, value: int, token: str | None = None) -> dict[str, Any]:
    """A payment claim as a client sends it with its message."""
    return {"chain_id": CHAIN_ID, "hash": tx_hash, "to": to, "value": str(value), "token": token}


def signed_tx(sender: Wallet, chain_id: int = CHAIN_ID, to: str | None = None, value: int = 0, data: bytes = b"",
              nonce: int = 0, legacy: bool = True) -> tuple[str, str]:
    """A transaction signed by `sender` (legacy, type 0, as MiniPay sends them; else EIP-1559): (raw hex, hash)."""
    tx: dict[str, Any] = {"nonce": nonce, "gas": 100_000, "to": to or sender.address, "value": value, "data": data,
                          "chainId": chain_id}
    tx.update({"gasPrice": 2 * 10**9} if legacy else {"maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9})
    signed = sender.account.sign_transaction(tx)
    return "0x" + signed.raw_transaction.hex().removeprefix("0x"), "0x" + signed.hash.hex().removeprefix("0x")
