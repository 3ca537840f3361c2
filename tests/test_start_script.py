"""./start-optimistic-messaging.sh as a newcomer runs it: its ports, its production build, and what it says when one
of its two processes ends. It runs the real backend and `next start` of the e2e build (the same settings, so the
build is shared with tests/test_web_e2e.py)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from support import ROOT, free_port, wait_until
from web import BUILD_ENV, build_web

pytestmark = pytest.mark.browser  # the web app, served: once, not again on the PostgreSQL pass

SCRIPT = ROOT / "start-optimistic-messaging.sh"


class Script:
    """The start script in its own process group, its output collected as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([str(SCRIPT)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def exit_code(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


@pytest.fixture(scope="module", autouse=True)
def built() -> None:
    """The production build these settings need, made once (a no-op when tests/test_web_e2e.py made it)."""
    build_web()


@pytest.fixture
def ports(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, **BUILD_ENV, "HOST": "127.0.0.1", "PORT": str(free_port()), "WEB_PORT": str(free_port()),
            "DATA_FILE": str(tmp_path / "messages.json"), "FSYNC": "off"}


@pytest.fixture
def start() -> Iterator:
    started: list[Script] = []

    def run(env: dict[str, str]) -> Script:
        started.append(Script(env))
        return started[-1]

    yield run
    for script in started:
        script.stop()


def listening(port: str) -> bool:
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
        return True
    except OSError:
        return False


def serving(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


@pytest.mark.parametrize("setting", ["WEB_PORT", "PORT"])
def test_a_busy_port_is_refused_by_name_before_anything_starts(ports, start, setting):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(ports[setting])))
        taken.listen()
        script = start(ports)
        assert script.exit_code() == 1
    assert f"Port {ports[setting]} is already in use" in script.output
    assert "Nothing was started" in script.output
    assert not Path(ports["DATA_FILE"]).exists()  # the backend never ran
    other = "PORT" if setting == "WEB_PORT" else "WEB_PORT"
    assert not listening(ports[other])


def test_it_serves_the_production_build_on_WEB_PORT_with_the_backend_allowing_that_origin(ports, start):
    script = start(ports)
    web = f"http://127.0.0.1:{ports['WEB_PORT']}"
    wait_until(lambda: serving(web) and serving(f"http://127.0.0.1:{ports['PORT']}/api/health"), 90,
               f"the web app on {web} and the backend")
    assert "the production build is up to date" in script.output  # `next start`, no dev compile on first load
    health = requests.get(f"http://127.0.0.1:{ports['PORT']}/api/health", headers={"Origin": web}, timeout=5)
    assert health.headers.get("Access-Control-Allow-Origin") == web


def test_when_the_backend_ends_it_says_which_process_ended_and_how_and_stops_the_web_app(ports, start):
    script = start(ports)
    wait_until(lambda: re.search(r"backend \(pid (\d+)\)", script.output) and listening(ports["WEB_PORT"])
               and listening(ports["PORT"]), 90, "both processes up")
    backend_pid = int(re.search(r"backend \(pid (\d+)\)", script.output).group(1))
    os.kill(backend_pid, signal.SIGKILL)
    assert script.exit_code() == 1
    assert f"The backend (pid {backend_pid}) ended: killed by signal KILL. Stopping the web app too." in script.output
    assert not listening(ports["WEB_PORT"])
