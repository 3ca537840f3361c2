"""Configuration refuses settings that would quietly switch a protection off."""
from __future__ import annotations

import pytest

from optimistic_messaging.boot import config_from_env

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store


def env(tmp_path, **extra):
    return {"DATA_FILE": str(tmp_path / "m.json"), **extra}


def test_secret_is_generated_once_and_kept_beside_the_data(tmp_path):
    first = config_from_env(env(tmp_path)).secret_key
    assert len(first) >= 32 and config_from_env(env(tmp_path)).secret_key == first
    assert (tmp_path / "m.json.secret").read_text() == first


@pytest.mark.parametrize("secret", ["", "short"])
def test_a_short_or_empty_secret_is_refused(tmp_path, secret):
    (tmp_path / "m.json.secret").write_text(secret)
    with pytest.raises(ValueError, match="SECRET_KEY"):
        config_from_env(env(tmp_path))
    with pytest.raises(ValueError, match="SECRET_KEY"):
        config_from_env(env(tmp_path, SECRET_KEY="tooshort"))


@pytest.mark.parametrize("origins", ["", "*", "http://localhost:3000,*", " , "])
def test_empty_or_wildcard_origins_are_refused(tmp_path, origins):
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        config_from_env(env(tmp_path, CORS_ORIGINS=origins))


def test_fsync_takes_always_or_off_only(tmp_path):
    assert config_from_env(env(tmp_path, FSYNC="off")).fsync is False
    with pytest.raises(ValueError, match="FSYNC"):
        config_from_env(env(tmp_path, FSYNC="sometimes"))


def test_erase_within_s_is_a_positive_number_of_seconds_an_hour_by_default(tmp_path):
    assert config_from_env(env(tmp_path)).erase_within_s == 3600
    assert config_from_env(env(tmp_path, ERASE_WITHIN_S="0.5")).erase_within_s == 0.5
    for bad in ("0", "-1", "nan"):
        with pytest.raises(ValueError, match="ERASE_WITHIN_S"):
            config_from_env(env(tmp_path, ERASE_WITHIN_S=bad))


def test_malformed_numbers_are_refused_naming_the_problem(tmp_path):
    with pytest.raises(ValueError, match="bad configuration"):
        config_from_env(env(tmp_path, PORT="http"))


def test_json_logs_are_one_object_per_line_with_what_was_being_served(make_server, peers):
    import json

    from support import Wallet

    server = make_server({"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"})
    alice = Wallet().sign_in(server)
    assert server.post("/api/chats", {"members": "not a list"}, alice.token).status_code == 400
    assert peers(server, alice).call("join", {"chat_id": "nowhere"})["ok"] is False
    entries = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    assert any(e.get("method") == "POST" and e.get("path") == "/api/chats" and "invalid" in e["message"]
               for e in entries)
    assert any(e.get("event") == "join" and e.get("address") == alice.address and "not_found" in e["message"]
               for e in entries)


def test_an_unknown_log_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        config_from_env(env(tmp_path, LOG_FORMAT="xml"))


@pytest.mark.parametrize("proxies", ["10.0.0.1,not-an-ip", "10.0.0.0/33", "*"])
def test_malformed_trusted_proxies_are_refused(tmp_path, proxies):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        config_from_env(env(tmp_path, TRUSTED_PROXIES=proxies))


def test_the_vapid_key_is_generated_once_and_kept_beside_the_data(tmp_path):
    first = config_from_env(env(tmp_path)).vapid_private_key
    assert first.startswith("-----BEGIN PRIVATE KEY-----") and config_from_env(env(tmp_path)).vapid_private_key == first


@pytest.mark.parametrize("key", ["not-a-key", "AAAA", "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----"])
def test_a_malformed_vapid_key_or_subject_is_refused(tmp_path, key):
    with pytest.raises(ValueError, match="bad configuration"):
        config_from_env(env(tmp_path, VAPID_PRIVATE_KEY=key))
    with pytest.raises(ValueError, match="VAPID_SUBJECT"):
        config_from_env(env(tmp_path, VAPID_SUBJECT="admin@example.com"))
