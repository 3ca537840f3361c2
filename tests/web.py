"""The whole stack for browser tests: anvil, the backend, the built Next.js app, and Debian's Chromium.

Next.js inlines NEXT_PUBLIC_* settings when it builds, so this stack uses fixed ports (unusual ones) that the
build is made for; the build is cached in apps/web/.next until its sources or these settings change (apps/web/scripts/build-if-changed.mjs).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import requests

from chain import Anvil
from support import ROOT, Server, wait_until

WEB = ROOT / "apps" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
WEB_PORT, API_PORT, CHAIN_PORT = 3391, 5391, 8591
WEB_URL = f"http://127.0.0.1:{WEB_PORT}"
BUILD_ENV = {
    "NEXT_PUBLIC_OPTIMISTIC_SERVER_URL": f"http://127.0.0.1:{API_PORT}",
    "NEXT_PUBLIC_CHAIN_ID": "42220",
    "NEXT_PUBLIC_CHAIN_RPC_URL": f"http://127.0.0.1:{CHAIN_PORT}",
    "NEXT_PUBLIC_XMTP_ENV": "off",  # no XMTP network here: the app must run on the fallback alone
}


def build_web() -> None:
    """`next build` for the e2e settings, unless the last build was of the same sources and settings (the same
    script and stamp as ./start-optimistic-messaging.sh)."""
    subprocess.run(["node", str(WEB / "scripts" / "build-if-changed.mjs"), "--quiet"], cwd=WEB,
                   env={**os.environ, **BUILD_ENV}, check=True)


class WebApp:
    """`next start` of the e2e build."""

    def __init__(self, folder: Path) -> None:
        self.log = folder / "web.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "WebApp":
        command = [str(WEB / "node_modules" / ".bin" / "next"), "start", "-p", str(WEB_PORT), "-H", "127.0.0.1"]
        self.proc = subprocess.Popen(command, cwd=WEB, env={**os.environ, **BUILD_ENV}, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT)
        wait_until(self._up, 60, f"the web app on {WEB_URL}")
        return self

    def _up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"next start exited:\n{self.log.read_text()[-2000:]}")
        try:
            return requests.get(WEB_URL, timeout=2).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def chain(folder: Path) -> Anvil:
    node = Anvil(folder)
    node.port, node.url = CHAIN_PORT, f"http://127.0.0.1:{CHAIN_PORT}"
    return node.start()


def backend(folder: Path, anvil: Anvil) -> Server:
    server = Server(folder, {"CHAIN_RPC_URL": anvil.url, "RECONCILE_INTERVAL_S": "0.2", "XMTP_GRACE_S": "2",
                             "CORS_ORIGINS": WEB_URL, "SIWE_DOMAINS": f"127.0.0.1:{WEB_PORT}"})
    server.port, server.url = API_PORT, f"http://127.0.0.1:{API_PORT}"
    server.env["PORT"] = str(API_PORT)
    return server.start()
