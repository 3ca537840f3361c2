"""All configuration, read once from environment variables with safe defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .clients import networks
from .notify import vapid


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


MIN_SECRET_CHARS = 32


@dataclass(frozen=True)
class Config:
    """Every setting of the server; see the README's configuration table."""

    host: str = "127.0.0.1"
    port: int = 5001
    data_file: Path = Path("messages.json")
    database_url: str | None = None  # PostgreSQL as the store of record (several nodes); unset: the JSON-lines log
    redis_url: str | None = None  # ephemeral state shared by nodes: presence, typing, rate limits, socket counts
    node_ttl_s: float = 20.0  # a node silent this long is dead: its sockets' presence is swept by the others
    redis_timeout_s: float = 0.25  # a Redis call slower than this trips the breaker: the node keeps its own view
    secret_key: str = ""  # SECRET_KEY, or the boot's key file (boot.config_from_env); a Config without one is refused
    token_ttl_s: int = 86400
    session_max_age_s: int = 30 * 86400
    siwe_domains: tuple[str, ...] = ("localhost:3000", "127.0.0.1:3000")
    cors_origins: tuple[str, ...] = ("http://localhost:3000", "http://127.0.0.1:3000")
    max_body_chars: int = 4000
    max_request_bytes: int = 64 * 1024
    rate_per_s: float = 10.0
    rate_burst: int = 30
    event_rate_per_s: float = 20.0
    event_rate_burst: int = 200
    chat_rate_per_min: float = 30.0
    chat_rate_burst: int = 30
    handshake_rate_per_min: float = 120.0  # Socket.IO connections opened per client address (IP, or /64)
    handshake_rate_burst: int = 120
    signin_rate_per_min: float = 60.0  # sign-in attempts (nonce, verify, verify-tx, renew) per client address
    signin_rate_burst: int = 60
    trusted_proxies: tuple[str, ...] = ()  # IPs/CIDRs whose X-Forwarded-For names the client
    max_members: int = 1000
    max_sockets_per_address: int = 32
    ping_interval_s: float = 25.0
    http_idle_timeout_s: float = 10.0
    fsync: bool = True
    erase_within_s: float = 3600.0  # the JSON-lines log: a deleted message's text leaves the data file within this long
    # Reconciliation (settled by the reconciler; reserved here so configuration stays in one place).
    chain_rpc_url: str | None = None
    chain_id: int = 42220
    confirmations: int = 3
    tx_timeout_s: int = 600
    xmtp_grace_s: int = 30
    xmtp_gateway_url: str | None = None
    # Notifications (v1.2): Farcaster's hub and Quick Auth keys, the app's origin for links
    farcaster_hub_url: str | None = None
    farcaster_auth_jwks_url: str | None = None
    app_url: str | None = None
    signin_tx_wait_s: float = 30.0
    signin_tx_per_client: int = 16  # sign-ins by transaction one client address may have waiting for the node
    signin_tx_proof: str = "required"  # verify-tx takes bound nonces (and their proof) only; "optional": plain ones too
    reconcile_interval_s: float = 1.0
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one object per line
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # /metrics on a listener of its own; unset: off
    # Notifications (v1.2).
    vapid_private_key: str = ""  # VAPID_PRIVATE_KEY (PEM or base64url scalar), or the boot's key file; "" = push off
    vapid_subject: str = "mailto:admin@localhost"
    push_coalesce_s: float = 10.0
    notify_allow_hosts: tuple[str, ...] = ()  # hosts exempt from the https and public-address rules (local stand-ins)

    @property
    def ping_timeout_s(self) -> float:
        """How long a PONG may take: engine.io's 20 s, but never more than the interval, so a silent client is closed
        within two intervals of its last answer whatever the interval."""
        return min(20.0, self.ping_interval_s)

    @classmethod
    def from_env(
        cls,
        env: dict[str, str] | None = None,
        secret_for: Callable[[Path], str] | None = None,
        vapid_for: Callable[[Path], str] | None = None,
    ) -> Config:
        """Read the environment; fail fast with a clear message on a malformed value. Without SECRET_KEY the key is
        `secret_for(data_file)`, without VAPID_PRIVATE_KEY `vapid_for(data_file)` (the boot keeps them in files);
        writes nothing itself."""
        env = dict(os.environ if env is None else env)
        get = env.get
        data_file = Path(get("DATA_FILE", "messages.json"))
        fsync = get("FSYNC", "always").strip().lower()
        if fsync not in ("always", "off"):
            raise ValueError(f"FSYNC must be 'always' or 'off', not {fsync!r}")
        proof = get("SIGNIN_TX_PROOF", cls.signin_tx_proof).strip().lower()
        if proof not in ("optional", "required"):
            raise ValueError(f"SIGNIN_TX_PROOF must be 'optional' or 'required', not {proof!r}")
        try:
            return cls(
                host=get("HOST", cls.host),
                port=int(get("PORT", cls.port)),
                data_file=data_file,
                database_url=get("DATABASE_URL") or None,
                redis_url=get("REDIS_URL") or None,
                node_ttl_s=float(get("NODE_TTL_S", cls.node_ttl_s)),
                redis_timeout_s=float(get("REDIS_TIMEOUT_S", cls.redis_timeout_s)),
                secret_key=get("SECRET_KEY") or (secret_for(data_file) if secret_for else ""),
                token_ttl_s=int(get("TOKEN_TTL_S", cls.token_ttl_s)),
                session_max_age_s=int(get("SESSION_MAX_AGE_S", cls.session_max_age_s)),
                siwe_domains=_csv(get("SIWE_DOMAINS", ",".join(cls.siwe_domains))),
                cors_origins=_csv(get("CORS_ORIGINS", ",".join(cls.cors_origins))),
                max_body_chars=int(get("MAX_BODY_CHARS", cls.max_body_chars)),
                max_request_bytes=int(get("MAX_REQUEST_BYTES", cls.max_request_bytes)),
                rate_per_s=float(get("RATE_PER_S", cls.rate_per_s)),
                rate_burst=int(get("RATE_BURST", cls.rate_burst)),
                event_rate_per_s=float(get("EVENT_RATE_PER_S", cls.event_rate_per_s)),
                event_rate_burst=int(get("EVENT_RATE_BURST", cls.event_rate_burst)),
                chat_rate_per_min=float(get("CHAT_RATE_PER_MIN", cls.chat_rate_per_min)),
                chat_rate_burst=int(get("CHAT_RATE_BURST", cls.chat_rate_burst)),
                handshake_rate_per_min=float(get("HANDSHAKE_RATE_PER_MIN", cls.handshake_rate_per_min)),
                handshake_rate_burst=int(get("HANDSHAKE_RATE_BURST", cls.handshake_rate_burst)),
                signin_rate_per_min=float(get("SIGNIN_RATE_PER_MIN", cls.signin_rate_per_min)),
                signin_rate_burst=int(get("SIGNIN_RATE_BURST", cls.signin_rate_burst)),
                trusted_proxies=_csv(get("TRUSTED_PROXIES", "")),
                max_members=int(get("MAX_MEMBERS", cls.max_members)),
                max_sockets_per_address=int(get("MAX_SOCKETS_PER_ADDRESS", cls.max_sockets_per_address)),
                ping_interval_s=float(get("PING_INTERVAL_S", cls.ping_interval_s)),
                http_idle_timeout_s=float(get("HTTP_IDLE_TIMEOUT_S", cls.http_idle_timeout_s)),
                fsync=fsync == "always",
                erase_within_s=float(get("ERASE_WITHIN_S", cls.erase_within_s)),
                chain_rpc_url=get("CHAIN_RPC_URL") or None,
                chain_id=int(get("CHAIN_ID", cls.chain_id)),
                confirmations=int(get("CONFIRMATIONS", cls.confirmations)),
                tx_timeout_s=int(get("TX_TIMEOUT_S", cls.tx_timeout_s)),
                xmtp_grace_s=int(get("XMTP_GRACE_S", cls.xmtp_grace_s)),
                xmtp_gateway_url=get("XMTP_GATEWAY_URL") or None,
                farcaster_hub_url=get("FARCASTER_HUB_URL") or None,
                farcaster_auth_jwks_url=get("FARCASTER_AUTH_JWKS_URL") or None,
                app_url=get("APP_URL") or None,
                signin_tx_wait_s=float(get("SIGNIN_TX_WAIT_S", cls.signin_tx_wait_s)),
                signin_tx_per_client=int(get("SIGNIN_TX_PER_CLIENT", cls.signin_tx_per_client)),
                signin_tx_proof=proof,
                reconcile_interval_s=float(get("RECONCILE_INTERVAL_S", cls.reconcile_interval_s)),
                log_level=get("LOG_LEVEL", cls.log_level).upper(),
                log_format=get("LOG_FORMAT", cls.log_format).strip().lower(),
                metrics_host=get("METRICS_HOST", cls.metrics_host),
                metrics_port=int(env["METRICS_PORT"]) if env.get("METRICS_PORT") else None,
                vapid_private_key=get("VAPID_PRIVATE_KEY") or (vapid_for(data_file) if vapid_for else ""),
                vapid_subject=get("VAPID_SUBJECT", cls.vapid_subject),
                push_coalesce_s=float(get("PUSH_COALESCE_S", cls.push_coalesce_s)),
                notify_allow_hosts=_csv(get("NOTIFY_ALLOW_HOSTS", "")),
            )
        except ValueError as exc:
            raise ValueError(f"bad configuration: {exc}") from exc

    def __post_init__(self) -> None:
        """Refuse settings that would quietly switch a protection off."""
        if len(self.secret_key) < MIN_SECRET_CHARS:
            raise ValueError(f"SECRET_KEY (or its file) must be at least {MIN_SECRET_CHARS} characters")
        if not self.erase_within_s > 0:
            raise ValueError("ERASE_WITHIN_S must be a positive number of seconds")
        if self.log_format not in ("text", "json"):
            raise ValueError(f"LOG_FORMAT must be 'text' or 'json', not {self.log_format!r}")
        if not self.cors_origins or "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS must list the allowed origins; empty or '*' would allow every origin")
        if self.vapid_private_key:
            vapid.load(self.vapid_private_key)  # a malformed key fails the start, not the first push
        if not self.vapid_subject.startswith(("mailto:", "https:")):
            raise ValueError("VAPID_SUBJECT must be a mailto: or https: contact")
        try:
            networks(self.trusted_proxies)
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES must list IPs or CIDRs: {exc}") from None
