"""The host check: a URL a client chose is requested only when it is https on a public host, at every request."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

from ..errors import ApiError

MAX_URL_CHARS = 1024
# IPv6 spellings of an IPv4 address (the address in the last 32 bits): RFC 6052 NAT64, whose gateway reaches private
# addresses too, IPv4-compatible and IPv4-translated (SIIT); 6to4 is `sixtofour`. RFC 8215's local-use NAT64 is inside.
EMBEDDING = tuple(map(ipaddress.IPv6Network, ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")))
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def checked_url(url: object, allowed: Collection[str]) -> str:
    """The URL if it is `https://` with a host, no credentials, and a host that resolves (if it does now) only to
    public addresses; a host NOTIFY_ALLOW_HOSTS names is exempt from the scheme and address rules. `invalid`
    otherwise. `safe_addresses` checks again at every request."""
    return _checked(url, allowed)[0]


def safe_addresses(url: str, allowed: Collection[str]) -> list[str]:
    """Every address the URL's host resolves to now (resolved once), all public (or the host allowed): the only ones a
    request may connect to. `invalid` when any is not, or it does not resolve, so nothing goes to a host even partly
    inside the network."""
    _, found = _checked(url, allowed)
    if not found:
        raise ApiError("invalid", "endpoint host does not resolve")
    return found


def _checked(url: object, allowed: Collection[str]) -> tuple[str, list[str] | None]:
    """The URL and its host's addresses (None: it does not resolve now), or `invalid`."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise ApiError("invalid", f"endpoint must be a URL of at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ApiError("invalid", "endpoint is not a URL") from None
    if not host or parts.username is not None or parts.password is not None:
        raise ApiError("invalid", "endpoint must name a host and no credentials")
    if host in allowed:
        if parts.scheme not in ("https", "http"):
            raise ApiError("invalid", "endpoint must be an http(s) URL")
        return url, resolve(host, port or (443 if parts.scheme == "https" else 80))
    if parts.scheme != "https":
        raise ApiError("invalid", "endpoint must be an https:// URL")
    found = resolve(host, port or 443)
    if not all(public(ipaddress.ip_address(a)) for a in found or ()):
        raise ApiError("invalid", "endpoint must not be a loopback, private or link-local address")
    return url, found


def resolve(host: str, port: int) -> list[str] | None:
    """The host's addresses (a literal is its own), or None when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # UnicodeError: a name IDNA cannot encode (a label over 63 characters)
        return None
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


def public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Not loopback, private, link-local, or otherwise not meant to be reached from outside; an IPv4 address spelt as
    IPv6 is judged as itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and any(ip in network for network in EMBEDDING):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return public(inner)
        if ip in LOCAL_NAT64:
            return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast)
