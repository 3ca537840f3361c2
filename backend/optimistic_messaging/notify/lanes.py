"""Outbound requests by host: each host gets a few in flight and a bounded line of its own, so a push service that
accepts and never answers holds only its own lane, while pushes to every other host go out; nothing here ever waits
(a full line drops the request, counted by the caller)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gevent.pool import Group

log = logging.getLogger(__name__)

IN_FLIGHT = 8  # requests at once to one host: a hanging host holds at most these greenlets
WAITING = 1_000  # requests to one host waiting for one of them

Job = Callable[[], None]


@dataclass(slots=True)
class Lane:
    """One host's: how many of its requests are running, and those waiting their turn."""

    running: int = 0
    waiting: deque[Job] = field(default_factory=deque)


class Lanes:
    """Runs each job in its host's lane, never blocking the caller."""

    def __init__(self, in_flight: int = IN_FLIGHT, waiting: int = WAITING) -> None:
        self.in_flight, self.max_waiting = in_flight, waiting
        self.lanes: dict[str, Lane] = {}
        self.greenlets = Group()

    def run(self, url: str, job: Job) -> bool:
        """Start the job now if its host has room, else line it up; False when its host's line is full (dropped)."""
        host = urlsplit(url).netloc.lower()
        lane = self.lanes.setdefault(host, Lane())
        if lane.running < self.in_flight:
            lane.running += 1
            self.greenlets.spawn(self._drain, host, lane, job)
            return True
        if len(lane.waiting) < self.max_waiting:
            lane.waiting.append(job)
            return True
        return False

    def _drain(self, host: str, lane: Lane, job: Job) -> None:
        """Run the job, then whatever waits in the lane, until it is empty; the lane goes when nothing is left."""
        try:
            while True:
                try:
                    job()
                except Exception:
                    log.exception("a request to %s failed", host)
                if not lane.waiting:
                    return
                job = lane.waiting.popleft()
        finally:
            lane.running -= 1
            if not lane.running and not lane.waiting:
                self.lanes.pop(host, None)

    def kill(self) -> None:
        self.greenlets.kill()
        self.lanes.clear()
