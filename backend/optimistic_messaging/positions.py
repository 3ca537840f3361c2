"""A stream's position: how far it has been delivered with nothing missing (after Synapse's stream tokens and
centrifuge's StreamPosition). Revs may arrive out of order; the ones past a gap are held until it closes. An item may
stand for a run of revs (a chat's confirmation by the clock: one event for many messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class StreamPosition(Generic[T]):
    """Everything up to `rev` has gone out, none twice; `held` are later revs waiting for the ones below them."""

    rev: int = -1  # -1: not known yet (being read), so nothing can go out
    held: dict[int, tuple[int, T]] = field(default_factory=dict)  # first rev -> (last rev, item)

    @property
    def known(self) -> bool:
        return self.rev >= 0

    @property
    def gap(self) -> bool:
        """Revs are held past a missing one: it has to be filled from elsewhere (or arrive late)."""
        return bool(self.held)

    def take(self, rev: int) -> bool:
        """The rev right after the position with nothing held: it goes out now and the position is past it (the usual
        case, in one call); False: `hold` it instead."""
        if rev == self.rev + 1 and self.rev >= 0 and not self.held:
            self.rev = rev
            return True
        return False

    def hold(self, rev: int, item: T, last: int | None = None) -> None:
        """A rev (or the run of revs `rev`..`last`) arrived: kept until everything before it has gone out (one
        already past is dropped)."""
        if rev > self.rev:
            self.held[rev] = (rev if last is None else last, item)

    def advance(self) -> list[T]:
        """What can go out now, in rev order: the held revs that follow on without a gap; the position moves past
        them, and held revs it has passed meanwhile (filled from elsewhere) are dropped."""
        out: list[T] = []
        if not self.known:
            return out
        while (entry := self.held.pop(self.rev + 1, None)) is not None:
            self.rev, item = entry
            out.append(item)
        if self.held:  # nearly always empty: the revs came in order
            for rev in [r for r in self.held if r <= self.rev]:
                del self.held[rev]
        return out

    def reach(self, rev: int) -> None:
        """Everything up to `rev` went out by another way (a fill from the store, a snapshot): it is the position."""
        self.rev = max(self.rev, rev)
