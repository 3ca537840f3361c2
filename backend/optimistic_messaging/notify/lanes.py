"""Outbound requests by host: each host gets a few in flight and a bounded line of its own, so a push service that
accepts and never answers holds only its own lane, while pushes to every other host go out; all hosts together have a
ceiling too (hosts and ports are the client's choice: many hanging ones must not take every socket of the process).
Nothing here ever waits (a full line drops the request, counted by the caller)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from gevent.pool import Group

log = logging.getLogger(__name__)

IN_FLIGHT = 8  # requests at once to one host: a hanging host holds at most these greenlets
WAITING = 1_000  # requests to one host waiting for one of them
TOTAL = 256  # requests at once to all hosts together

Job = Callable[[], None]


@dataclass(slots=True)
class Lane:
    """One host's: how many of its requests are running, and those waiting their turn."""

    running: int = 0
    waiting: deque[Job] = field(default_factory=deque)


@lru_cache(maxsize=4096)
def host_of(url: str) -> str:
    """A lane's name: the URL's host and port (kept: every push to a subscription asks again)."""
    return urlsplit(url).netloc.lower()


class Lanes:
    """Runs each job in its host's lane, never blocking the caller."""

    def __init__(self, in_flight: int = IN_FLIGHT, waiting: int = WAITING, total: int = TOTAL) -> None:
        self.in_flight, self.max_waiting, self.total = in_flight, waiting, total
        self.lanes: dict[str, Lane] = {}
        self.running = 0  # over all lanes
        self.ready: deque[str] = deque()  # hosts with room of their own whose line waits for room under the ceiling
        self.greenlets = Group()

    def run(self, url: str, job: Job) -> bool:
        """Start the job now if its host and the ceiling have room, else line it up; False when its host's line is
        full (dropped)."""
        host = host_of(url)
        lane = self.lanes.get(host)
        if lane is None:
            lane = self.lanes[host] = Lane()
        if lane.running < self.in_flight and self.running < self.total:
            self._start(host, lane, job)
            return True
        if len(lane.waiting) < self.max_waiting:
            lane.waiting.append(job)
            if lane.running < self.in_flight:
                self.ready.append(host)
            return True
        return False

    def _start(self, host: str, lane: Lane, job: Job) -> None:
        lane.running += 1
        self.running += 1
        self.greenlets.spawn(self._drain, host, lane, job)

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
            self.running -= 1
            if not lane.running and not lane.waiting:
                self.lanes.pop(host, None)
            self._next_ready()

    def _next_ready(self) -> None:
        """The room just freed under the ceiling goes to the host that has waited longest for it."""
        while self.ready and self.running < self.total:
            host = self.ready.popleft()
            lane = self.lanes.get(host)
            if lane is not None and lane.waiting and lane.running < self.in_flight:
                self._start(host, lane, lane.waiting.popleft())

    def kill(self) -> None:
        self.lanes.clear()  # first: a killed job's lane then starts no other
        self.ready.clear()
        self.greenlets.kill()
