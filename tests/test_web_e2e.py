"""The web app end to end: two people in real Chromium, the real backend, a real chain (anvil)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from eth_account.messages import encode_defunct
from playwright.sync_api import Browser, ConsoleMessage, expect, sync_playwright

from web import CHROMIUM, CHROMIUM_ARGS, WEB_URL, WebApp, backend, build_web, chain

VIEWPORT = {"width": 424, "height": 860}  # a mini-app's viewport
# Steps wait on the fallback's grace, reconnect backoff and fsyncs with two browsers, Next, anvil and the backend
# sharing two cores: Playwright's 5 s default is too tight for a loaded machine (a bound on waiting, not a timing assertion).
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("web-stack")
    build_web()
    anvil = chain(folder)
    server = backend(folder, anvil)
    web = WebApp(folder).start()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield {"anvil": anvil, "server": server, "browser": browser, "folder": folder}
        browser.close()
    web.stop()
    server.stop()
    anvil.stop()


# An injected EIP-1193 wallet (what MetaMask or MiniPay put on window.ethereum): it shares one account, signs with the
# test process's key, and hands every other request to the chain, where anvil signs for its unlocked dev account.
INJECTED_WALLET = """
window.ethereum = {
  async request({ method, params }) {
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [window.OM_WALLET_ADDRESS];
    if (method === "personal_sign") return await window.omPersonalSign(params[0], params[1]);
    return await window.omChainRpc(method, params ?? []);
  },
  on() {}, removeListener() {},
};
"""


class Person:
    """One browser context signed in with a burner wallet, or with an injected one; and its pages' console errors."""

    def __init__(self, browser: Browser, injected: Any = None, anvil: Any = None) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        if injected is not None:
            self.context.add_init_script(f"window.OM_WALLET_ADDRESS = {injected.address!r};" + INJECTED_WALLET)
            self.context.expose_function("omPersonalSign", lambda data, address: "0x" + injected.account.sign_message(
                encode_defunct(hexstr=data) if data.startswith("0x") else encode_defunct(text=data)
            ).signature.hex().removeprefix("0x"))
            self.context.expose_function("omChainRpc", lambda method, params: anvil.rpc(method, *params))
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.page.goto(WEB_URL)
        self.page.get_by_test_id("signin-injected" if injected is not None else "signin-burner").click()
        self.address = self.page.get_by_test_id("my-address").get_attribute("data-address") or ""
        assert re.fullmatch(r"0x[0-9a-fA-F]{40}", self.address)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open_dm_with(self, other: "Person") -> str:
        self.page.get_by_test_id("dm-address").fill(other.address)
        self.page.get_by_test_id("dm-start").click()
        self.page.wait_for_url(re.compile(r"/chats/"))
        return self.page.url

    def bubbles(self, body: str):
        return self.page.locator(f'[data-testid="message"][data-body="{body}"]')

    def say(self, text: str) -> None:
        self.page.get_by_test_id("composer").fill(text)
        self.page.get_by_test_id("composer").press("Enter")


@pytest.fixture
def two(stack) -> Iterator[tuple[Person, Person]]:
    a, b = Person(stack["browser"]), Person(stack["browser"])
    yield a, b
    a.context.close()
    b.context.close()


def screenshot(person: Person, name: str) -> None:
    folder = Path(os.environ.get("E2E_SCREENSHOT_DIR", "/tmp"))
    person.page.screenshot(path=str(folder / f"{name}.png"))


def test_two_people_chat_instantly_with_typing_presence_and_settled_statuses(two):
    a, b = two
    url = a.open_dm_with(b)
    b.page.goto(url)
    expect(b.page.get_by_test_id("connection")).to_have_attribute("data-kind", "Fallback")  # XMTP unreachable here
    expect(b.page.get_by_test_id(f"presence-{a.address}")).to_have_attribute("data-online", "true")
    a.page.get_by_test_id("composer").type("gm ")
    expect(b.page.get_by_test_id("typing")).to_be_visible()
    a.page.get_by_test_id("composer").type("frens")
    a.page.get_by_test_id("composer").press("Enter")
    expect(b.bubbles("gm frens")).to_have_count(1)
    expect(a.bubbles("gm frens")).to_have_count(1)
    expect(a.bubbles("gm frens")).to_have_attribute("data-status", "confirmed")  # the fallback settles it
    expect(b.bubbles("gm frens")).to_have_attribute("data-status", "confirmed")
    b.say("wagmi")
    expect(a.bubbles("wagmi")).to_have_count(1)
    screenshot(a, "chat-a")
    screenshot(b, "chat-b")
    b.page.reload()
    expect(b.bubbles("gm frens")).to_have_count(1)
    expect(b.bubbles("wagmi")).to_have_count(1)
    assert a.errors == [] and b.errors == []


def test_payment_message_is_pending_until_the_block_is_final_then_confirmed(two, stack):
    a, b = two
    anvil = stack["anvil"]
    anvil.rpc("anvil_setBalance", a.address, hex(10**20))
    url = a.open_dm_with(b)
    b.page.goto(url)
    a.page.get_by_test_id("pay-amount").fill("1")
    a.page.get_by_test_id("pay-send").click()
    expect(b.bubbles("Paid 1 CELO")).to_have_attribute("data-status", "provisional")
    anvil.finalize()
    expect(b.bubbles("Paid 1 CELO")).to_have_attribute("data-status", "confirmed")
    expect(a.bubbles("Paid 1 CELO")).to_have_attribute("data-status", "confirmed")
    assert a.errors == [] and b.errors == []


def test_offline_the_history_stays_and_new_messages_wait_in_the_outbox_then_arrive_once_in_order(two, stack):
    a, b = two
    server = stack["server"]
    url = a.open_dm_with(b)
    b.page.goto(url)
    a.say("before")
    expect(b.bubbles("before")).to_have_count(1)
    server.kill()
    try:
        expect(a.page.get_by_test_id("connection")).to_have_attribute("data-kind", "Offline")
        a.say("while offline 1")
        a.say("while offline 2")
        expect(a.bubbles("while offline 1")).to_have_attribute("data-status", "sending")
        a.page.reload()  # the outbox and the history are in IndexedDB: a reload keeps both, with the server away
        expect(a.bubbles("while offline 2")).to_have_attribute("data-status", "sending")
        expect(a.bubbles("before")).to_have_count(1)
    finally:
        server.start()
    expect(b.bubbles("while offline 1")).to_have_count(1)
    expect(b.bubbles("while offline 2")).to_have_count(1)
    expect(a.bubbles("while offline 2")).not_to_have_attribute("data-status", "sending")
    bodies = [m.get_attribute("data-body") for m in b.page.get_by_test_id("message").all()]
    assert bodies == ["before", "while offline 1", "while offline 2"]


def test_an_injected_wallet_signs_in_and_pays_through_the_wallet(stack):
    anvil = stack["anvil"]
    wallet = anvil.wallet(5)  # the injected wallet's account: an unlocked, funded dev account
    a = Person(stack["browser"], injected=wallet, anvil=anvil)
    b = Person(stack["browser"])
    try:
        assert a.address == wallet.address
        url = a.open_dm_with(b)
        b.page.goto(url)
        a.say("signed in with my own wallet")
        expect(b.bubbles("signed in with my own wallet")).to_have_count(1)
        a.page.get_by_test_id("pay-amount").fill("0.5")
        a.page.get_by_test_id("pay-send").click()
        # The wallet answers through this test process, which serves it while it waits here: wait for the payment.
        expect(b.bubbles("Paid 0.5 CELO")).to_have_attribute("data-status", "provisional")
        anvil.finalize()
        expect(b.bubbles("Paid 0.5 CELO")).to_have_attribute("data-status", "confirmed")
        expect(a.bubbles("Paid 0.5 CELO")).to_have_attribute("data-status", "confirmed")
        assert a.errors == [] and b.errors == []
    finally:
        a.context.close()
        b.context.close()
