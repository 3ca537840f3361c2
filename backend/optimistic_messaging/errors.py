"""The one error shape of the contract, shared by REST and socket acks; and the domain's refusals, named in it here."""

from __future__ import annotations

from typing import Any

STATUS = {
    "invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}


class ApiError(Exception):
    """Raised anywhere below a handler; turned into `{"error": {...}}` at the edge."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def refused(exc: ApiError) -> dict[str, Any]:
    """A socket event's answer when it fails: `{"ok": false, "error": {...}}`, built here only."""
    return {"ok": False, **exc.body()}


def internal() -> ApiError:
    """What a client is told of a fault of the server's own (the fault itself is logged, not shown)."""
    return ApiError("internal", "internal error; it has been logged")


class DomainError(ApiError):
    """A refusal raised below the edge (the stores), named by its kind, not by the contract: the edge's table (CODES)
    gives its code, so no store spells a wire code or an HTTP status."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(CODES[type(self)], message, **extra)


class NotFound(DomainError):
    """No such chat, member or message."""


class Forbidden(DomainError):
    """The caller may not do this (not a member)."""


class Conflict(DomainError):
    """The request collides with what is stored (a client_id used for another message)."""


class Invalid(DomainError):
    """The request breaks a rule of the data (too many members)."""


class Unavailable(DomainError):
    """Storage cannot take or answer this now: nothing was stored, a retry may succeed."""


class Failed(DomainError):
    """A fault of this server's (a bug, a write the database refused)."""


CODES: dict[type[DomainError], str] = {
    NotFound: "not_found",
    Forbidden: "forbidden",
    Conflict: "conflict",
    Invalid: "invalid",
    Unavailable: "unavailable",
    Failed: "internal",
}
