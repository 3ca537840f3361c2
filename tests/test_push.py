"""Web Push (contract v1.2 "Notifications"): the VAPID key, subscriptions and the host check, against a real server."""
from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

SCALAR = bytes(range(1, 33))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_point(key: ec.EllipticCurvePrivateKey) -> str:
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def test_the_key_is_the_configured_scalars_public_point_without_sign_in(make_server):
    srv = make_server({"VAPID_PRIVATE_KEY": b64url(SCALAR)})
    answer = srv.get("/api/push/key")
    expected = public_point(ec.derive_private_key(int.from_bytes(SCALAR, "big"), ec.SECP256R1()))
    assert answer.status_code == 200 and answer.json() == {"public_key": expected}


def test_a_generated_key_stays_the_same_across_a_restart(make_server, tmp_path):
    first = make_server(data_dir=tmp_path / "kept")
    key = first.get("/api/push/key").json()["public_key"]
    assert len(base64.urlsafe_b64decode(key + "=")) == 65
    first.stop()
    assert make_server(data_dir=tmp_path / "kept").get("/api/push/key").json()["public_key"] == key
