"""The OpenAPI 3.1 description of every REST endpoint, served at GET /api/openapi.json.

The one place the REST surface is described for machines; docs/protocol.md stays the source of truth, and
tests/test_openapi.py holds this to the app (its routes, an OpenAPI validator, and schemathesis against the real
server). Patterns and ranges are those validation.py and api.py enforce; limits that are settings are given with
their defaults. Responses are closed (no properties beyond those listed), so a field added to the server without
being described here fails the tests; request bodies are open, as the server ignores unknown fields.
"""

from __future__ import annotations

from typing import Any

from .cursors import PATTERN as CURSOR
from .farcaster.quickauth import MAX_JWT_CHARS

ADDRESS = "^0x[0-9a-fA-F]{40}$"
CHAT_ID = "^[A-Za-z0-9._:-]{1,128}$"
CLIENT_ID = "^[A-Za-z0-9_-]{1,64}$"
XMTP_ID = "^[A-Za-z0-9._:-]{1,256}$"
MESSAGE_ID = "^[A-Za-z0-9._:-]{1,128}/[1-9][0-9]{0,15}$"
DECIMAL = "^(0|[1-9][0-9]{0,77})$"
MAX_SAFE = 2**53


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema(name: str) -> dict[str, str]:
    return ref("schemas", name)


def nullable(name: str) -> dict[str, Any]:
    return {"anyOf": [schema(name), {"type": "null"}]}


def closed(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object with exactly these properties, every one of them present (a response of the server's)."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        **extra,
    }


def json_content(body: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": body}}


def ok(description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": json_content(body)}


def request_body(body: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": json_content(body)}


# Answers any request can get from the HTTP layer: a request it cannot take (malformed, or a query that breaks
# api.py's rules), a request line over 8 KiB, a server fault, and the connection limit (health is exempt from it).
TRANSPORT = ("400", "414", "500", "503")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def operation(
    op_id: str,
    tag: str,
    summary: str,
    answers: dict[str, Any],
    errors: tuple[str, ...],
    secured: bool = True,
    transport: tuple[str, ...] = TRANSPORT,
    **extra: Any,
) -> dict[str, Any]:
    responses = dict(answers)
    for status in sorted({*errors, *transport}):
        responses.setdefault(status, ref("responses", ERROR_RESPONSES[status][0]))
    return {
        "operationId": op_id,
        "tags": [tag],
        "summary": summary,
        "security": BEARER if secured else [],
        **extra,
        "responses": responses,
    }


def path_param(name: str, pattern: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def query_int(name: str, low: int, high: int, description: str, default: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        body["default"] = default
    return {"name": name, "in": "query", "required": False, "description": description, "schema": body}


CHAT_PARAM = path_param(
    "chat_id",
    CHAT_ID,
    "A chat id: a DM's `dm:<address>:<address>`, a group's `grp:<20 hex>`, "
    "or a registered id such as an XMTP conversation id.",
)

# status: (component name, code, when). The codes and statuses are the contract's table, plus 414 for a long line.
ERROR_RESPONSES: dict[str, tuple[str, str, str]] = {
    "400": (
        "Invalid",
        "invalid",
        "malformed JSON, a missing or ill-typed field, a bad address or chat id, a query "
        "parameter out of range, or a request the HTTP layer cannot take.",
    ),
    "401": ("Unauthorized", "unauthorized", "a missing, bad or expired token; a bad SIWE message, signature or nonce."),
    "403": (
        "Forbidden",
        "forbidden",
        "signed in, but not a member of that chat (or not allowed to remove that member).",
    ),
    "404": ("NotFound", "not_found", "no such chat, or that address is not one of its members."),
    "409": (
        "Conflict",
        "conflict",
        "the chat id is registered already; a member asking for another member set gets "
        "the chat's current `members` beside `code`.",
    ),
    "413": ("TooLarge", "too_large", "a request body over `MAX_REQUEST_BYTES` (64 KiB)."),
    "414": ("UriTooLong", "too_large", "a request line over 8 KiB."),
    "429": (
        "RateLimited",
        "rate_limited",
        "with `retry_after_ms`: the address's chat budget (`CHAT_RATE_PER_MIN`, "
        "`CHAT_RATE_BURST`) is spent, or too many sign-ins by transaction are "
        "waiting.",
    ),
    "500": ("Internal", "internal", "a server fault (its message never carries a traceback)."),
    "503": (
        "Unavailable",
        "unavailable",
        "the write could not be made durable (nothing was stored, retry), the "
        "chain's node cannot be asked, or the server is at its connection limit "
        "(with `Retry-After: 1`).",
    ),
}

ERROR_CODES = [
    "invalid",
    "too_large",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "rate_limited",
    "internal",
    "unavailable",
]


def error_response(code: str, when: str, retry_after: bool = False) -> dict[str, Any]:
    """The error shape, with this one code."""
    body = {"allOf": [schema("Error"), {"properties": {"error": {"properties": {"code": {"const": code}}}}}]}
    answer: dict[str, Any] = {"description": f"`{code}`: {when}", "content": json_content(body)}
    if retry_after:
        answer["headers"] = {
            "Retry-After": {"description": "At the connection limit: `1` (seconds).", "schema": {"type": "string"}}
        }
    return answer


SCHEMAS: dict[str, Any] = {
    "Address": {
        "type": "string",
        "pattern": ADDRESS,
        "description": "An Ethereum address: accepted in any case, always returned EIP-55 checksummed.",
    },
    "ChatId": {"type": "string", "pattern": CHAT_ID},
    "Millis": {"type": "integer", "description": "Unix epoch milliseconds, server clock."},
    "Error": {
        "type": "object",
        "description": "The one error shape of the contract, REST and socket alike.",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string", "description": "A human sentence naming the field or limit."},
                    "retry_after_ms": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "With `rate_limited`: how long to wait before trying again.",
                    },
                    "members": {
                        "type": "array",
                        "items": schema("Address"),
                        "description": "With `conflict`, for a member of the chat: its current members.",
                    },
                },
                "allOf": [
                    {
                        "if": {"properties": {"code": {"const": "rate_limited"}}},
                        "then": {"required": ["retry_after_ms"]},
                        "else": {"not": {"required": ["retry_after_ms"]}},
                    },
                    {"if": {"properties": {"code": {"const": "conflict"}}}, "else": {"not": {"required": ["members"]}}},
                ],
            }
        },
    },
    "Session": closed(
        {
            "token": {
                "type": "string",
                "minLength": 1,
                "description": "Send as `Authorization: Bearer <token>` (REST) or in the socket's connect packet.",
            },
            "address": schema("Address"),
            "expires_at": {**schema("Millis"), "description": "When the token stops being accepted."},
        }
    ),
    "Chat": closed(
        {
            "id": schema("ChatId"),
            "members": {
                "type": "array",
                "items": schema("Address"),
                "minItems": 0,
                "description": "At most `MAX_MEMBERS` (1,000).",
            },
            "title": {"type": ["string", "null"], "maxLength": 200},
            "created_by": {**schema("Address"), "description": "The first registrant."},
            "created_at": schema("Millis"),
            "last_seq": {
                "type": "integer",
                "minimum": 0,
                "description": "The seq of the chat's latest message; 0 for none.",
            },
            "rev": {"type": "integer", "minimum": 0, "description": "The chat's change counter (see Sync)."},
            "last_message": {
                **nullable("Message"),
                "description": "The latest message by seq, in its current state; null when the caller sees none (a "
                "member added later, before a message reaches them).",
            },
            "read_seq": {"type": "integer", "minimum": 0, "description": "How far the caller has read (v1.2)."},
            "delivered_seq": {
                "type": "integer",
                "minimum": 0,
                "description": "How far messages have reached the caller's devices; at least `read_seq`.",
            },
            "unread": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1000,
                "description": "Messages after `read_seq` from others and not deleted; 1000 means 1000 or more.",
            },
        },
        description="As the caller sees it (v1.2).",
    ),
    "Settings": closed(
        {
            "read_receipts": {
                "type": "boolean",
                "description": "Others see the caller's read and delivered positions (default true).",
            },
            "push_previews": {
                "type": "boolean",
                "description": "Push notifications carry the first 120 characters of the body (default true).",
            },
        }
    ),
    "SettingsChange": {
        "type": "object",
        "properties": {"read_receipts": {"type": "boolean"}, "push_previews": {"type": "boolean"}},
        "additionalProperties": False,
        "description": "Any of the settings; the others are kept. An unknown field is `invalid`.",
    },
    "PushKey": closed(
        {
            "public_key": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{87}$",
                "description": "The uncompressed P-256 point, base64url without padding (`applicationServerKey`).",
            }
        }
    ),
    "PushSubscription": {
        "type": "object",
        "required": ["endpoint", "keys"],
        "properties": {
            "endpoint": {
                "type": "string",
                "pattern": "^https://[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}\\.[a-z]{2,10}(/[A-Za-z0-9._~-]*){0,8}$",
                "maxLength": 1024,
                "description": "`https://` on a host that is not (and resolves to no) loopback, private or "
                "link-local address, unless `NOTIFY_ALLOW_HOSTS` names it; other URLs are `invalid`.",
            },
            "keys": {
                "type": "object",
                "required": ["p256dh", "auth"],
                "properties": {
                    "p256dh": {
                        "type": "string",
                        "pattern": "^B[A-P][A-Za-z0-9_-]{84}[AEIMQUYcgkosw048]=?$",
                        "description": "The browser's uncompressed P-256 public key, base64url.",
                    },
                    "auth": {
                        "type": "string",
                        "pattern": "^[A-Za-z0-9_-]{21}[AQgw](==)?$",
                        "description": "The 16-byte auth secret, base64url.",
                    },
                },
            },
        },
        "description": "A `PushSubscription.toJSON()` as browsers give it (other fields are ignored).",
    },
    "SettingsAnswer": closed({"settings": schema("Settings")}),
    "Payment": closed(
        {
            "chain_id": {"type": "integer", "description": "Always the server's `CHAIN_ID` (42220, Celo, by default)."},
            "hash": {"type": "string", "pattern": "^0x[0-9a-f]{64}$"},
            "to": schema("Address"),
            "value": {"type": "string", "pattern": DECIMAL, "description": "A decimal string of base units."},
            "token": {"anyOf": [schema("Address"), {"type": "null"}], "description": "An ERC-20 token; null: native."},
        }
    ),
    "Original": closed(
        {"body": {"type": "string"}, "tx": nullable("Payment")},
        description="The message as first shown, kept when it was corrected.",
    ),
    "Message": closed(
        {
            "id": {"type": "string", "pattern": MESSAGE_ID, "description": "`<chat_id>/<seq>`; opaque to clients."},
            "chat_id": schema("ChatId"),
            "seq": {
                "type": "integer",
                "minimum": 1,
                "description": "Position in the chat: from 1, gapless, immutable.",
            },
            "rev": {"type": "integer", "minimum": 1, "description": "The chat's rev when this message last changed."},
            "client_id": {"type": "string", "pattern": CLIENT_ID, "description": "The sender's idempotency key."},
            "sender": {**schema("Address"), "description": "The authenticated address, never taken from the payload."},
            "body": {
                "type": "string",
                "description": "1..`MAX_BODY_CHARS` (4,000) characters as sent; a message "
                "`corrected` by XMTP carries XMTP's content; a deleted one, the empty string.",
            },
            "tx": nullable("Payment"),
            "xmtp_id": {
                "type": ["string", "null"],
                "pattern": XMTP_ID,
                "description": "The id of the same message on XMTP, attested by the sender.",
            },
            "xmtp_bound": {
                "type": "boolean",
                "description": "The server recomputed `xmtp_id` from the content and it matched.",
            },
            "status": {"type": "string", "enum": ["provisional", "confirmed", "corrected", "retracted"]},
            "source": {
                "type": "string",
                "enum": ["fallback", "xmtp", "chain"],
                "description": "What settled it; `fallback` while provisional.",
            },
            "reason": {
                "type": ["string", "null"],
                "enum": [
                    None,
                    "reverted",
                    "dropped",
                    "not_sender",
                    "amount_mismatch",
                    "recipient_mismatch",
                    "token_mismatch",
                    "xmtp_mismatch",
                ],
                "description": "Why it was corrected or retracted.",
            },
            "original": nullable("Original"),
            "sent_at": schema("Millis"),
            "updated_at": schema("Millis"),
            "reply_to": {
                "type": ["string", "null"],
                "pattern": MESSAGE_ID,
                "description": "v1.2: the id of the message of the same chat this one replies to.",
            },
            "reactions": {
                "type": "object",
                "maxProperties": 20,
                "additionalProperties": {"type": "array", "items": schema("Address"), "minItems": 1, "maxItems": 50},
                "description": "v1.2: emoji -> its 50 latest reactors, sorted by lower-case address.",
            },
            "reaction_counts": {
                "type": "object",
                "maxProperties": 20,
                "additionalProperties": {"type": "integer", "minimum": 1},
                "description": "v1.2: emoji -> how many reacted with it.",
            },
            "deleted": {
                "type": "boolean",
                "description": "v1.2: deleted for everyone by its sender: no text, no reactions.",
            },
        }
    ),
    "Members": {
        "type": "object",
        "required": ["members"],
        "properties": {
            "members": {
                "type": "array",
                "maxItems": 1000,
                "items": schema("Address"),
                "description": "Addresses in any case; duplicates (in any case) count once.",
            },
            "share_history": {
                "type": "boolean",
                "default": False,
                "description": "Whether the new members see the chat's earlier messages (as much of them as the "
                "caller sees). Without it they see it from its next message on, as in XMTP/MLS groups.",
            },
        },
    },
    "ChatAnswer": closed({"chat": schema("Chat")}),
    "Health": closed(
        {
            "status": {"const": "ok"},
            "store": {"type": "string", "enum": ["jsonl", "postgresql"]},
            "broker": {
                "type": "string",
                "enum": ["ok", "reconnecting"],
                "description": "Whether this node hears the other nodes' commits.",
            },
            "redis": {
                "type": "string",
                "enum": ["ok", "down", "not configured"],
                "description": "down: Redis failed or hung and this node keeps its own view until it answers again.",
            },
            "connections": {"type": "integer", "minimum": 0, "description": "Open sockets."},
            "chain_id": {"type": "integer"},
            "siwe_domains": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The SIWE domains this server signs in for (SIWE_DOMAINS).",
            },
            "reconciler": closed(
                {
                    "rounds": {"type": "integer", "minimum": 0},
                    "leader": {
                        "type": "boolean",
                        "description": "Whether this node settles (one node of several does).",
                    },
                    "provisional": {"type": "integer", "minimum": 0},
                    "chain": {"type": "string", "enum": ["configured", "not configured"]},
                    "rpc_calls": {"type": "integer", "minimum": 0},
                    "xmtp": {"type": "string", "enum": ["gateway", "attestation"]},
                    "errors": {"type": "integer", "minimum": 0},
                    "last_error": {"type": ["string", "null"]},
                }
            ),
        }
    ),
}

SESSION_ANSWER = ok("Signed in: a token for the address.", schema("Session"))

PATHS: dict[str, Any] = {
    "/api/health": {
        "get": operation(
            "health",
            "meta",
            "Liveness, open sockets and the reconciler's counters (no auth)",
            {
                "200": ok("Serving.", schema("Health")),
                "503": ok(
                    "Storage stopped accepting writes (see docs/operations.md). Not the error shape.",
                    closed(
                        {
                            "status": {"const": "unavailable"},
                            "store": {"type": "string", "enum": ["jsonl", "postgresql"]},
                            "message": {"type": "string"},
                        }
                    ),
                ),
            },
            (),
            secured=False,
            transport=("400", "414", "500"),
        )
    },
    "/api/openapi.json": {
        "get": operation(
            "openapi",
            "meta",
            "This document (no auth)",
            {
                "200": ok(
                    "The OpenAPI 3.1 description of the REST API.",
                    {"type": "object", "required": ["openapi", "info", "paths"]},
                )
            },
            (),
            secured=False,
        )
    },
    "/api/auth/nonce": {
        "get": operation(
            "nonce",
            "auth",
            "A single-use sign-in nonce (no auth)",
            {
                "200": ok(
                    "A nonce, single use, valid for 5 minutes; with `bound=true`, bound to its `proof`.",
                    {
                        "type": "object",
                        "properties": {
                            "nonce": {"type": "string", "pattern": "^[0-9a-f]{56}$"},
                            "proof": {
                                "type": "string",
                                "pattern": "^[0-9a-f]{32}$",
                                "description": "Only with `bound=true`; kept by the client: /verify-tx takes it with a "
                                "transaction that names this nonce.",
                            },
                        },
                        "required": ["nonce"],
                        "additionalProperties": False,
                    },
                )
            },
            ("400",),
            secured=False,
            parameters=[
                {
                    "name": "bound",
                    "in": "query",
                    "required": False,
                    "description": "`true`: a nonce that signs in by transaction only with its `proof`.",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                }
            ],
        )
    },
    "/api/auth/verify": {
        "post": operation(
            "verify",
            "auth",
            "Sign in with Ethereum (EIP-4361)",
            {"200": SESSION_ANSWER},
            ("401", "413"),
            secured=False,
            description="The attempt uses up the message's nonce, good or bad.",
            requestBody=request_body(
                {
                    "type": "object",
                    "required": ["message", "signature"],
                    "properties": {
                        "message": {"type": "string", "description": "The EIP-4361 text."},
                        "signature": {"type": "string", "description": "The EIP-191 personal_sign signature, 0x hex."},
                    },
                }
            ),
        )
    },
    "/api/auth/verify-tx": {
        "post": operation(
            "verifyTx",
            "auth",
            "Sign in by a zero-value transaction to oneself (wallets that sign no messages)",
            {"200": SESSION_ANSWER},
            ("401", "413", "429"),
            secured=False,
            description="The transaction's data is `optimistic-messaging sign-in <domain> <nonce>`. Without "
            "`CHAIN_RPC_URL`: `unavailable`.",
            requestBody=request_body(
                {
                    "type": "object",
                    "required": ["tx_hash"],
                    "properties": {
                        "tx_hash": {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"},
                        "proof": {
                            "type": "string",
                            "description": "The proof given with the transaction's bound nonce.",
                        },
                    },
                }
            ),
        )
    },
    "/api/auth/renew": {
        "post": operation(
            "renew",
            "auth",
            "A fresh token for the same session, without signing again",
            {"200": SESSION_ANSWER},
            ("401",),
            description="A session ends `SESSION_MAX_AGE_S` (30 days) after its sign-in, renewed or not.",
        )
    },
    "/api/auth/logout": {
        "post": operation(
            "logout",
            "auth",
            "Sign out: end this session (its sign-in and every renewal of it) on every node",
            {"200": ok("Signed out: the session's tokens are `unauthorized` from now on.", closed({}))},
            ("401",),
            description="The address's other sign-ins go on. The session's sockets get `session:expired` with "
            '`"reason": "logout"` and are disconnected, and the push subscriptions it registered end. Signing out '
            "again with any of its tokens: `unauthorized`.",
        )
    },
    "/api/chats": {
        "get": operation(
            "listChats",
            "chats",
            "The caller's chats, latest activity first, paged",
            {
                "200": ok(
                    "A page of chats.",
                    closed(
                        {
                            "chats": {"type": "array", "items": schema("Chat")},
                            "has_more": {"type": "boolean"},
                            "next_cursor": {
                                "type": ["string", "null"],
                                "pattern": CURSOR,
                                "description": "Opaque, sealed for the caller alone; pass it as `cursor` for the next "
                                "page. Null on the last.",
                            },
                        }
                    ),
                )
            },
            ("401",),
            parameters=[
                query_int("limit", 1, 200, "Chats per page.", 100),
                {
                    "name": "cursor",
                    "in": "query",
                    "required": False,
                    "description": "A `next_cursor` this server gave the caller; any other string is `invalid`.",
                    "schema": {"type": "string", "pattern": CURSOR},
                },
            ],
        ),
        "post": operation(
            "createChat",
            "chats",
            "Create a DM or a group, or register a chat id",
            {
                "200": ok(
                    "That chat exists already: the DM of these two, or a registered id asked for with exactly "
                    "its members.",
                    schema("ChatAnswer"),
                ),
                "201": ok("Created.", schema("ChatAnswer")),
            },
            ("401", "409", "413", "429"),
            description="The caller is always a member. Without `id`: two members make a DM (its id derived from the "
            "pair), any other count a new group. An `id` starting `dm:` is `invalid`; more than "
            "`MAX_MEMBERS` members is `invalid`.",
            requestBody=request_body(
                {
                    "type": "object",
                    "required": ["members"],
                    "properties": {
                        "members": SCHEMAS["Members"]["properties"]["members"],
                        "id": {
                            "type": ["string", "null"],
                            "pattern": CHAT_ID,
                            "not": {"type": "string", "pattern": "^dm:"},
                            "description": "A chat id to register (e.g. an XMTP conversation id); the first wins. "
                            "`dm:` is reserved for DMs.",
                        },
                        "title": {
                            "type": ["string", "null"],
                            "maxLength": 200,
                            "pattern": "^[^\\u0000]*$",
                            "description": "Without U+0000 (NUL).",
                        },
                    },
                }
            ),
        ),
    },
    "/api/chats/{chat_id}": {
        "parameters": [CHAT_PARAM],
        "get": operation(
            "getChat",
            "chats",
            "A chat the caller is a member of",
            {"200": ok("The chat.", schema("ChatAnswer"))},
            ("401", "403", "404"),
        ),
    },
    "/api/push/key": {
        "get": operation(
            "pushKey",
            "push",
            "The server's VAPID public key (no auth)",
            {"200": ok("The key a browser subscribes with.", schema("PushKey"))},
            (),
            secured=False,
        ),
    },
    "/api/push/subscriptions": {
        "put": operation(
            "putPushSubscription",
            "push",
            "Register this browser's Web Push subscription for the caller",
            {
                "200": ok("The caller had it already (its keys are renewed).", closed({})),
                "201": ok("Registered (moved from another address if it had it).", closed({})),
            },
            ("401", "413", "429"),
            description="At most 10 per address: an 11th drops the oldest. The endpoint must be `https://` on a host "
            "that is not a loopback, private or link-local address unless `NOTIFY_ALLOW_HOSTS` names it (`invalid`); "
            "the caller's session signing out ends it.",
            requestBody=request_body(schema("PushSubscription")),
        ),
        "delete": operation(
            "deletePushSubscription",
            "push",
            "End one of the caller's Web Push subscriptions",
            {"200": ok("It is no longer the caller's (if it ever was).", closed({}))},
            ("401", "413", "429"),
            requestBody=request_body(
                {
                    "type": "object",
                    "required": ["endpoint"],
                    "properties": {
                        "endpoint": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 1024,
                            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
                        }
                    },
                }
            ),
        ),
    },
    "/api/me/settings": {
        "get": operation(
            "getSettings",
            "settings",
            "The caller's settings",
            {"200": ok("Every setting, defaults included.", schema("SettingsAnswer"))},
            ("401",),
        ),
        "put": operation(
            "putSettings",
            "settings",
            "Change some of the caller's settings",
            {"200": ok("Every setting, as it is now (durable).", schema("SettingsAnswer"))},
            ("401", "413", "429"),
            description="Changes the fields it names and keeps the others. With `read_receipts` false, nobody else "
            "sees the caller's positions (its own unread counts still work).",
            requestBody=request_body(schema("SettingsChange")),
        ),
    },
    "/api/farcaster/webhook": {
        "post": operation(
            "farcasterWebhook",
            "notifications",
            "A Farcaster client's mini-app event",
            {"200": ok("Accepted.", closed({"ok": {"const": True}}))},
            ("401", "413", "429"),
            secured=False,
            description="A JSON Farcaster Signature: Ed25519 over `header.payload` by the header's `key`, which "
            "must be an active app key of its `fid` on `FARCASTER_HUB_URL`; anything else is `unauthorized` and "
            "changes nothing. `miniapp_added` (with `notificationDetails`) and `notifications_enabled` keep that "
            "client's token; `notifications_disabled` and `miniapp_removed` drop it. A notification URL that is not "
            "https on a public host (unless `NOTIFY_ALLOW_HOSTS` names it) is `invalid`. Without a hub: `unavailable`.",
            requestBody=request_body(
                {
                    "type": "object",
                    "required": ["header", "payload", "signature"],
                    "properties": {
                        name: {"type": "string", "description": f"The base64url {name}."}
                        for name in ("header", "payload", "signature")
                    },
                }
            ),
        )
    },
    "/api/farcaster/link": {
        "post": operation(
            "farcasterLink",
            "notifications",
            "Tie the caller's Farcaster fid to its address",
            {
                "200": ok(
                    "Linked (durable): the fid's notifications go to the address's events.",
                    closed({"fid": {"type": "integer", "minimum": 1}, "address": schema("Address")}),
                )
            },
            ("401", "413", "429"),
            description="`token` is a Quick Auth JWT (`sdk.quickAuth.getToken()`): RS256 by a key of "
            "`FARCASTER_AUTH_JWKS_URL`, issuer `https://auth.farcaster.xyz`, audience one of `SIWE_DOMAINS`, not "
            "expired; its `sub` is the fid. Any other token is `unauthorized`. Without a JWKS URL: `unavailable`.",
            requestBody=request_body(
                {
                    "type": "object",
                    "required": ["token"],
                    "properties": {"token": {"type": "string", "minLength": 1, "maxLength": MAX_JWT_CHARS}},
                }
            ),
        )
    },
    "/api/chats/{chat_id}/members": {
        "parameters": [CHAT_PARAM],
        "post": operation(
            "addMembers",
            "chats",
            "A member adds members",
            {"200": ok("The chat with its members now.", schema("ChatAnswer"))},
            ("401", "403", "404", "413", "429"),
            description="A DM keeps its two members (`invalid`); beyond `MAX_MEMBERS` is `invalid`. New members see "
            "the chat from its next message on (history, changes, `join`, events: earlier messages are not theirs), "
            "unless `share_history` is true; members already in it keep what they see.",
            requestBody=request_body(schema("Members")),
        ),
    },
    "/api/chats/{chat_id}/members/{address}": {
        "parameters": [CHAT_PARAM, path_param("address", ADDRESS, "The member to remove, in any case.")],
        "delete": operation(
            "removeMember",
            "chats",
            "A member leaves a group; its creator removes others",
            {"200": ok("The chat with its members now (none: the chat is erased).", schema("ChatAnswer"))},
            ("401", "403", "404", "429"),
            description="Anyone else removing another is `forbidden`; a DM's members cannot be removed (`invalid`); "
            "an address that is not a member is `not_found`. When the last member leaves, the chat and its history "
            "are erased and its id is free: registered again, it starts a new chat whose seq and rev go on after the "
            "erased ones.",
        ),
    },
    "/api/chats/{chat_id}/messages": {
        "parameters": [CHAT_PARAM],
        "get": operation(
            "history",
            "history",
            "A page of history, ascending by seq",
            {
                "200": ok(
                    "Messages in their current state.",
                    closed(
                        {
                            "messages": {"type": "array", "items": schema("Message")},
                            "has_more": {
                                "type": "boolean",
                                "description": "More exist beyond the page in the direction of travel.",
                            },
                        }
                    ),
                )
            },
            ("401", "403", "404"),
            description="`before`: the latest `limit` below it; `after`: the earliest `limit` above it; both: the "
            "earliest `limit` between them; neither: the latest `limit`. A member added later (without shared "
            "history) gets only the messages from when they were added on.",
            parameters=[
                query_int("before", 0, MAX_SAFE, "Only messages with a lower seq."),
                query_int("after", 0, MAX_SAFE, "Only messages with a higher seq."),
                query_int("limit", 1, 200, "Messages per page.", 50),
            ],
        ),
    },
    "/api/chats/{chat_id}/changes": {
        "parameters": [CHAT_PARAM],
        "get": operation(
            "changes",
            "history",
            "Every message created or changed after a rev, in rev order",
            {
                "200": ok(
                    "Changes, cut at `limit` messages or about 1,000,000 characters of text.",
                    closed({"changes": {"type": "array", "items": schema("Message")}, "has_more": {"type": "boolean"}}),
                )
            },
            ("401", "403", "404"),
            parameters=[
                query_int("since_rev", 0, MAX_SAFE, "The highest rev the client has seen.", 0),
                query_int("limit", 1, 500, "Most messages in the page.", 500),
            ],
        ),
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Optimistic Messaging REST API",
        "version": "1.2",
        "description": "Sign-in, chats, membership, history, settings and health. The wire contract, the Socket.IO "
        "events and the guarantees are in docs/protocol.md; this document describes the REST endpoints only. "
        "Request bodies are read as JSON whatever their Content-Type; unknown fields and query "
        "parameters are ignored (but for settings, where they are `invalid`). Every path also answers HEAD (its "
        "GET) and OPTIONS (CORS preflight); a method a path does not serve is answered `405` with `Allow` and the "
        "error shape (code `invalid`).",
    },
    "tags": [
        {"name": "meta"},
        {"name": "auth"},
        {"name": "chats"},
        {"name": "history"},
        {"name": "settings"},
        {"name": "notifications"},
        {"name": "push"},
    ],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from /api/auth/verify, /verify-tx or /renew.",
            }
        },
        "schemas": SCHEMAS,
        "responses": {
            name: error_response(code, when, retry_after=status == "503")
            for status, (name, code, when) in ERROR_RESPONSES.items()
        },
    },
}
