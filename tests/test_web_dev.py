"""`next dev` as a developer opens it (`npm run dev`): at http://127.0.0.1 as well as localhost, and at a mini-app's
424 px with the dev indicator clear of the controls. Real Chromium; no backend is needed for either."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from support import free_port, wait_until
from web import BUILD_ENV, CHROMIUM, CHROMIUM_ARGS, WEB

pytestmark = pytest.mark.browser  # the web app, served: once, not again on the PostgreSQL pass

# The first request of each page compiles it: roomy on a loaded 2-core machine (a bound on waiting, not a timing check).
expect.set_options(timeout=60_000)
SESSION = {"token": "t", "address": "0x1111111111111111111111111111111111111111", "wallet": "burner"}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`next dev` (its own output folder, .next/dev, beside the production build) on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("next-dev") / "dev.log"
    proc = subprocess.Popen([str(WEB / "node_modules" / ".bin" / "next"), "dev", "-p", str(port)], cwd=WEB,
                            env={**os.environ, **BUILD_ENV}, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"next dev exited:\n{Path(log).read_text()[-2000:]}")
        try:
            return requests.get(url, timeout=60).status_code == 200
        except (requests.ConnectionError, requests.Timeout):
            return False

    try:
        wait_until(up, 90, f"next dev on {url}")
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 424, "height": 860})
    yield context.new_page()
    context.close()


def test_the_app_at_127_0_0_1_gets_past_loading_under_next_dev(dev, page):
    page.goto(dev)
    expect(page.get_by_test_id("signin-burner")).to_be_visible()


def test_the_dev_indicator_covers_neither_the_payment_field_nor_the_connection_badge(dev, page):
    session = json.dumps({**SESSION, "expires_at": 4_102_444_800_000})
    page.add_init_script(f"localStorage.setItem('om.session', {session!r})")
    page.goto(f"{dev}/chats/dm:0x{'1' * 40}:0x{'2' * 40}")
    indicator = page.locator("#devtools-indicator")  # inside nextjs-portal's open shadow root
    expect(indicator).to_be_visible()
    mark = indicator.bounding_box()
    for testid in ("pay-amount", "connection"):
        box = page.get_by_test_id(testid).bounding_box()
        apart = (mark["x"] + mark["width"] <= box["x"] or box["x"] + box["width"] <= mark["x"]
                 or mark["y"] + mark["height"] <= box["y"] or box["y"] + box["height"] <= mark["y"])
        assert apart, f"the dev indicator {mark} covers {testid} {box}"
