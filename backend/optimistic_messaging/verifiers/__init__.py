"""Sources of truth the reconciler asks: the chain for payments, XMTP for attested copies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Outcome:
    """A verifier's answer for one message: fields to change, or none yet (ask again; after an error, later)."""

    fields: dict[str, Any] | None = None
    error: str | None = None


WAIT = Outcome()


class VerifierDown(Exception):
    """The source of truth could not be asked at all this round: back off, settle nothing."""
