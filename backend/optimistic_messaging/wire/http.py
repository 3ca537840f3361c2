"""Raw HTTP in front of the app: bad requests answered in the error shape, idle connections closed, handshakes checked.

Patches gevent's pywsgi handler (the server of `backend/main.py` and of gunicorn's gevent workers) and
gevent-websocket's upgrade, so what holds for one server holds for the other.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import socket
from collections.abc import Callable, Collection
from http import HTTPStatus
from typing import Any

import gevent
import gevent.pywsgi as pywsgi
import orjson
from geventwebsocket.handler import WebSocketHandler

from ..errors import ApiError

log = logging.getLogger(__name__)
LINGER_S = 2.0
_WS_VERSIONS = ("13",)  # RFC 6455; the drafts gevent-websocket also takes (7, 8) no client sends any more
_original_upgrade = WebSocketHandler.upgrade_websocket
_original_read_requestline = pywsgi.WSGIHandler.read_requestline
_original_read_request = pywsgi.WSGIHandler.read_request
_original_handle_one_request = pywsgi.WSGIHandler.handle_one_request
_original_client_error = pywsgi.WSGIHandler._handle_client_error
_original_message_class = pywsgi.WSGIHandler.MessageClass


def error_body(code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message}})


def raw_response(status: str, code: str, message: str, headers: Collection[tuple[str, str]] = ()) -> bytes:
    """A whole HTTP/1.1 error response, for where pywsgi answers before any application runs; the connection closes."""
    body = error_body(code, message)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n{head}\r\n"
    ).encode("latin-1") + body


class _RequestTimeout(ValueError):
    """The client did not send a whole request line and headers in time: the connection is closed, unanswered."""


def _refuse_upgrade(
    handler: WebSocketHandler, status: str, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    return _refuse_upgrade_with(handler, status, error_body(code, message), headers)


def _refuse_upgrade_with(
    handler: WebSocketHandler, status: str, body: bytes, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    handler.close_connection = True
    handler.start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *(headers or []),
        ],
    )
    return [body]


def check_framing(headers: Any) -> None:
    """RFC 9112 §6: a body's length must be beyond doubt — a Transfer-Encoding of chunked alone, or one
    Content-Length. pywsgi took a Content-Length beside a chunked one, or the first of several, or ignored a coding it
    does not know, and kept the connection: a proxy in front that frames such a request otherwise would have the rest
    read as a request of its own (request smuggling). Refused as malformed; the connection closes."""
    codings = [c.strip().lower() for c in ",".join(headers.get_all("Transfer-Encoding") or []).split(",")]
    lengths = {length.strip() for length in headers.get_all("Content-Length") or []}
    if codings != [""] and (codings != ["chunked"] or lengths):
        raise pywsgi._InvalidClientRequest(f"ambiguous framing: Transfer-Encoding {codings}, Content-Length {lengths}")
    if len(lengths) > 1:
        raise pywsgi._InvalidClientRequest(f"ambiguous framing: Content-Lengths {sorted(lengths)}")


def _wants_websocket(environ: dict[str, Any]) -> bool:
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and environ.get("HTTP_UPGRADE", "").lower() == "websocket"
        and "upgrade" in environ.get("HTTP_CONNECTION", "").lower()
    )


def send_and_linger(sock: Any, response: bytes, linger_s: float = LINGER_S) -> None:
    """Answer, then read out what the client still sends for a moment before closing: closing with unread bytes makes
    the kernel reset the connection, and the client may lose the answer (a request line over the limit, say)."""
    try:
        sock.sendall(response)
        sock.shutdown(socket.SHUT_WR)
        with gevent.Timeout(linger_s, False):
            while sock.recv(65536):
                pass
    except OSError:
        pass


def install(origins: Collection[str], idle_timeout_s: float, admit: Callable[[dict[str, Any]], None]) -> None:
    """Answer raw-HTTP faults in the error shape; refuse handshakes over their client's budget (`admit` raises
    `rate_limited`), from foreign origins, or malformed, before the upgrade; close a connection that has not sent a
    whole request line and headers within `idle_timeout_s`."""
    allowed = frozenset(origins)
    pywsgi._REQUEST_TOO_LONG_RESPONSE = raw_response(
        "414 Request-URI Too Long", "too_large", f"request line over {pywsgi.MAX_REQUEST_LINE} bytes"
    )
    pywsgi._BAD_REQUEST_RESPONSE = raw_response("400 Bad Request", "invalid", "malformed HTTP request")
    for status, code, message in (
        ("400 Bad Request", "invalid", "malformed HTTP request"),
        ("500 Internal Server Error", "internal", "internal error; it has been logged"),
    ):
        body = error_body(code, message)
        pywsgi._ERRORS[int(status[:3])] = (
            status,
            [("Content-Type", "application/json"), ("Connection", "close"), ("Content-Length", str(len(body)))],
            body,
        )

    def upgrade_websocket(self: WebSocketHandler) -> Any:
        """RFC 6455 §4.2.1 checks, in the error shape, before anything is switched; then gevent-websocket's upgrade."""
        environ = self.environ
        if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return _original_upgrade(self)
        try:
            admit(environ)  # first: a refusal is the cheapest answer there is
        except ApiError as exc:
            retry_s = str(math.ceil(exc.extra.get("retry_after_ms", 1000) / 1000))
            status = f"{exc.status} {HTTPStatus(exc.status).phrase}"
            return _refuse_upgrade_with(self, status, orjson.dumps(exc.body()), [("Retry-After", retry_s)])
        if not _wants_websocket(environ):  # else engine.io opened a session it could not serve (a 500, and it stayed)
            return _refuse_upgrade(
                self, "400 Bad Request", "invalid", "a websocket handshake is a GET with Connection: Upgrade"
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin not in allowed:  # no Origin: not a browser (bots, servers)
            return _refuse_upgrade(self, "403 Forbidden", "forbidden", f"origin {origin[:200]!r} is not allowed")
        if self.request_version != "HTTP/1.1":
            return _refuse_upgrade(self, "400 Bad Request", "invalid", "a websocket handshake must be HTTP/1.1")
        version = environ.get("HTTP_SEC_WEBSOCKET_VERSION")
        if version not in _WS_VERSIONS:
            return _refuse_upgrade(
                self,
                "426 Upgrade Required" if version is None else "400 Bad Request",
                "invalid",
                "Sec-WebSocket-Version must be 13",
                [("Sec-WebSocket-Version", "13")],
            )
        try:
            key_ok = len(base64.b64decode(environ.get("HTTP_SEC_WEBSOCKET_KEY", "").strip(), validate=True)) == 16
        except (binascii.Error, ValueError):
            key_ok = False
        if not key_ok:
            return _refuse_upgrade(self, "400 Bad Request", "invalid", "Sec-WebSocket-Key must be 16 bytes in base64")
        result = _original_upgrade(self)
        if getattr(self, "websocket", None) is not None:
            # The parsed headers (~1.4 KB) are in the environ already and unread for the websocket's life: pywsgi's
            # class-level empty ones stand in.
            del self.headers
        return result

    WebSocketHandler.upgrade_websocket = upgrade_websocket

    def read_requestline(self: pywsgi.WSGIHandler) -> str:
        """Start the request's deadline: the request line and headers must arrive within `idle_timeout_s`."""
        self.om_deadline = gevent.Timeout.start_new(idle_timeout_s, _RequestTimeout("no whole request in time"))
        try:
            return _original_read_requestline(self)
        except _RequestTimeout:
            return ""  # handle_one_request closes the connection on an empty request line

    def read_request(self: pywsgi.WSGIHandler, raw_requestline: str) -> Any:
        try:
            return _original_read_request(self, raw_requestline)
        finally:  # let go of it too: a websocket's request never returns to handle_one_request's pop
            self.__dict__.pop("om_deadline").close()

    def message_class(self: pywsgi.WSGIHandler, *args: Any) -> Any:
        """pywsgi's headers, once their framing is checked."""
        headers = _original_message_class(self, *args)
        if not headers.status:  # else pywsgi answers 400 itself
            check_framing(headers)
        return headers

    def handle_one_request(self: pywsgi.WSGIHandler) -> Any:
        """pywsgi's, but an error it answers before any application runs is sent with a lingering close."""
        try:
            result = _original_handle_one_request(self)
        finally:  # on the paths that answer before reading headers (an empty or overlong request line)
            deadline = self.__dict__.pop("om_deadline", None)
            if deadline is not None:
                deadline.close()
        if isinstance(result, tuple):
            self.status, response = result
            send_and_linger(self.socket, response)
            return None
        return result

    def handle_client_error(self: pywsgi.WSGIHandler, ex: BaseException) -> Any:
        """Faults of the client's making are logged in one line, never as a traceback; a late request is closed."""
        if isinstance(ex, _RequestTimeout):
            log.debug("closing %s: %s", self.client_address, ex)
            return None
        if not isinstance(ex, (ValueError, pywsgi._InvalidClientInput)):
            log.info("bad request from %s: %r", self.client_address, ex)
            return ("400", pywsgi._BAD_REQUEST_RESPONSE)
        return _original_client_error(self, ex)

    pywsgi.WSGIHandler.read_requestline = read_requestline
    pywsgi.WSGIHandler.read_request = read_request
    pywsgi.WSGIHandler.MessageClass = message_class
    pywsgi.WSGIHandler.handle_one_request = handle_one_request
    pywsgi.WSGIHandler._handle_client_error = handle_client_error
