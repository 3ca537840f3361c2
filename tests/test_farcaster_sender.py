"""Farcaster notification POSTs: Farcaster's request shape and limits, against a notification URL stand-in that records
what it is sent and answers as a Farcaster client does, with the tokens kept in a real store; time is a fake clock."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from optimistic_messaging.farcaster.pacing import Notice
from optimistic_messaging.farcaster.sender import FarcasterSender
from optimistic_messaging.models import FarcasterToken
from optimistic_messaging.store.jsonl import JsonlStore

from farcaster import JsonServer

APP_URL = "https://chat.example"
KEY_1, KEY_2 = "0x" + "1" * 64, "0x" + "2" * 64


class ClientUrl(JsonServer):
    """A Farcaster client's notification URL: records each request; names the tokens in `invalid`/`limited` so."""

    def __init__(self) -> None:
        self.invalid: set[str] = set()
        self.limited: set[str] = set()
        super().__init__(self._route)

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        tokens = json.loads(body)["tokens"]
        return 200, {"result": {"successfulTokens": [t for t in tokens if t not in self.invalid | self.limited],
                                "invalidTokens": [t for t in tokens if t in self.invalid],
                                "rateLimitedTokens": [t for t in tokens if t in self.limited]}}

    def sent(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.requests]


@pytest.fixture
def client_url() -> Iterator[ClientUrl]:
    stand_in = ClientUrl()
    yield stand_in
    stand_in.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JsonlStore]:
    opened = JsonlStore(tmp_path / "messages.json")
    opened.start()
    yield opened
    opened.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender(store, clock) -> FarcasterSender:
    return FarcasterSender(store, APP_URL, ("127.0.0.1",), clock=clock)


def register(store: JsonlStore, url: ClientUrl, *tokens: str, fid: int = 7) -> None:
    for i, token in enumerate(tokens):
        store.put_farcaster_token(FarcasterToken(fid, "0x" + f"{i:064x}", f"{url.url}/notify", token))


def notice(message_id: str = "m1", text: str | None = "hello", title: str = "Quick Harbor") -> Notice:
    return Notice(message_id, "chat/1", title, text)


def test_the_post_is_farcasters_request_with_its_limits(sender, store, client_url):
    register(store, client_url, "t-1", "t-2")
    long_id = "m" * 129
    sender.notify(7, notice(long_id, "x" * 200, title="A sender with a very long name indeed"))
    [sent] = client_url.sent()
    assert client_url.requests[0][0] == "POST /notify"
    assert set(sent) == {"notificationId", "title", "body", "targetUrl", "tokens"}
    assert sent["notificationId"] == hashlib.sha256(long_id.encode()).hexdigest()
    assert len(sent["title"]) == 32 and sent["title"].startswith("A sender with")
    assert len(sent["body"]) == 128 and sent["body"].startswith("xxx")
    assert sent["targetUrl"] == f"{APP_URL}/chats/chat%2F1" and sorted(sent["tokens"]) == ["t-1", "t-2"]


def test_with_previews_off_the_body_has_no_text(sender, store, client_url):
    register(store, client_url, "t-1")
    sender.notify(7, notice("m1", None))
    assert client_url.sent()[0]["body"] == "New message" and client_url.sent()[0]["notificationId"] == "m1"


def test_one_per_token_per_30_s_what_comes_inside_waits_and_is_counted(sender, store, client_url, clock):
    register(store, client_url, "t-1")
    sender.notify(7, notice("m1", "first"))
    clock.now += 10
    sender.notify(7, notice("m2", "second"))
    sender.notify(7, notice("m3", "third"))
    sender.flush()
    assert [s["notificationId"] for s in client_url.sent()] == ["m1"]  # m2, m3 wait for the window
    clock.now += 20
    sender.flush()
    assert [(s["notificationId"], s["body"]) for s in client_url.sent()] == [
        ("m1", "first"), ("m3", "2 new messages: third")]


def test_at_most_100_a_day_per_token(sender, store, client_url, clock):
    register(store, client_url, "t-1")
    for i in range(101):
        sender.notify(7, notice(f"m{i}"))
        clock.now += 30
    assert len(client_url.sent()) == 100


def test_invalid_tokens_are_dropped_and_rate_limited_ones_retried_after_the_window(sender, store, client_url, clock):
    register(store, client_url, "gone", "busy", "fine")
    client_url.invalid, client_url.limited = {"gone"}, {"busy"}
    sender.notify(7, notice("m1"))
    assert [t.token for t in store.farcaster_tokens(7)] == ["busy", "fine"]
    client_url.limited = set()
    sender.flush()
    assert len(client_url.sent()) == 1  # the window holds the retry too
    clock.now += 30
    sender.flush()
    assert client_url.sent()[-1]["tokens"] == ["busy"] and client_url.sent()[-1]["notificationId"] == "m1"


def test_a_url_off_the_host_rule_is_never_requested(store, client_url, clock):
    register(store, client_url, "t-1")
    FarcasterSender(store, APP_URL, (), clock=clock).notify(7, notice())  # 127.0.0.1 not allowed, not https
    assert client_url.requests == []


def test_a_waiting_notice_does_not_go_to_a_token_dropped_meanwhile(sender, store, client_url, clock):
    register(store, client_url, "t-1", "t-2")
    sender.notify(7, notice("m1"))
    sender.notify(7, notice("m2"))
    store.drop_farcaster_tokens(7, "0x" + f"{0:064x}")  # t-1's client turned notifications off
    clock.now += 30
    sender.flush()
    assert [(s["notificationId"], s["tokens"]) for s in client_url.sent()][1:] == [("m2", ["t-2"])]
