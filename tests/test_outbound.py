"""DNS rebinding (contract v1.2: the host check holds "for every address the host resolves to"): a request goes to an
address the check passed, not to one the name resolves to a moment later. In process, with a resolver the test
controls: the name first resolves to a public address, then to the loopback where a listener counts connections."""
from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from optimistic_messaging.errors import ApiError
from optimistic_messaging.farcaster.sender import FarcasterSender, Notice
from optimistic_messaging.models import FarcasterToken
from optimistic_messaging.notify.subscriptions import PushSubscription
from optimistic_messaging.notify.webpush import WebPush

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store

NAME = "push.rebinding.test"
PUBLIC = "8.8.8.8"  # a global address: the check passes it (nothing here answers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def loopback() -> Iterator[socket.socket]:
    """A listener on the loopback: a connection to it is what rebinding would get."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener
    listener.close()


@pytest.fixture
def rebinding(monkeypatch, loopback) -> list[str]:
    """NAME resolves to PUBLIC the first time it is asked, to 127.0.0.1 after: what each answer was, in order."""
    real, answered = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != NAME:
            return real(host, port, *args, **kwargs)
        answered.append(PUBLIC if not answered else "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answered[-1], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answered


def connected(listener: socket.socket) -> bool:
    listener.settimeout(0.5)  # after the request failed: a connection made by it is queued already
    try:
        listener.accept()[0].close()
        return True
    except (TimeoutError, BlockingIOError):
        return False


def test_a_push_connects_to_the_address_checked_not_to_where_the_name_rebinds(rebinding, loopback):
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    port = loopback.getsockname()[1]
    subscription = PushSubscription(f"https://{NAME}:{port}/push", "0x" + "b" * 40, b64url(point),
                                     b64url(os.urandom(16)), "s")
    webpush = WebPush(b64url(bytes(range(1, 33))), "mailto:ops@example.com", ())
    with pytest.raises(Exception) as failed:
        webpush.send(subscription, b"{}")
    assert not isinstance(failed.value, ApiError)  # the check passed: the request was tried, at PUBLIC
    assert rebinding[0] == PUBLIC and not connected(loopback)


def test_a_farcaster_notification_connects_to_the_address_checked_too(rebinding, loopback, tmp_path):
    from optimistic_messaging.store.jsonl import JsonlStore

    store = JsonlStore(tmp_path / "messages.json")
    store.start()
    try:
        port = loopback.getsockname()[1]
        token = FarcasterToken(7, "0x" + "1" * 64, f"https://{NAME}:{port}/notify", "t")
        FarcasterSender(store, "https://chat.example", (), timeout_s=1.0).send(token, Notice("c/1", "c", "New", "hi"))
        assert rebinding[0] == PUBLIC and not connected(loopback)
    finally:
        store.close()


def test_a_push_services_vapid_jwt_is_signed_once_and_again_before_it_expires(monkeypatch):
    from optimistic_messaging.notify import webpush as module
    from optimistic_messaging.notify.vapid import public_key_of
    from push_service import verify_vapid

    private = b64url(bytes(range(1, 33)))
    webpush = WebPush(private, "mailto:ops@example.com", ())
    audience = "https://push.example.com"
    first = webpush.authorization(audience)["Authorization"]
    assert webpush.authorization(audience)["Authorization"] == first  # reused: no signature per push
    assert webpush.authorization("https://other.example.com")["Authorization"] != first  # per push service
    later = time.time() + module.JWT_REUSE_S
    monkeypatch.setattr(time, "time", lambda: later)
    renewed = webpush.authorization(audience)["Authorization"]
    assert renewed != first  # signed again an hour before the first expires, so none in use is ever stale
    verify_vapid(renewed, public_key_of(private), audience)  # valid, and not expired, at that later time
