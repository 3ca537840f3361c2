"""Fixtures: one shared server for most tests, fresh ones for tests that restart or reconfigure it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from chain import Anvil
from cluster import PrivatePostgres
from farcaster import Hub, QuickAuthKeys
from support import STORE, Peer, Server, Wallet, drop_databases


ONCE = ("own_store", "store_free")  # the same whichever store the pass is on: run once
SPLIT = os.environ.get("OM_TEST_ONCE", "")  # run-tests.sh's lanes: "apart" leaves those out, "only" runs just them


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL (OM_TEST_STORE=postgres), what only the JSON-lines log has is not asked of it, nor what runs
    once whatever the store; on the log, OM_TEST_ONCE may split the tests that run once from the rest, so that
    run-tests.sh's two lanes take about as long."""
    if STORE == "postgres":
        kept = [item for item in items if not _marked(item, ("jsonl", *ONCE))]
    elif SPLIT in ("apart", "only"):
        kept = [item for item in items if _marked(item, ONCE) == (SPLIT == "only")]
    else:
        return
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def _marked(item: pytest.Item, names: tuple[str, ...]) -> bool:
    return any(item.get_closest_marker(name) for name in names)


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_databases()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start servers with their own data directory and settings; all are stopped after the test."""
    started: list[Server] = []

    def make(env: dict[str, str] | None = None, data_dir: Path | None = None, **kw: Any) -> Server:
        directory = data_dir or tmp_path / f"server{len(started)}"
        directory.mkdir(exist_ok=True)
        server = Server(directory, env, **kw)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server: tests isolate themselves by using fresh wallets and chats."""
    srv = Server(tmp_path_factory.mktemp("shared"), {"RATE_PER_S": "1000", "RATE_BURST": "1000",
                                                     "CHAT_RATE_PER_MIN": "60000", "CHAT_RATE_BURST": "1000"}).start()
    yield srv
    srv.stop()


@pytest.fixture
def wallets(server: Server) -> Callable[[int], list[Wallet]]:
    """n fresh wallets signed in to the shared server."""
    return lambda n: [Wallet().sign_in(server) for _ in range(n)]


@pytest.fixture
def peers() -> Iterator[Callable[..., Peer]]:
    """Open Socket.IO clients; every one is closed after the test."""
    opened: list[Peer] = []

    def connect(server: Server, wallet: Wallet | None = None, **kw: Any) -> Peer:
        peer = Peer(server, wallet.token if wallet else None, **kw)
        opened.append(peer)
        return peer

    yield connect
    for peer in opened:
        peer.close()


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """A real local EVM node (anvil) for the tests of one module."""
    node = Anvil(tmp_path_factory.mktemp("anvil")).start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this test session's own, to stop and start again."""
    pg = PrivatePostgres().init()
    yield pg
    pg.remove()


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    """A Farcaster hub stand-in: the app keys the webhook's signatures are checked against."""
    stand_in = Hub()
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def keys() -> Iterator[QuickAuthKeys]:
    """A Quick Auth stand-in: the JWKS the link's tokens are checked against."""
    stand_in = QuickAuthKeys()
    yield stand_in
    stand_in.close()
