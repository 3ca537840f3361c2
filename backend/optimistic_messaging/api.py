"""REST endpoints: sign-in, chats, history and health, every error in the contract's one shape."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any, overload

import gevent
import orjson
from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from . import cursors, openapi
from . import validation as v
from .auth import Session
from .clients import client_address
from .errors import ApiError
from .farcaster import webhook
from .logs import CONTEXT
from .notify import subscriptions, vapid
from .services import Services

bp = Blueprint("api", __name__, url_prefix="/api")
SIGN_IN_PATHS = frozenset(  # and the Farcaster webhook: unsigned-in like them, each post may ask the hub
    {
        "/api/auth/nonce",
        "/api/auth/verify",
        "/api/auth/verify-tx",
        "/api/auth/renew",
        "/api/auth/logout",
        "/api/farcaster/webhook",
    }
)
DIGITS = re.compile(r"[0-9]{1,19}")
SLASHES = re.compile(r"/{2,}")


def services_of(app: Flask) -> Services:
    return app.extensions["optimistic_messaging"]


def services() -> Services:
    return services_of(current_app)


def reply(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def json_body() -> dict[str, Any]:
    try:
        return v.obj(orjson.loads(body_bytes()), "request body")
    except orjson.JSONDecodeError:
        raise ApiError("invalid", "request body is not valid JSON") from None


def body_bytes() -> bytes:
    """The request body, held to MAX_REQUEST_BYTES also when it comes chunked (no Content-Length), and to
    HTTP_IDLE_TIMEOUT_S; a body that breaks HTTP's framing is `invalid`, and the connection is closed after the answer
    (what follows it on the wire can no longer be told apart from a next request)."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    late = ApiError("invalid", "the request body did not arrive in time")
    try:
        with gevent.Timeout(services().config.http_idle_timeout_s, late):
            if request.content_length is not None:
                return request.get_data(cache=False)  # Flask answers 413 past MAX_CONTENT_LENGTH
            data = request.environ["wsgi.input"].read(limit + 1)
    except (OSError, ValueError) as exc:  # gevent's chunked reader raises an IOError for a bad chunk
        g.close_connection = True
        raise ApiError("invalid", f"the request body is not valid HTTP framing ({exc.__class__.__name__})") from None
    except ApiError:
        g.close_connection = True
        raise
    if len(data) > limit:
        raise ApiError("too_large", f"request is over the limit of {limit} bytes")
    return data


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


def signed_in(view: Callable[..., Response]) -> Callable[..., Response]:
    """Bearer token required; the caller's address lands in g.address, its session in g.session."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        identity = services().auth.identify(bearer_token())
        g.address, g.session = identity.address, identity.session
        return view(*args, **kwargs)

    return wrapper


@overload
def query_int(name: str, low: int, high: int, default: int) -> int: ...


@overload
def query_int(name: str, low: int, high: int, default: None = None) -> int | None: ...


def query_int(name: str, low: int, high: int, default: int | None = None) -> int | None:
    """An integer query parameter within [low, high], or `default` when it is absent."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise ApiError("invalid", f"query parameter '{name}' must be an integer from {low} to {high}")
    return int(raw)


@bp.get("/health")
def health() -> Response:
    s = services()
    store = "postgresql" if s.config.database_url else "jsonl"
    if not s.store.healthy():
        return reply({"status": "unavailable", "store": store, "message": "storage is not accepting writes"}, 503)
    return reply(
        {
            "status": "ok",
            "store": store,
            "broker": "ok" if s.broker.healthy() else "reconnecting",
            "redis": s.redis_state(),
            "connections": len(s.connections),
            "chain_id": s.config.chain_id,
            "siwe_domains": s.config.siwe_domains,  # what a client signs in for: public, as the web app's host is
            "reconciler": s.reconciler.status(),
        }
    )


@bp.get("/auth/nonce")
def nonce() -> Response:
    nonces = services().auth.nonces
    bound = request.args.get("bound", "false")
    if bound not in ("true", "false"):
        raise ApiError("invalid", "'bound' must be true or false")
    if bound == "false":
        return reply({"nonce": nonces.issue()})
    issued = nonces.issue(bound=True)
    return reply({"nonce": issued, "proof": nonces.proof(issued)})


def session_reply(session: Session) -> Response:
    return reply({"token": session.token, "address": session.address, "expires_at": session.expires_at})


@bp.post("/auth/verify")
def verify() -> Response:
    payload = json_body()
    return session_reply(services().auth.sign_in(payload.get("message"), payload.get("signature")))


@bp.post("/auth/verify-tx")
def verify_tx() -> Response:
    payload = json_body()
    s = services()
    client = client_address(request.environ, s.config.trusted_proxies)  # its share of the look-ups waiting for the node
    return session_reply(s.auth.sign_in_by_tx(payload.get("tx_hash"), payload.get("proof"), client))


@bp.post("/auth/renew")
def renew() -> Response:
    return session_reply(services().auth.renew(bearer_token()))


@bp.post("/auth/logout")
def logout() -> Response:
    """Ends the push subscriptions the session registered too: a shared device stops showing its messages."""
    s = services()
    identity = s.auth.identify(bearer_token())
    s.auth.sign_out(bearer_token())
    s.store.drop_push_subscriptions(address=identity.address, session=identity.session)
    return reply({})


@bp.post("/chats")
@signed_in
def create_chat() -> Response:
    services().chats.attempt(g.address)
    payload = json_body()
    chat_id = None if payload.get("id") is None else v.chat_id(payload, "id")
    chat, created = services().chats.create(g.address, v.addresses(payload), chat_id, v.title(payload))
    return reply({"chat": chat}, 201 if created else 200)


@bp.post("/chats/<chat_id>/members")
@signed_in
def add_members(chat_id: str) -> Response:
    services().chats.attempt(g.address)
    payload = json_body()
    members, share = v.addresses(payload), v.optional_bool(payload, "share_history")
    return reply({"chat": services().chats.add_members(g.address, checked_chat_id(chat_id), members, share)})


@bp.delete("/chats/<chat_id>/members/<address>")
@signed_in
def remove_member(chat_id: str, address: str) -> Response:
    services().chats.attempt(g.address)
    member = v.address(address, "address")
    return reply({"chat": services().chats.remove_member(g.address, checked_chat_id(chat_id), member)})


@bp.get("/chats")
@signed_in
def list_chats() -> Response:
    limit = query_int("limit", 1, 200, 100)
    secret = services().config.secret_key
    sealed = request.args.get("cursor")
    cursor = None if sealed is None else cursors.unseal(secret, g.address, sealed)
    chats, next_cursor = services().chats.of(g.address, cursor, limit)
    return reply(
        {
            "chats": chats,
            "has_more": next_cursor is not None,
            "next_cursor": None if next_cursor is None else cursors.seal(secret, g.address, next_cursor),
        }
    )


@bp.get("/chats/<chat_id>")
@signed_in
def get_chat(chat_id: str) -> Response:
    return reply({"chat": services().chats.get(g.address, checked_chat_id(chat_id))})


@bp.get("/chats/<chat_id>/messages")
@signed_in
def messages(chat_id: str) -> Response:
    limit = query_int("limit", 1, 200, 50)
    before = query_int("before", 0, 2**53)
    after = query_int("after", 0, 2**53)
    page, has_more = services().chats.history(g.address, checked_chat_id(chat_id), before, after, limit)
    return reply({"messages": page, "has_more": has_more})


@bp.get("/chats/<chat_id>/changes")
@signed_in
def changes(chat_id: str) -> Response:
    since_rev = query_int("since_rev", 0, 2**53, 0)
    limit = query_int("limit", 1, 500, 500)
    found, has_more = services().chats.changes(g.address, checked_chat_id(chat_id), since_rev, limit)
    return reply({"changes": found, "has_more": has_more})


@bp.get("/me/settings")
@signed_in
def get_settings() -> Response:
    return reply({"settings": services().store.settings(g.address)})


@bp.put("/me/settings")
@signed_in
def put_settings() -> Response:
    """Spends the address's event budget, as a socket event does: every write a client can cause is bounded."""
    changes = v.settings(json_body())
    s = services()
    s.limits.events.take(g.address)
    return reply({"settings": s.store.put_settings(g.address, changes)})


@bp.post("/farcaster/webhook")
def farcaster_webhook() -> Response:
    """Signed by the client's app key, not by a session: anyone may post, only a verified event changes anything."""
    s = services()
    if s.hub is None:
        raise ApiError("unavailable", "Farcaster notifications are not configured here (FARCASTER_HUB_URL)")
    try:
        body = json_body()
    except ApiError as exc:  # the contract: what is not an accepted event is `unauthorized` (but for its size)
        raise ApiError("unauthorized", exc.message) if exc.code == "invalid" else exc from None
    webhook.accept(body, s.hub, s.store, s.config.notify_allow_hosts, s.replays)
    return reply({"ok": True})


@bp.post("/farcaster/link")
@signed_in
def farcaster_link() -> Response:
    s = services()
    if s.quick_auth is None:
        raise ApiError("unavailable", "Farcaster sign-in is not configured here (FARCASTER_AUTH_JWKS_URL)")
    body = json_body()
    s.limits.events.take(g.address)  # before verifying: a token naming an unknown key makes a JWKS request
    fid = s.quick_auth.fid(body.get("token"))
    s.store.link_farcaster(g.address, fid)
    return reply({"fid": fid, "address": g.address})


@bp.get("/push/key")
def push_key() -> Response:
    """The VAPID public key a browser subscribes with (`applicationServerKey`)."""
    key = services().config.vapid_private_key
    if not key:
        raise ApiError("unavailable", "Web Push is not configured on this server")
    return reply({"public_key": vapid.public_key_of(key)})


@bp.put("/push/subscriptions")
@signed_in
def put_push_subscription() -> Response:
    """Spends the address's event budget first: every write a client can cause is bounded, and so are the host
    look-ups its endpoints make."""
    s = services()
    payload = json_body()
    s.limits.events.take(g.address)
    subscription = subscriptions.parse(payload, g.address, g.session, s.config.notify_allow_hosts)
    created = s.store.put_push_subscription(subscription)
    return reply({}, 201 if created else 200)


@bp.delete("/push/subscriptions")
@signed_in
def delete_push_subscription() -> Response:
    s = services()
    endpoint = subscriptions.endpoint(json_body())
    s.limits.events.take(g.address)
    s.store.drop_push_subscriptions(endpoint=endpoint, address=g.address)
    return reply({})


@bp.get("/openapi.json")
def openapi_spec() -> Response:
    return reply(openapi.SPEC)


def checked_chat_id(chat_id: str) -> str:
    return v.chat_id({"id": chat_id}, "id")


def cors_headers(origin: str | None, origins: frozenset[str]) -> list[tuple[str, str]]:
    """What lets a page of an allowed origin read the answer."""
    if origin not in origins:
        return []
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Headers", "Authorization, Content-Type"),
        ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"),
        ("Access-Control-Max-Age", "600"),
    ]


def budget_sign_ins(app: Flask, origins: frozenset[str]) -> None:
    """Every sign-in attempt spends its client's budget (SIGNIN_RATE_*), in front of Flask: a flood's refusals cost
    half of what a request through it does."""
    s = services_of(app)
    inner = app.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") in SIGN_IN_PATHS and environ.get("REQUEST_METHOD") != "OPTIONS":
            try:
                s.limits.signins.take(client_address(environ, s.config.trusted_proxies))
            except ApiError as exc:
                body = orjson.dumps(exc.body())
                headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Vary", "Origin")]
                start_response(
                    f"{exc.status} {HTTPStatus(exc.status).phrase}",
                    headers + cors_headers(environ.get("HTTP_ORIGIN"), origins),
                )
                return [body]
        return inner(environ, start_response)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]


def merge_slashes(app: Flask) -> None:
    """`/api//auth/nonce` is `/api/auth/nonce`, for the sign-in budget and for Flask, which would otherwise answer a
    doubled slash with its own 308 page (HTML, to `http://` behind a TLS proxy) instead of the view's answer."""
    inner = app.wsgi_app

    def wsgi_app(environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = SLASHES.sub("/", environ.get("PATH_INFO", ""))
        return inner(environ, start_response)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]


def install(app: Flask) -> None:
    """Mount the API, its error shape, the sign-in budget, and CORS for the allowed origins only (never '*')."""
    app.register_blueprint(bp)
    origins = frozenset(services_of(app).config.cors_origins)
    budget_sign_ins(app, origins)
    merge_slashes(app)  # in front of the budget

    @app.before_request
    def context() -> None:
        CONTEXT.set({"method": request.method, "path": request.path})

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        app.logger.debug("refused: %s", exc.code)
        return reply(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        code = {404: "not_found", 413: "too_large", 401: "unauthorized"}.get(exc.code or 400, "invalid")
        message = {413: f"request is over the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"}.get(
            exc.code or 400, exc.description or exc.name
        )
        response = reply({"error": {"code": code, "message": message}}, exc.code or 400)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:  # RFC 9110: a 405 names the methods served
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return reply({"error": {"code": "internal", "message": "internal error; it has been logged"}}, 500)

    @app.after_request
    def cors(response: Response) -> Response:
        for name, value in cors_headers(request.headers.get("Origin"), origins):
            response.headers[name] = value
        response.vary.add("Origin")
        if g.get("close_connection"):
            response.headers["Connection"] = "close"
        return response
