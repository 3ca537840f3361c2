"""The web app end to end: two people in real Chromium, the real backend, a real chain (anvil)."""
from __future__ import annotations

import json
import os
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote, unquote

import pytest
import requests
from eth_utils import keccak
from playwright.sync_api import Browser, ConsoleMessage, expect, sync_playwright

from optimistic_messaging.verifiers.xmtp import xmtp_message_id
from support import Peer, Wallet, siwe_text, wait_until
from chain import REVERTER, claim
from farcaster import Hub, QuickAuthKeys
from push_service import PushService
from web import (CHROMIUM, CHROMIUM_ARGS, QUICK_AUTH_PORT, USDT, USDT_ADAPTER, WEB_PORT, WEB_URL, FarcasterClient,
                 FarcasterHost, MiniPayWallet, WebApp, backend, build_web, chain, erc20_balance, expose_wallet, give_usdt,
                 install_usdt)

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 424, "height": 860}  # a mini-app's viewport
MINIPAY_VIEWPORT = {"width": 360, "height": 640}  # MiniPay on a small Android phone
# Steps wait on the fallback's grace, reconnect backoff and fsyncs with two browsers, Next, anvil and the backend
# sharing two cores: Playwright's 5 s default is too tight for a loaded machine (a bound on waiting, not a timing assertion).
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("web-stack")
    build_web()
    with ExitStack() as running:  # each part stopped, last started first, even if another one's stop fails
        anvil = chain(folder)
        running.callback(anvil.stop)
        install_usdt(anvil)
        hub, quick_auth = Hub(), QuickAuthKeys(QUICK_AUTH_PORT)  # the Farcaster stand-ins (tests/farcaster.py)
        running.callback(hub.close)
        running.callback(quick_auth.close)
        server = backend(folder, anvil, {"NOTIFY_ALLOW_HOSTS": "127.0.0.1", "PUSH_COALESCE_S": "1",
                                         "FARCASTER_HUB_URL": hub.url, "FARCASTER_AUTH_JWKS_URL": quick_auth.jwks_url})
        running.callback(server.stop)
        web = WebApp(folder)
        running.callback(web.stop)
        web.start()
        p = running.enter_context(sync_playwright())
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        running.callback(browser.close)
        yield {"anvil": anvil, "server": server, "browser": browser, "folder": folder, "quick_auth": quick_auth}


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
    """One browser context signed in with a burner wallet, an injected one, MiniPay's, or a Farcaster client's; and its
    pages' console errors. `page` is where the app is: the tab, or inside a Farcaster client the app's frame (`tab`)."""

    def __init__(self, browser: Browser, injected: Any = None, anvil: Any = None, minipay: MiniPayWallet | None = None,
                 farcaster: FarcasterClient | None = None, viewport: dict[str, int] = VIEWPORT,
                 init_script: str | None = None) -> None:
        self.context = browser.new_context(viewport=viewport, has_touch=True)
        if init_script is not None:
            self.context.add_init_script(init_script)
        if injected is not None:
            self.context.add_init_script(f"window.OM_WALLET_ADDRESS = {injected.address!r};" + INJECTED_WALLET)
            expose_wallet(self.context, injected.account, anvil)
        if minipay is not None:
            minipay.install(self.context)
        if farcaster is not None:
            farcaster.install(self.context)
        self.tab = self.context.new_page()
        self.errors: list[str] = []
        self.tab.on("console", self._console)
        self.tab.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        self.tab.goto(farcaster.url if farcaster else WEB_URL)
        self.page: Any = self.tab.wait_for_selector("#app").content_frame() if farcaster else self.tab
        button = ("signin-minipay" if minipay else "signin-farcaster" if farcaster
                  else "signin-injected" if injected is not None else "signin-burner")
        self.page.get_by_test_id(button).click()
        self.address = self.page.get_by_test_id("my-address").get_attribute("data-address") or ""
        assert re.fullmatch(r"0x[0-9a-fA-F]{40}", self.address)
        self.name = self.page.get_by_test_id("my-address").inner_text()  # how the app names this person to others

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    @property
    def token(self) -> str:
        return json.loads(self.page.evaluate("localStorage.getItem('om.session')"))["token"]

    def open_dm_with(self, other: "Person") -> str:
        self.page.get_by_test_id("dm-address").fill(other.address)
        self.page.get_by_test_id("dm-start").click()
        self.page.wait_for_url(re.compile(r"/chats/"))
        return self.page.url

    def bubbles(self, body: str):
        return self.page.locator(f'[data-testid="message"][data-body="{body}"]')

    def message(self, message_id: str):
        return self.page.locator(f'[data-testid="message"][data-id="{message_id}"]')

    def say(self, text: str) -> None:
        self.page.get_by_test_id("composer").fill(text)
        self.page.get_by_test_id("composer").press("Enter")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(stack) -> Iterator[Callable[..., Person]]:
    """Open browser people; each is closed after the test."""
    opened: list[Person] = []

    def person(**kw: Any) -> Person:
        opened.append(Person(stack["browser"], **kw))
        return opened[-1]

    yield person
    for p in opened:
        p.close()


@pytest.fixture
def two(people) -> tuple[Person, Person]:
    return people(), people()


def screenshot(person: Person, name: str) -> None:
    """For the README: E2E_SCREENSHOT_DIR=docs/screenshots ./run-tests.sh tests/test_web_e2e.py"""
    folder = Path(os.environ.get("E2E_SCREENSHOT_DIR", "/tmp"))
    person.tab.screenshot(path=str(folder / f"{name}.png"))


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
    # A plain message wears no settlement badge, only its ticks; a DM's bubbles do not repeat the other's name.
    expect(a.bubbles("gm frens").get_by_test_id("status")).to_have_count(0)
    expect(a.bubbles("gm frens").get_by_test_id("ticks")).to_have_text(re.compile(r"^✓"))
    expect(b.bubbles("gm frens").locator(".sender")).to_have_count(0)
    b.say("wagmi")
    expect(a.bubbles("wagmi")).to_have_count(1)
    b.page.reload()
    expect(b.bubbles("gm frens")).to_have_count(1)
    expect(b.bubbles("wagmi")).to_have_count(1)
    assert a.errors == [] and b.errors == []


def test_the_browser_going_offline_shows_offline_and_nobody_online_at_once_then_comes_back(two):
    a, b = two
    url = a.open_dm_with(b)
    b.page.goto(url)
    expect(a.page.get_by_test_id(f"presence-{b.address}")).to_have_attribute("data-online", "true")
    a.context.set_offline(True)  # the browser's offline event: no waiting for a ping to time out
    try:
        expect(a.page.get_by_test_id("connection")).to_have_attribute("data-kind", "Offline", timeout=3000)
        expect(a.page.get_by_test_id(f"presence-{b.address}")).to_have_attribute("data-online", "false", timeout=3000)
        a.say("sent from offline")
        expect(a.bubbles("sent from offline")).to_have_attribute("data-status", "sending")
    finally:
        a.context.set_offline(False)
    expect(a.page.get_by_test_id("connection")).to_have_attribute("data-kind", "Fallback")
    expect(b.bubbles("sent from offline")).to_have_count(1)


def test_the_start_page_offers_the_address_whole_with_a_copy_button_and_lists_chats_with_pictures(two):
    a, b = two
    a.page.get_by_test_id("my-address").locator("xpath=..").get_by_text("Your address, to share").click()
    halves = a.page.get_by_test_id("address-text").locator("span")
    expect(halves).to_have_count(2)
    assert "".join(halves.all_inner_texts()) == a.address
    heights = {round(h.bounding_box()["height"]) for h in halves.all()}
    assert len(heights) == 1  # never one character alone on a line
    a.context.grant_permissions(["clipboard-read", "clipboard-write"])
    a.page.get_by_test_id("address-copy").click()
    expect(a.page.get_by_test_id("address-copy")).to_have_text("Copied")
    assert a.page.evaluate("navigator.clipboard.readText()") == a.address
    a.open_dm_with(b)
    a.say("hello there")
    a.page.get_by_test_id("back").click()
    item = a.page.get_by_test_id("chat-item")
    expect(item.get_by_test_id("avatar")).to_have_count(1)


def test_at_360_px_a_message_offers_react_reply_copy_and_delete_without_overflowing(people):
    a, b = people(viewport=MINIPAY_VIEWPORT), people(viewport=MINIPAY_VIEWPORT)
    url = a.open_dm_with(b)
    b.page.goto(url)
    a.say("a long word: " + "x" * 80)
    a.say("hello")
    b.context.grant_permissions(["clipboard-read", "clipboard-write"])
    b.bubbles("hello").get_by_test_id("message-menu").click()
    menu = b.bubbles("hello").get_by_test_id("message-actions")
    expect(menu.get_by_test_id("react-pick")).to_have_count(6)
    expect(menu.get_by_test_id("delete")).to_have_count(0)  # not b's message to delete
    menu.get_by_test_id("copy").click()
    expect(menu.get_by_test_id("copy")).to_have_text("Copied")
    assert b.page.evaluate("navigator.clipboard.readText()") == "hello"
    menu.get_by_test_id("reply").click()
    expect(b.page.get_by_test_id("replying")).to_contain_text("hello")
    screenshot(b, "reply-360")
    b.page.get_by_test_id("reply-cancel").click()
    expect(b.page.get_by_test_id("replying")).to_have_count(0)
    a.bubbles("hello").get_by_test_id("message-menu").click()
    a.bubbles("hello").get_by_test_id("delete").click()
    expect(a.bubbles("hello").get_by_test_id("delete-confirm")).to_be_visible()  # asked first
    a.bubbles("hello").get_by_test_id("delete-cancel").click()
    for person in (a, b):
        assert person.page.evaluate("document.scrollingElement.scrollWidth") <= 360


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


def test_an_injected_wallet_signs_in_and_pays_through_the_wallet(stack, people):
    anvil = stack["anvil"]
    wallet = anvil.wallet(5)  # the injected wallet's account: an unlocked, funded dev account
    a = people(injected=wallet, anvil=anvil)
    b = people()
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


def test_a_renewed_session_keeps_the_page_as_it_was_and_sign_out_ends_it_on_the_server(people, stack):
    """SessionKeeper renews the token once it is due (here at once: the stored session is made old); the page carries
    on with the new token instead of starting over (what was typed stays). Sign out then ends that session on the
    server: the token and the one it was renewed from are refused."""
    a = people()
    a.page.get_by_test_id("dm-address").fill("0xAbC")
    old = a.token
    a.page.evaluate("""() => {
      const session = JSON.parse(localStorage.getItem('om.session'));
      localStorage.setItem('om.session', JSON.stringify({ ...session, issued_at: 0 }));
      window.dispatchEvent(new Event('om-session-changed'));
    }""")
    a.page.wait_for_function("old => JSON.parse(localStorage.getItem('om.session')).token !== old", arg=old)
    expect(a.page.get_by_test_id("dm-address")).to_have_value("0xAbC")
    expect(a.page.get_by_test_id("chat-list")).to_have_attribute("aria-busy", "false")
    renewed = a.token
    a.page.get_by_role("button", name="Sign out").click()
    expect(a.page.get_by_test_id("signin-burner")).to_be_visible()
    for token in (old, renewed):
        assert stack["server"].get("/api/chats", token).status_code == 401
    assert a.errors == []


# ---- MiniPay: sign-in by transaction, stablecoins, no addresses on screen ----

@pytest.fixture
def tx_sign_in(stack) -> None:
    """Sign-in by transaction is the backend's (docs/protocol.md v1.1); a backend without it yet cannot be tested."""
    if stack["server"].post("/api/auth/verify-tx", {}).status_code == 404:
        pytest.skip("this backend has no POST /api/auth/verify-tx yet")


@pytest.fixture
def minipay(stack, tx_sign_in, people) -> tuple[Person, MiniPayWallet]:
    wallet = MiniPayWallet(stack["anvil"])
    give_usdt(stack["anvil"], wallet.address, 20 * 10**6)
    return people(minipay=wallet, viewport=MINIPAY_VIEWPORT), wallet


def test_minipay_signs_in_by_a_legacy_transaction_to_itself_without_a_connect_button(stack, tx_sign_in, people):
    wallet = MiniPayWallet(stack["anvil"])
    give_usdt(stack["anvil"], wallet.address, 10**6)
    context = stack["browser"].new_context(viewport=MINIPAY_VIEWPORT, has_touch=True)
    wallet.install(context)
    page = context.new_page()
    try:
        page.goto(WEB_URL)
        expect(page.get_by_test_id("signin-minipay")).to_be_enabled()  # already connected: no connect button
        expect(page.get_by_test_id("signin-burner")).to_have_count(0)
        expect(page.get_by_test_id("signin-injected")).to_have_count(0)
        page.get_by_test_id("signin-minipay").click()
        expect(page.get_by_test_id("my-address")).to_have_attribute("data-address", wallet.address)
        [tx] = wallet.requests
        assert tx["from"].lower() == tx["to"].lower() == wallet.address.lower() and int(tx["value"], 16) == 0
        assert bytes.fromhex(tx["data"][2:]).decode().startswith(f"optimistic-messaging sign-in 127.0.0.1:{WEB_PORT} ")
        assert tx["feeCurrency"].lower() == USDT_ADAPTER.lower()  # MiniPay holds no CELO: the fee in USDT
        assert not {"maxFeePerGas", "maxPriorityFeePerGas", "type"} & tx.keys()
    finally:
        context.close()


def test_minipay_keeps_its_session_across_a_reload_without_another_transaction(minipay):
    person, wallet = minipay
    person.page.reload()
    expect(person.page.get_by_test_id("my-address")).to_have_attribute("data-address", wallet.address)
    assert len(wallet.requests) == 1


def test_minipay_never_shows_a_wallet_address_only_names(minipay, people):
    person, _ = minipay
    friend = people()

    def no_address_on_screen(where: str) -> None:
        # Not whole, not shortened ("0x1a2b…9f"): nothing address-like at all.
        text = person.page.locator("body").inner_text()
        assert not re.search(r"0x[0-9a-fA-F]{4}", text), f"an address on the {where}: {text!r}"

    no_address_on_screen("start page")
    person.open_dm_with(friend)
    person.say("hello from minipay")
    expect(person.bubbles("hello from minipay")).to_have_count(1)
    expect(person.page.get_by_test_id("chat-title")).not_to_have_text(re.compile("0x"))
    no_address_on_screen("chat")
    person.page.get_by_test_id("members-toggle").click()
    expect(person.page.get_by_test_id("member")).to_have_count(2)
    no_address_on_screen("members panel")
    person.page.get_by_test_id("back").click()
    expect(person.page.get_by_test_id("chat-item")).to_have_count(1)
    no_address_on_screen("chat list")


def test_minipay_pays_in_usdt_with_a_legacy_erc20_transfer_and_the_fee_in_usdt(minipay, people, stack):
    person, wallet = minipay
    friend = people()
    anvil = stack["anvil"]
    url = person.open_dm_with(friend)
    friend.page.goto(url)
    expect(person.page.get_by_test_id("pay-token")).to_have_value("USDT")
    # The whole balance (20 USDT) covers the amount but not the network fee, paid in USDT too: refused before the
    # wallet is asked, saying so, with MiniPay's page for adding cash.
    person.page.get_by_test_id("pay-amount").fill("20")
    person.page.get_by_test_id("pay-send").click()
    expect(person.page.get_by_test_id("pay-error")).to_contain_text(
        "Not enough USDT for this payment and its network fee: it needs 20.0")
    expect(person.page.get_by_test_id("add-cash")).to_have_attribute("href", "https://link.minipay.xyz/add_cash")
    assert len(wallet.requests) == 1  # the sign-in only
    person.page.get_by_test_id("pay-amount").fill("1,5")  # a phone's decimal comma
    person.page.get_by_test_id("pay-send").click()
    expect(friend.bubbles("Paid 1.5 USDT")).to_have_attribute("data-status", "provisional")
    transfer = wallet.requests[-1]
    assert transfer["to"].lower() == USDT.lower() and transfer["data"].startswith("0xa9059cbb")  # transfer(address,uint256)
    assert transfer["feeCurrency"].lower() == USDT_ADAPTER.lower()
    assert erc20_balance(anvil, USDT, friend.address) == 1_500_000
    anvil.finalize()
    expect(friend.bubbles("Paid 1.5 USDT")).to_have_attribute("data-status", "confirmed")
    expect(person.bubbles("Paid 1.5 USDT")).to_have_attribute("data-status", "confirmed")
    screenshot(person, "minipay-chat")
    assert person.errors == [] and friend.errors == []


# ---- Inside a Farcaster client ----

@pytest.fixture(scope="module")
def farcaster_host(stack) -> Iterator[FarcasterHost]:
    host = FarcasterHost(stack["folder"])
    yield host
    host.close()


@pytest.fixture
def farcaster(stack, farcaster_host, people) -> tuple[Person, FarcasterClient]:
    client = FarcasterClient(farcaster_host, stack["anvil"])
    return people(farcaster=client), client


def test_inside_a_farcaster_client_the_app_says_ready_and_signs_in_with_the_clients_wallet(farcaster):
    person, client = farcaster
    assert person.tab.evaluate("window.omReady") is True  # the client's splash is gone only once the app said ready()
    expect(person.page.get_by_test_id("my-address")).to_have_attribute("data-address", client.address)
    asked = client.requests(person.tab)
    [signed] = [r["params"] for r in asked if r["method"] == "personal_sign"]  # SIWE, through the client's wallet
    text = bytes.fromhex(signed[0][2:]).decode() if signed[0].startswith("0x") else signed[0]
    assert text.startswith(f"127.0.0.1:{WEB_PORT} wants you to sign in with your Ethereum account:\n{client.address}")
    assert signed[1].lower() == client.address.lower()
    assert "eth_sendTransaction" not in [r["method"] for r in asked]  # it can sign messages: no sign-in transaction


def test_inside_a_farcaster_client_the_app_offers_only_the_clients_wallet(stack, farcaster_host):
    context = stack["browser"].new_context(viewport=VIEWPORT)
    client = FarcasterClient(farcaster_host, stack["anvil"])
    client.install(context)
    try:
        tab = context.new_page()
        tab.goto(client.url)
        app = tab.frame_locator("#app")
        expect(app.get_by_test_id("signin-farcaster")).to_be_enabled()
        expect(app.get_by_test_id("signin-burner")).to_have_count(0)
        expect(app.get_by_test_id("signin-injected")).to_have_count(0)
    finally:
        context.close()


def test_inside_a_farcaster_client_people_chat_both_ways(farcaster, people):
    person, _ = farcaster
    friend = people()
    url = person.open_dm_with(friend)
    friend.page.goto(url)
    person.say("gm from a cast")
    expect(friend.bubbles("gm from a cast")).to_have_count(1)
    friend.say("gm back")
    expect(person.bubbles("gm back")).to_have_count(1)
    screenshot(person, "farcaster-chat")
    assert person.errors == [] and friend.errors == []


# ---- Groups ----

@pytest.fixture
def group_members(stack) -> None:
    """Leaving needs the backend's DELETE …/members/<address> (docs/protocol.md v1.1), allowed for browsers."""
    preflight = stack["server"].request("OPTIONS", "/api/chats/x/members/y", headers={
        "Origin": WEB_URL, "Access-Control-Request-Method": "DELETE"})
    if "DELETE" not in preflight.headers.get("Access-Control-Allow-Methods", ""):
        pytest.skip("this backend does not let browsers remove chat members yet")


def create_group(person: Person, title: str, *members: Person) -> str:
    person.page.get_by_test_id("group-title").fill(title)
    person.page.get_by_test_id("group-members").fill("\n".join(m.address for m in members))
    person.page.get_by_test_id("group-create").click()
    person.page.wait_for_url(re.compile(r"/chats/"))
    return person.page.url


def members_count(person: Person):
    return person.page.get_by_test_id("members-toggle")


def test_a_group_is_created_with_a_title_and_its_members_see_it_in_their_list(people):
    a, b, c = people(), people(), people()
    create_group(a, "Weekend trip", b, c)
    expect(a.page.get_by_test_id("chat-title")).to_have_text("Weekend trip")
    expect(members_count(a)).to_have_text("3 members")
    b.page.reload()
    b.page.get_by_test_id("chat-item").filter(has_text="Weekend trip").click()
    a.say("who is in?")
    expect(b.bubbles("who is in?")).to_have_count(1)
    b.page.get_by_test_id("members-toggle").click()
    expect(b.page.get_by_test_id("member")).to_have_count(3)


def lookalike(address: str) -> Wallet:
    """A wallet the app names as it names `address` (apps/web/src/lib/names.ts: two words of 64, picked by the first two
    bytes of keccak(address)): one key in 4,096, ground in a moment."""

    def words(of: str) -> tuple[int, int]:
        digest = keccak(bytes.fromhex(of[2:]))
        return digest[0] % 64, digest[1] % 64

    while True:
        wallet = Wallet()
        if words(wallet.address) == words(address) and wallet.address.lower() != address.lower():
            return wallet


def test_two_people_in_a_chat_who_show_as_the_same_name_are_told_apart_by_tags_of_their_addresses(people, stack):
    alice, bob = people(), people()
    mallory = people(injected=lookalike(alice.address), anvil=stack["anvil"])  # made to pass as Alice
    url = create_group(alice, "Book club", bob, mallory)
    bob.page.goto(url)
    mallory.page.goto(url)
    alice.say("meet at 8")
    mallory.say("no, at 9")
    tagged = re.compile(r"^(.+) #([0-9a-f]{4})$")
    first = bob.bubbles("meet at 8").locator(".sender")
    second = bob.bubbles("no, at 9").locator(".sender")
    expect(first).to_have_text(tagged)
    expect(second).to_have_text(tagged)
    (name_a, tag_a), (name_m, tag_m) = (tagged.match(x.inner_text()).groups() for x in (first, second))
    assert name_a == name_m and tag_a != tag_m
    bob.page.get_by_test_id("members-toggle").click()
    expect(bob.page.get_by_test_id("member").filter(has_text=f"#{tag_m}")).to_have_count(1)


def test_a_member_added_shows_up_at_once_in_every_members_list(people, group_members):
    a, b, c, d = people(), people(), people(), people()
    url = create_group(a, "Book club", b, c)
    b.page.goto(url)
    expect(members_count(b)).to_have_text("3 members")
    a.page.get_by_test_id("members-toggle").click()
    a.page.get_by_test_id("add-members").fill(d.address)
    a.page.get_by_test_id("add-members-submit").click()
    expect(members_count(b)).to_have_text("4 members")  # chat:update, live
    expect(a.page.locator(f'[data-testid="member"][data-address="{d.address}"]')).to_have_count(1)
    d.page.goto(url)
    expect(d.page.get_by_test_id("chat-title")).to_have_text("Book club")
    screenshot(a, "group")
    # The creator removes d: everyone's list follows, and d can no longer write there.
    expect(a.page.get_by_role("button", name=re.compile(r"^Remove "))).to_have_count(3)  # each says whom
    a.page.locator(f'[data-testid="member"][data-address="{d.address}"]').get_by_test_id("member-remove").click()
    a.page.get_by_test_id("member-remove-confirm").click()  # asked first: it cannot be undone
    expect(members_count(b)).to_have_text("3 members")
    expect(d.page.get_by_test_id("not-member")).to_contain_text("You are no longer a member of this chat")
    expect(d.page.get_by_test_id("composer")).to_be_disabled()


def test_a_member_added_sees_the_group_from_then_on_unless_its_history_is_shared(people, group_members):
    a, b, c, d = people(), people(), people(), people()
    url = create_group(a, "Newcomers", b, Wallet())  # a third member: a group, not a DM
    b.page.goto(url)
    a.say("before c came")
    expect(b.bubbles("before c came")).to_have_count(1)  # stored before c is added
    a.page.get_by_test_id("members-toggle").click()
    expect(a.page.get_by_test_id("share-history")).not_to_be_checked()  # the default: from then on, as on XMTP
    a.page.get_by_test_id("add-members").fill(c.address)
    a.page.get_by_test_id("add-members-submit").click()
    expect(a.page.locator(f'[data-testid="member"][data-address="{c.address}"]')).to_have_count(1)
    a.say("after c came")
    c.page.goto(url)
    expect(c.bubbles("after c came")).to_have_count(1)
    expect(c.bubbles("before c came")).to_have_count(0)
    a.page.get_by_test_id("add-members").fill(d.address)
    a.page.get_by_test_id("share-history").check()
    a.page.get_by_test_id("add-members-submit").click()
    expect(a.page.locator(f'[data-testid="member"][data-address="{d.address}"]')).to_have_count(1)
    d.page.goto(url)
    expect(d.bubbles("before c came")).to_have_count(1)
    expect(d.bubbles("after c came")).to_have_count(1)


def test_leaving_a_group_stops_writing_there_and_the_others_see_the_member_go(people, group_members):
    a, b, c = people(), people(), people()
    url = create_group(a, "Leavers", b, c)
    b.page.goto(url)
    expect(members_count(a)).to_have_text("3 members")
    b.page.get_by_test_id("members-toggle").click()
    b.page.get_by_test_id("leave-group").click()
    expect(members_count(a)).to_have_text("3 members")  # nothing happens before the confirmation
    b.page.get_by_test_id("leave-group-confirm").click()
    expect(b.page.get_by_test_id("not-member")).to_contain_text("You left this group")
    expect(b.page.get_by_test_id("composer")).to_be_disabled()
    expect(members_count(a)).to_have_text("2 members")
    b.page.goto(WEB_URL)
    expect(b.page.get_by_test_id("chat-item").filter(has_text="Leavers")).to_have_count(0)


def test_a_dm_with_yourself_is_refused_with_a_message(people):
    a = people()
    a.page.get_by_test_id("dm-address").fill(a.address)
    a.page.get_by_test_id("dm-start").click()
    expect(a.page.get_by_test_id("dm-error")).to_have_text("That is your own address: add someone else")
    expect(a.page).to_have_url(WEB_URL + "/")


def test_a_group_of_one_other_person_says_it_is_a_dm_before_it_is_started(two):
    a, b = two
    a.page.get_by_test_id("group-title").fill("Just us")
    a.page.get_by_test_id("group-members").fill(b.address)
    expect(a.page.get_by_test_id("group-dm-warning")).to_contain_text("With one other person this is a DM")
    expect(a.page.get_by_test_id("group-create")).to_have_text("Start DM instead")
    a.page.get_by_test_id("group-members").fill(f"{b.address}\n{a.address}")  # myself does not count
    expect(a.page.get_by_test_id("group-dm-warning")).to_be_visible()
    a.page.get_by_test_id("group-create").click()
    a.page.wait_for_url(re.compile(r"/chats/dm(:|%3A)"))
    expect(a.page.get_by_test_id("members-toggle")).to_have_text("2 members")
    expect(a.page.get_by_test_id("chat-title")).not_to_have_text("Just us")  # a DM is titled by the other person
    a.page.goto(WEB_URL)
    a.page.get_by_test_id("group-members").fill(f"{b.address}\n0x{'3' * 40}")
    expect(a.page.get_by_test_id("group-dm-warning")).to_have_count(0)


def test_a_chat_you_are_not_in_says_so_and_cannot_be_written_to(people):
    a, b, outsider = people(), people(), people()
    url = a.open_dm_with(b)
    outsider.page.goto(url)
    expect(outsider.page.get_by_test_id("not-member")).to_contain_text("You are not a member of this chat")
    expect(outsider.page.get_by_test_id("composer")).to_be_disabled()
    expect(outsider.page.get_by_test_id("chat-title")).to_have_text("Chat")  # not the raw id
    expect(outsider.page.get_by_test_id("message")).to_have_count(0)


# ---- The composer ----

def test_a_text_over_the_limit_is_counted_and_refused_not_cut(two):
    a, b = two
    a.open_dm_with(b)
    back = a.page.get_by_test_id("back").bounding_box()
    assert back["width"] >= 44 and back["height"] >= 44  # a thumb's tap target, not a 15 px arrow
    composer = a.page.get_by_test_id("composer")
    one_line = composer.bounding_box()["height"]
    composer.fill("x" * 5000)
    expect(a.page.get_by_test_id("composer-count")).to_have_text("5,000 / 4,000")
    expect(a.page.get_by_test_id("composer-error")).to_contain_text("remove 1,000")
    expect(a.page.get_by_role("button", name="Send message")).to_be_disabled()
    composer.press("Enter")
    expect(a.page.get_by_test_id("message")).to_have_count(0)
    assert composer.input_value() == "x" * 5000  # nothing silently cut
    assert composer.bounding_box()["height"] > one_line  # it grew with its text


# ---- Statuses people can read ----

def test_every_status_has_its_own_badge_and_a_tap_explains_it(people, stack):
    """One chat holding a message in each state, as the server settles them: pending, confirmed, verified (a
    content-bound XMTP copy), corrected and retracted."""
    server, anvil = stack["server"], stack["anvil"]
    a = people()
    bob = anvil.wallet(6)
    nonce = server.get("/api/auth/nonce").json()["nonce"]
    text = siwe_text(bob.address, nonce, domain=f"127.0.0.1:{WEB_PORT}")
    bob.token = server.post("/api/auth/verify", {"message": text, "signature": bob.sign(text)}).json()["token"]
    group_id = os.urandom(16).hex()  # an XMTP conversation id: the server binds keyed copies to it
    chat = server.post("/api/chats", {"id": group_id, "members": [a.address]}, bob.token).json()["chat"]
    a.page.goto(f"{WEB_URL}/chats/{chat['id']}")
    peer = Peer(server, bob.token)
    try:
        peer.join(chat["id"])
        never_mined = "0x" + os.urandom(32).hex()
        peer.send(chat["id"], "Paid 2 CELO", tx=claim(never_mined, a.address, 2 * 10**18))  # stays pending
        peer.send(chat["id"], "plain text")  # confirmed by the fallback after its grace
        client_id = os.urandom(8).hex()
        sent = peer.send(chat["id"], "bound to XMTP", client_id=client_id)["message"]
        peer.call("attest", {"chat_id": chat["id"], "message_id": sent["id"], "keyed": True,
                             "xmtp_id": xmtp_message_id(chat["id"], client_id, "bound to XMTP")})
        short = anvil.send(bob, a.address, 10**18)
        peer.send(chat["id"], "Paid 3 CELO", tx=claim(short, a.address, 3 * 10**18))  # the chain says 1: corrected
        reverted = anvil.send(bob, anvil.deploy(bob, REVERTER), gas=100_000)
        peer.send(chat["id"], "Paid 4 CELO", tx=claim(reverted, a.address, 4 * 10**18))  # reverted: retracted
        anvil.finalize()
    finally:
        peer.close()
    expected = {"Paid 2 CELO": ("pending", "Pending"), "bound to XMTP": ("verified", "Verified"),
                "Paid 3 CELO": ("corrected", "Corrected"), "Paid 4 CELO": ("retracted", "Retracted")}
    # A plain text is in no doubt once acknowledged: settled, it shows no badge (its sender's ticks say enough).
    expect(a.bubbles("plain text")).to_have_attribute("data-kind", "confirmed")
    expect(a.bubbles("plain text").get_by_test_id("status")).to_have_count(0)
    for body, (kind, label) in expected.items():
        expect(a.bubbles(body)).to_have_attribute("data-kind", kind)
        expect(a.bubbles(body).get_by_test_id("status")).to_contain_text(label)
    colours = {a.bubbles(body).get_by_test_id("status").evaluate("e => getComputedStyle(e).color") for body in expected}
    assert len(colours) == len(expected)  # told apart by colour too, not by words alone
    badge = a.bubbles("Paid 2 CELO").get_by_test_id("status")
    badge.tap()
    expect(a.bubbles("Paid 2 CELO").get_by_test_id("status-explanation")).to_be_visible()
    expect(a.bubbles("Paid 2 CELO").get_by_test_id("status-explanation")).to_contain_text("Pending: shown instantly")
    screenshot(a, "statuses")
    # The last message's explanation opens where it can be read: not under the composer.
    a.bubbles("Paid 4 CELO").get_by_test_id("status").tap()
    tip = a.bubbles("Paid 4 CELO").get_by_test_id("status-explanation")
    expect(tip).to_be_visible()
    composer_top = a.page.get_by_test_id("composer").bounding_box()["y"]
    assert tip.bounding_box()["y"] + tip.bounding_box()["height"] <= composer_top
    a.page.get_by_test_id("connection").tap()
    expect(a.page.get_by_test_id("connection-explanation")).to_contain_text("Fallback: XMTP is out of reach")


# ---- The chat people expect (v1.2): replies, reactions, delete for everyone, ticks, unread, a live list ----

def chat_id_of(url: str) -> str:
    return unquote(url.rsplit("/chats/", 1)[1])


def seq_of(bubble: Any) -> int:
    """The server's seq of a bubble, once it is acknowledged."""
    expect(bubble).to_have_attribute("data-seq", re.compile(r"^\d+$"))
    return int(bubble.get_attribute("data-seq"))


def wait_read(stack: dict[str, Any], person: Person, url: str, seq: int) -> None:
    """Until the server holds `person`'s read position in the chat at `url` at `seq` or past it: what the view marked
    once the message was on screen (no event tells this to a third party that shares no receipts)."""
    path = f"/api/chats/{quote(chat_id_of(url), safe='')}"
    wait_until(lambda: stack["server"].get(path, person.token).json()["chat"]["read_seq"] >= seq, 20,
               f"{person.name} to have read up to {seq}")


def colour(locator: Any) -> str:
    return locator.evaluate("e => getComputedStyle(e).color")


def whole(locator: Any) -> bool:
    """Nothing of its text is cut off, sideways or below its lines."""
    return locator.evaluate("e => e.scrollWidth <= e.clientWidth && e.scrollHeight <= e.clientHeight")


def test_two_people_reply_with_a_quote_that_jumps_react_and_delete_for_everyone(two):
    a, b = two
    url = a.open_dm_with(b)
    b.page.goto(url)
    a.say("where shall we meet?")
    for n in range(12):  # the question scrolls out of view
        a.say(f"meanwhile {n}")
    expect(b.bubbles("meanwhile 11")).to_have_count(1)
    b.bubbles("where shall we meet?").get_by_test_id("message-menu").click()
    b.bubbles("where shall we meet?").get_by_test_id("reply").click()
    expect(b.page.get_by_test_id("replying")).to_contain_text("where shall we meet?")
    b.say("at the station")
    expect(b.page.get_by_test_id("replying")).to_have_count(0)
    question, reply = a.bubbles("where shall we meet?"), a.bubbles("at the station")
    quote = reply.get_by_test_id("reply-quote")
    expect(quote.locator(".quote-name")).to_have_text("You")  # whose message it answers, and what it said
    expect(quote.locator(".quote-body")).to_have_text("where shall we meet?")
    expect(b.bubbles("at the station").locator(".quote-name")).to_have_text(a.name)
    expect(a.page.get_by_test_id("unread-divider")).to_have_count(0)  # a had the chat open: nothing came unseen
    # A reaction from the picker: both see its count; a tap on it says who.
    reply.get_by_test_id("message-menu").click()
    reply.get_by_test_id("message-actions").locator('[data-testid="react-pick"][data-emoji="👍"]').click()
    chip = b.bubbles("at the station").get_by_test_id("reaction")
    expect(chip).to_have_text("👍 1")
    chip.click()
    expect(b.bubbles("at the station").get_by_test_id("reaction-who")).to_contain_text(f"👍 {a.name}")
    b.bubbles("at the station").get_by_test_id("reaction-toggle").click()  # "React 👍": b joins in
    expect(reply.get_by_test_id("reaction")).to_have_text("👍 2")
    expect(reply.get_by_test_id("reaction")).to_have_class(re.compile(r"\bmine\b"))
    screenshot(a, "chat-a")
    screenshot(b, "chat-b")
    expect(question).not_to_be_in_viewport()
    quote.click()
    expect(question).to_be_in_viewport()
    expect(question).to_have_class(re.compile(r"\bflash\b"))
    b.say("see you there")  # what comes meanwhile does not pull a's view back to the newest
    expect(a.bubbles("see you there")).to_have_count(1)
    expect(question).to_be_in_viewport()
    # Delete for everyone: asked first, then gone on both sides, its reactions too.
    message_id = reply.get_attribute("data-id")
    b.bubbles("at the station").get_by_test_id("message-menu").click()
    b.bubbles("at the station").get_by_test_id("delete").click()
    b.bubbles("at the station").get_by_test_id("delete-confirm").click()
    for person in (a, b):
        deleted = person.message(message_id)
        expect(deleted).to_have_attribute("data-deleted", "true")
        expect(deleted.locator(".body")).to_have_text("This message was deleted")
        expect(deleted.get_by_test_id("reaction")).to_have_count(0)
        expect(deleted.get_by_test_id("message-menu")).to_have_count(0)
        expect(person.page.get_by_test_id("messages")).not_to_contain_text("at the station")
    assert a.errors == [] and b.errors == []


def test_at_360_px_the_ticks_move_as_the_other_person_gets_and_then_views_the_message(people):
    a, b = people(viewport=MINIPAY_VIEWPORT), people(viewport=MINIPAY_VIEWPORT)
    a.open_dm_with(b)
    assert whole(a.page.get_by_test_id("chat-title"))  # the other's name, not cut mid-word by the header's buttons
    b.page.goto("about:blank")  # b's app is closed: nothing reaches b's device
    a.say("are you there?")
    mine = a.bubbles("are you there?")
    ticks = mine.get_by_test_id("ticks")
    expect(mine).to_have_attribute("data-tick", "sent")
    expect(ticks).to_have_text("✓")
    b.page.goto(WEB_URL)  # b's chat list: the message reached b's device, not b's eyes
    expect(b.page.get_by_test_id("chat-item").get_by_test_id("unread")).to_have_text("1")
    expect(mine).to_have_attribute("data-tick", "delivered")
    expect(ticks).to_have_text("✓✓")
    delivered = colour(ticks)
    b.page.get_by_test_id("chat-item").click()  # b opens the chat: the message is on b's screen
    expect(mine).to_have_attribute("data-tick", "read")
    expect(ticks).to_have_text("✓✓")
    assert colour(ticks) != delivered  # read is told apart by colour
    b.say("here now")  # and the other way round: a has the chat open, so it is read at once
    expect(b.bubbles("here now")).to_have_attribute("data-tick", "read")
    assert a.errors == [] and b.errors == []


def test_at_360_px_a_chat_opens_at_the_first_unread_message_under_a_new_messages_divider(people, stack):
    a, b = people(viewport=MINIPAY_VIEWPORT), people(viewport=MINIPAY_VIEWPORT)
    url = a.open_dm_with(b)
    b.page.goto(url)
    a.say("read already")
    wait_read(stack, b, url, seq_of(b.bubbles("read already")))
    b.page.goto(WEB_URL)
    for n in range(12):
        a.say(f"new {n}")
    seq_of(a.bubbles("new 11"))  # all stored
    expect(b.page.get_by_test_id("chat-list")).to_have_attribute("aria-busy", "false")
    b.page.goto(url)
    divider = b.page.get_by_test_id("unread-divider")
    expect(divider).to_have_text("12 new messages")
    assert divider.evaluate("e => e.nextElementSibling.dataset.body") == "new 0"  # right before the first unread
    expect(b.bubbles("new 0")).to_be_in_viewport()  # the view opens there, not at the newest
    expect(b.bubbles("new 11")).not_to_be_in_viewport()
    # Read is what b's screen showed, no further: the rest reached b's device, not b's eyes.
    expect(a.bubbles("new 0")).to_have_attribute("data-tick", "read")
    expect(a.bubbles("new 11")).to_have_attribute("data-tick", "delivered")
    b.bubbles("new 11").scroll_into_view_if_needed()
    expect(a.bubbles("new 11")).to_have_attribute("data-tick", "read")
    b.say("sorry, was away")  # the divider stays where it was while b reads on, and counts what came meanwhile not
    a.say("welcome back")
    expect(b.bubbles("welcome back")).to_have_count(1)
    expect(divider).to_have_text("12 new messages")


def test_a_third_persons_list_follows_live_with_unread_badges_last_messages_and_seen_by(people):
    a, b, c = (people(viewport=MINIPAY_VIEWPORT) for _ in range(3))
    url = create_group(a, "Weekend", b, c)
    b.page.goto(url)
    group = c.page.get_by_test_id("chat-item").filter(has_text="Weekend")  # c stays on its list: it comes in live
    expect(group.get_by_test_id("chat-preview")).to_have_text("No messages yet")
    expect(group.get_by_test_id("unread")).to_have_count(0)
    a.say("who is coming?")
    a.say("saturday 10:00")
    expect(group.get_by_test_id("unread")).to_have_text("2")
    expect(group.get_by_test_id("chat-preview")).to_have_text(f"{a.name}: saturday 10:00")
    b.say("count me in")
    expect(group.get_by_test_id("unread")).to_have_text("3")
    expect(group.get_by_test_id("chat-preview")).to_have_text(f"{b.name}: count me in")
    seen = a.bubbles("saturday 10:00").get_by_test_id("seen-by")
    expect(seen).to_have_text("Seen by 1")  # b has the chat open
    # A new DM from b comes in at the top, its preview without a name (it is b's chat with c).
    b.page.goto(WEB_URL)
    b.open_dm_with(c)
    b.say("psst")
    expect(c.page.get_by_test_id("chat-item").first.get_by_test_id("chat-preview")).to_have_text("psst")  # at the top
    dm = c.page.get_by_test_id("chat-item").filter(has_not_text="Weekend")
    expect(dm.get_by_test_id("unread")).to_have_text("1")
    expect(group.get_by_test_id("unread")).to_have_text("3")
    screenshot(c, "chat-list")
    group.click()
    expect(c.bubbles("count me in")).to_be_in_viewport()
    expect(seen).to_have_text("Seen by 2")  # a, still in the group, sees c read it
    seen.click()
    names = a.bubbles("saturday 10:00").get_by_test_id("seen-by-names")
    expect(names).to_contain_text(b.name)
    expect(names).to_contain_text(c.name)
    c.page.get_by_test_id("back").click()
    expect(group.get_by_test_id("chat-preview")).to_have_text(f"{b.name}: count me in")
    expect(group.get_by_test_id("unread")).to_have_count(0)  # read: its badge is gone, the DM's stays
    expect(dm.get_by_test_id("unread")).to_have_text("1")
    dm.click()
    c.say("ok")
    c.page.get_by_test_id("back").click()
    expect(dm.get_by_test_id("chat-preview")).to_have_text("You: ok")
    expect(dm.get_by_test_id("unread")).to_have_count(0)
    assert a.errors == [] and b.errors == [] and c.errors == []


def test_with_read_receipts_off_in_settings_the_other_side_never_sees_read(people, stack):
    a, b = people(viewport=MINIPAY_VIEWPORT), people(viewport=MINIPAY_VIEWPORT)

    def share(on: bool) -> None:
        b.page.goto(WEB_URL)
        b.page.get_by_test_id("settings").locator("summary").click()
        b.page.get_by_test_id("share-read-receipts").set_checked(on)
        wait_until(lambda: stack["server"].get("/api/me/settings", b.token).json()["settings"]["read_receipts"] is on,
                   20, f"read_receipts {on} on the server")

    share(False)
    url = a.open_dm_with(b)
    b.page.goto(url)
    a.say("did you read this?")
    mine = a.bubbles("did you read this?")
    wait_read(stack, b, url, seq_of(b.bubbles("did you read this?")))
    b.say("maybe")  # after b's read: a receipt, were it shared, would have come first
    expect(a.bubbles("maybe")).to_have_count(1)
    assert mine.get_attribute("data-tick") == "sent"  # not read, not even delivered: nothing of b's is shown
    a.page.reload()
    expect(a.bubbles("maybe")).to_have_count(1)
    assert mine.get_attribute("data-tick") == "sent"
    share(True)
    a.page.reload()  # shared again: b's positions are in the join's receipts
    expect(mine).to_have_attribute("data-tick", "read")


# ---- Notifications (contract v1.2) and the offline shell ----

@pytest.fixture(scope="module")
def push_service(stack) -> Iterator[PushService]:
    service = PushService(stack["server"].get("/api/push/key").json()["public_key"])
    yield service
    service.close()


# Headless Chromium has no push service to subscribe with (Chrome's is Google's, out of reach here): this replaces
# only PushManager's subscribe (and getSubscription, which answers what subscribe made) with a subscription whose
# endpoint is the push-service stand-in and whose keys it holds. The key the app subscribed with is kept to be checked.
STAND_IN_SUBSCRIPTION = """
(() => {
  const made = () => JSON.parse(localStorage.getItem("test.push") || "null");
  const wrap = (json) => json && { endpoint: json.endpoint, expirationTime: null, toJSON: () => json,
    unsubscribe: async () => (localStorage.removeItem("test.push"), true) };
  PushManager.prototype.subscribe = async function (options) {
    const key = btoa(String.fromCharCode(...new Uint8Array(options.applicationServerKey)));
    window.omSubscribedWith = key.replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
    localStorage.setItem("test.push", JSON.stringify(%s));
    return wrap(made());
  };
  PushManager.prototype.getSubscription = async function () { return wrap(made()); };
})();
"""


def deliver_push(person: Person, payload: dict[str, Any]) -> None:
    """What the browser's push service would do: hand the (decrypted) payload to the page's service worker, here through
    the DevTools protocol."""
    cdp = person.context.new_cdp_session(person.tab)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    ours = lambda: [r for r in registrations if r["scopeURL"] == f"{WEB_URL}/" and not r["isDeleted"]]  # noqa: E731
    # The events arrive while Playwright waits on something: a trivial evaluate lets them in.
    wait_until(lambda: ours() or person.tab.evaluate("false"), 20, "the service worker's registration")
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": WEB_URL, "registrationId": ours()[-1]["registrationId"],
                                                  "data": json.dumps(payload)})
    cdp.detach()


def notifications(person: Person) -> list[dict[str, Any]]:
    return person.page.evaluate("""navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((shown) =>
        shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })))""")


def test_a_tap_turns_notifications_on_and_a_message_to_the_closed_chat_shows_one_that_opens_it(
        people, stack, push_service):
    """Real but for one call: the permission asked on the tap, the subscription PUT to the server, the server's push
    (VAPID-signed, aes128gcm-encrypted) checked and decrypted by the push-service stand-in, its payload delivered to the
    page's service worker through DevTools (`ServiceWorker.deliverPushMessage`) and the notification it shows. Headless
    Chromium cannot subscribe with a real push service, so `pushManager.subscribe` is replaced (STAND_IN_SUBSCRIPTION)
    by a subscription to the stand-in."""
    sub_id, subscription = push_service.subscribe()
    a = people(init_script=STAND_IN_SUBSCRIPTION % json.dumps(subscription))
    b = people()
    assert a.page.evaluate("Notification.permission") == "default"  # nothing asked on load
    a.context.grant_permissions(["notifications"], origin=WEB_URL)
    a.page.get_by_test_id("push-enable").click()
    expect(a.page.get_by_test_id("push-on")).to_be_visible()
    assert a.page.evaluate("window.omSubscribedWith") == push_service.server_key
    url = a.open_dm_with(b)
    b.page.goto(url)
    a.page.get_by_test_id("back").click()  # the chat closed: a's only socket has joined no chat
    expect(b.page.get_by_test_id(f"presence-{a.address}")).to_have_attribute("data-online", "false")
    b.say("are you there?")
    push = push_service.next(timeout=20)
    chat_id = unquote(url.rsplit("/", 1)[1])
    assert push.id == sub_id
    assert push.payload == {"type": "message", "chat_id": chat_id, "message_id": push.payload["message_id"],
                            "sender": b.address, "count": 1, "preview": "are you there?"}
    deliver_push(a, push.payload)
    wait_until(lambda: notifications(a), 20, "the notification")
    assert notifications(a) == [{"title": b.name, "body": "are you there?", "tag": f"message:{chat_id}",
                                 "data": {"url": url}}]

    # Previews off in Settings: the next push says who, not what.
    a.page.get_by_test_id("settings").locator("summary").click()
    a.page.get_by_test_id("push-previews").set_checked(False)
    wait_until(lambda: stack["server"].get("/api/me/settings", a.token).json()["settings"]["push_previews"] is False,
               20, "push_previews off on the server")
    b.say("a secret")
    push = push_service.next(timeout=20)
    assert (push.payload["preview"], push.payload["count"]) == (None, 1)
    deliver_push(a, push.payload)
    wait_until(lambda: notifications(a)[0]["body"] != "are you there?", 20, "the notification replaced")
    assert notifications(a) == [{"title": b.name, "body": "New message", "tag": f"message:{chat_id}",
                                 "data": {"url": url}}]

    # Off again: the subscription is deleted on the server, which then pushes nothing to it.
    a.page.get_by_test_id("push-disable").click()
    expect(a.page.get_by_test_id("push-enable")).to_be_visible()
    b.say("still there?")
    expect(b.bubbles("still there?")).to_have_attribute("data-status", "confirmed")
    assert push_service.pushes.empty()
    assert a.errors == [] and b.errors == []


def test_sign_out_ends_this_browsers_push_subscription_too(people, push_service):
    """The server ends the session's subscriptions; the browser ends its own with the push service as well, so that
    pushes stop even when the server could not be told, and the next person here is not shown this one's messages."""
    _, subscription = push_service.subscribe()
    a = people(init_script=STAND_IN_SUBSCRIPTION % json.dumps(subscription))
    a.context.grant_permissions(["notifications"], origin=WEB_URL)
    a.page.get_by_test_id("push-enable").click()
    expect(a.page.get_by_test_id("push-on")).to_be_visible()
    a.page.get_by_role("button", name="Sign out").click()
    expect(a.page.get_by_test_id("signin-burner")).to_be_visible()
    subscribed = "navigator.serviceWorker.ready.then((r) => r.pushManager.getSubscription()).then(Boolean)"
    wait_until(lambda: not a.page.evaluate(subscribed), 20, "the browser's subscription ended")
    a.page.get_by_test_id("signin-burner").click()  # someone else here: nothing says notifications are on
    expect(a.page.get_by_test_id("push-enable")).to_be_visible()
    assert a.errors == []


def test_an_offline_reload_shows_the_chat_with_its_messages(two):
    a, b = two
    url = a.open_dm_with(b)
    b.page.goto(url)
    b.say("still here offline")
    expect(a.bubbles("still here offline")).to_have_count(1)
    # The service worker keeps the page the app's router opened (it saw no navigation to it) and its files.
    wait_until(lambda: a.page.evaluate("caches.match(location.href).then(Boolean)"), 20, "the chat's page kept")
    a.context.set_offline(True)
    try:
        a.page.reload()
        expect(a.bubbles("still here offline")).to_have_count(1)
        expect(a.page.get_by_test_id("connection")).to_have_attribute("data-kind", "Offline")
    finally:
        a.context.set_offline(False)
    expect(a.page.get_by_test_id("connection")).to_have_attribute("data-kind", "Fallback")


def kept_pages(person: Person) -> list[str]:
    """The pages the service worker keeps for offline reloads (not the build's files), in every build's shell cache."""
    return person.page.evaluate("""caches.keys()
        .then((names) => Promise.all(names.filter((n) => n.startsWith("om-shell-")).map((n) => caches.open(n))))
        .then((shells) => Promise.all(shells.map((c) => c.keys())))
        .then((keys) => keys.flat().map((k) => k.url).filter((url) => !url.includes("/_next/")))""")


def shell_caches(page: Any) -> list[str]:
    return page.evaluate("caches.keys().then((names) => names.filter((n) => n.startsWith('om-shell-')).sort())")


def test_the_service_worker_of_a_build_deletes_the_shell_caches_older_builds_left(stack):
    """Old builds' pages and files must not pile up on the device across deploys."""
    context = stack["browser"].new_context()
    try:
        page = context.new_page()
        page.goto(f"{WEB_URL}/icon-1024.png")  # the origin, without the app (which registers the worker)
        page.evaluate("""Promise.all(["om-shell-v1", "om-shell-0123456789abcdef"].map((name) => caches.open(name)
            .then((c) => c.put(`/_next/static/chunks/of-${name}.js`, new Response("old")))))""")
        assert shell_caches(page) == ["om-shell-0123456789abcdef", "om-shell-v1"]
        page.goto(WEB_URL)
        page.evaluate("navigator.serviceWorker.ready")
        wait_until(lambda: len(shell_caches(page)) == 1 and "om-shell-v1" not in shell_caches(page)
                   and "om-shell-0123456789abcdef" not in shell_caches(page), 20, "the older shells deleted")
    finally:
        context.close()


def test_the_farcaster_manifests_icon_and_splash_are_pngs_of_the_sizes_farcaster_asks(stack):
    manifest = requests.get(f"{WEB_URL}/.well-known/farcaster.json", timeout=10).json()["miniapp"]
    for url, size in ((manifest["iconUrl"], 1024), (manifest["splashImageUrl"], 200)):
        image = requests.get(url, timeout=10)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png", url
        assert image.content[:8] == b"\x89PNG\r\n\x1a\n" and image.content[12:16] == b"IHDR"
        width, height = int.from_bytes(image.content[16:20]), int.from_bytes(image.content[20:24])
        assert (width, height, image.content[25]) == (size, size, 2), url  # colour type 2: RGB, no alpha


def test_offline_a_chat_never_opened_here_says_so_and_opens_again_once_the_network_is_back(two):
    a, b = two
    url = b.open_dm_with(a)  # a's chat too, but never opened in a's browser
    wait_until(lambda: f"{WEB_URL}/" in kept_pages(a), 20, "the start page kept")
    a.context.set_offline(True)
    try:
        a.page.goto(url)  # not the browser's error page
        expect(a.page.get_by_test_id("offline-page")).to_contain_text("You are offline")
        a.page.get_by_test_id("offline-home").click()
        expect(a.page.get_by_test_id("my-address")).to_have_attribute("data-address", a.address)
        a.page.goto(url)
        a.page.get_by_test_id("offline-retry").click()
        expect(a.page.get_by_test_id("offline-page")).to_be_visible()
    finally:
        a.context.set_offline(False)
    a.page.get_by_test_id("offline-retry").click()
    expect(a.page.get_by_test_id("composer")).to_be_visible()
    # The browser logs each request the network refused (and the 503 of the page that says so): no error of the app's.
    assert [e for e in a.errors if e.startswith("pageerror")] == [] and b.errors == []


def test_sign_out_forgets_the_kept_pages_that_name_the_persons_chats(two):
    """A DM's page names both addresses: on a shared device, signing out must not leave whom one talked with behind."""
    a, b = two
    url = a.open_dm_with(b)
    wait_until(lambda: url in kept_pages(a), 20, "the chat's page kept")
    a.page.get_by_test_id("back").click()
    a.page.get_by_role("button", name="Sign out").click()
    expect(a.page.get_by_test_id("signin-burner")).to_be_visible()
    wait_until(lambda: url not in kept_pages(a), 20, "the chat's page forgotten")
    assert kept_pages(a) == [f"{WEB_URL}/"]  # the start page stays: the app still opens offline
    assert a.errors == []


def test_inside_a_farcaster_client_adding_the_app_is_offered_once_and_links_the_fid_by_quick_auth(farcaster, stack):
    person, client = farcaster
    expect(person.page.get_by_test_id("notifications")).to_have_attribute("data-offer", "farcaster")
    with person.tab.expect_response(lambda r: r.url.endswith("/api/farcaster/link")) as linked:
        person.page.get_by_test_id("farcaster-add").click()
    assert linked.value.status == 200 and linked.value.json() == {"fid": 4242, "address": client.address}
    [token] = stack["quick_auth"].issued  # Quick Auth's token, for this app's domain
    assert json.loads(linked.value.request.post_data or "{}") == {"token": token}
    assert person.tab.evaluate("window.omAddRequests") == 1
    expect(person.page.get_by_test_id("notifications")).to_have_attribute("data-offer", "none")
    person.tab.reload()
    app = person.tab.frame_locator("#app")
    expect(app.get_by_test_id("notifications")).to_have_attribute("data-offer", "none")  # asked once, remembered
    assert person.tab.evaluate("window.omAddRequests") == 0
    assert person.errors == []


def test_inside_minipay_no_notifications_are_offered(minipay):
    person, _ = minipay
    expect(person.page.get_by_test_id("notifications")).to_have_attribute("data-offer", "none")
    assert person.page.evaluate("Notification.permission") == "default"
