"""The notification host rule: only https, never to a loopback, private or link-local address unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import ApiError


def check_url(url: str, allow_hosts: tuple[str, ...]) -> None:
    """`invalid` unless the URL may be requested now: clients choose these URLs, so they must not reach our network."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ApiError("invalid", "the notification URL is not a URL") from None
    if not host:
        raise ApiError("invalid", "the notification URL has no host")
    if host in allow_hosts:
        return
    if parts.scheme != "https":
        raise ApiError("invalid", "a notification URL must be https://")
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ApiError("invalid", f"the notification host {host!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            raise ApiError("invalid", f"the notification host {host!r} is not a public address")
