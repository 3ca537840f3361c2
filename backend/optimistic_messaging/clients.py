"""Which client a request comes from, for the per-client budgets (handshakes, sign-in attempts): the peer's address,
or, when the peer is a trusted proxy (TRUSTED_PROXIES), the right-most address in X-Forwarded-For that is not one.

Hops left of that are the client's own say and are never believed. IPv6 clients count per /64, the block one
subscriber gets, so an attacker cannot take a fresh budget from each address of it.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.cache
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES parsed (IPs or CIDRs); ValueError names a malformed one."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _ip(text: str) -> Address | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _key(ip: Address) -> str:
    return str(ip) if ip.version == 4 else str(ipaddress.ip_network(f"{ip}/64", strict=False))


def _trusted(ip: Address, proxies: Iterable[Network]) -> bool:
    return any(ip in net for net in proxies)


def client_address(environ: dict[str, Any], trusted: tuple[str, ...]) -> str:
    """The client a request counts against: its peer, or behind trusted proxies the first hop they did not add."""
    peer = _ip(environ.get("REMOTE_ADDR", ""))
    if peer is None:
        return environ.get("REMOTE_ADDR", "") or "unknown"
    proxies = networks(trusted)
    if not proxies or not _trusted(peer, proxies):
        return _key(peer)
    for hop in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        ip = _ip(hop)
        if ip is None:  # not written by a proxy of ours: the proxy's own address counts
            return _key(peer)
        if not _trusted(ip, proxies):
            return _key(ip)
    return _key(peer)  # only proxies (or no header): the request is the proxy's own
