"""Several nodes on one PostgreSQL (and one Redis), and a private PostgreSQL a test may kill and restart."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import redis

from support import Server, free_port, fresh_database, wait_until

REDIS_URL = os.environ.get("OM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_BIN = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]) if glob.glob("/usr/lib/postgresql/*/bin") else None


class Cluster:
    """n servers sharing DATABASE_URL, REDIS_URL and SECRET_KEY, each on its own port and data folder."""

    def __init__(self, folder: Path, n: int, env: dict[str, str] | None = None, redis_url: str | None = REDIS_URL,
                 database_url: str | None = None) -> None:
        self.database_url = database_url or fresh_database()
        shared = {"DATABASE_URL": self.database_url, "SECRET_KEY": "cluster-secret-" + "k" * 32, **(env or {})}
        if redis_url is not None:
            shared["REDIS_URL"] = redis_url
        self.redis_url = redis_url
        self.nodes: list[Server] = []
        for i in range(n):
            node_folder = folder / f"node{i}"
            node_folder.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Server(node_folder, shared))

    def start(self) -> "Cluster":
        for node in self.nodes:
            node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.redis_url is not None:  # the deployment's keys (their prefix comes from its database)
            from optimistic_messaging.redisconn import key_prefix

            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(match=key_prefix(self.database_url) + "*", count=1000):
                client.delete(key)

    def __getitem__(self, i: int) -> Server:
        return self.nodes[i]

    def leader(self) -> Server:
        """The node running the reconciler (waiting for one to be elected)."""
        return wait_until(lambda: next((n for n in self.nodes if n.proc is not None and n.proc.poll() is None
                                        and n.get("/api/health").json()["reconciler"]["leader"]), None),
                          what="a reconciler leader")

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()


class PrivatePostgres:
    """A PostgreSQL of the test session's own (initdb, pg_ctl, run as the postgres user): one a test may stop with
    `-m immediate` and start again, never the machine's shared one."""

    def __init__(self) -> None:
        assert PG_BIN is not None, "PostgreSQL's server binaries are not installed"
        # Its own folder in /tmp: the postgres user cannot reach into pytest's (private to root) temporary folders.
        self.folder = folder = Path(tempfile.mkdtemp(prefix="om-private-pg-"))
        self.data = folder / "data"
        self.socket_dir = folder / "sockets"
        self.port = free_port()
        self.log = folder / "postgres.log"
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def init(self) -> "PrivatePostgres":
        self.socket_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.socket_dir, "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self.start()

    def start(self) -> "PrivatePostgres":
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                          "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def freeze(self) -> None:
        """Hang it (SIGSTOP to the postmaster and every backend): connections stay open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, sig: int) -> None:
        postmaster = (self.data / "postmaster.pid").read_text().split()[0]
        children = subprocess.run(["pgrep", "-P", postmaster], capture_output=True, text=True).stdout.split()
        for pid in (postmaster, *children):
            try:
                os.kill(int(pid), sig)
            except ProcessLookupError:
                pass  # a backend that has just ended

    def remove(self) -> None:
        try:
            if self.running():
                self.thaw()  # a test that failed while it was frozen
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # stopped already
        shutil.rmtree(self.folder, ignore_errors=True)

    def database(self) -> str:
        return fresh_database(self.admin_url)


class PrivateRedis:
    """A Redis of the test's own, without persistence: one a test may stop (SIGSTOP), kill and start again empty on
    the same port, never the machine's shared one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "redis.log", "ab")
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)], stdout=log,
                                     stderr=subprocess.STDOUT)
        wait_until(self._answers, what=f"redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill(self) -> None:
        """Gone at once, with everything it held."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
