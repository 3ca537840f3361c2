"""One request to a URL a client chose (a push endpoint, a Farcaster notification URL): its host resolved once, every
address checked (hosts.py), and the connection made to a checked address, so a name that resolves elsewhere by the
time of connecting (DNS rebinding) still reaches nothing inside the network. The name is kept for TLS (SNI and the
certificate) and the Host header; no redirect is followed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import gevent
import urllib3
from urllib3.exceptions import HTTPError

from .hosts import safe_addresses

MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """What the host answered: its status, headers, and the first MAX_ANSWER_BYTES of its body."""

    status: int
    headers: dict[str, str]
    content: bytes


def post(url: str, body: bytes, headers: dict[str, str], allowed: Collection[str], timeout_s: float) -> Answer:
    """POST once, to the first checked address that takes the connection, all of it within `timeout_s` (a host that
    trickles its answer, each read inside a read timeout, would otherwise hold a sender for hours). `invalid`
    (ApiError) when the host fails the check; urllib3's HTTPError on a network fault (every address tried) or late."""
    with gevent.Timeout(timeout_s, HTTPError(f"{urlsplit(url).hostname} did not answer within {timeout_s} s")):
        return _post(url, safe_addresses(url, allowed), body, headers, timeout_s)


def _post(url: str, addresses: list[str], body: bytes, headers: dict[str, str], timeout_s: float) -> Answer:
    """Each checked address in turn until one takes the connection."""
    parts = urlsplit(url)
    host, https = parts.hostname or "", parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    failure: HTTPError | None = None
    for address in addresses:
        pool = _pool(address, port, host, https, timeout_s)
        try:
            answer = pool.urlopen(
                "POST",
                path,
                body=body,
                headers={**headers, "Host": parts.netloc},
                redirect=False,
                retries=False,
                preload_content=False,
            )
            content = answer.read(MAX_ANSWER_BYTES)
            return Answer(answer.status, dict(answer.headers), content)
        except urllib3.exceptions.NewConnectionError as exc:  # that address refused: the next checked one may take it
            failure = exc
        finally:
            pool.close()
    raise failure or HTTPError(f"{host} has no address")


def _pool(address: str, port: int, host: str, https: bool, timeout_s: float) -> urllib3.HTTPConnectionPool:
    """A connection pool to the address itself, speaking TLS for the name (SNI, certificate) when https."""
    timeout = urllib3.Timeout(timeout_s)
    if not https:
        return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)
    return urllib3.HTTPSConnectionPool(
        address,
        port,
        timeout=timeout,
        retries=False,
        maxsize=1,
        server_hostname=host,
        assert_hostname=host,
        cert_reqs="CERT_REQUIRED",
        ca_certs=certifi.where(),
    )
