"""Everything that runs beside the requests, started in one place: by the process boot, never by the app factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import gevent

from .auth import Revocations
from .backends import Backends
from .reconciler import Reconciler


@dataclass
class Background:
    """The app's I/O and loops: the store opened (the log read), the broker heard, and every loop run, by `start()`."""

    backends: Backends
    revocations: Revocations
    reconciler: Reconciler
    loops: list[Callable[[], None]]  # the socket side's: the pinger (wire.attach), the sweepers (events.register)
    running: list[gevent.Greenlet] = field(default_factory=list)

    def start(self) -> None:
        """Open the store, read what is kept in memory from it, then run the loops (the pinger, the sweepers, the
        reconciler) and hear of commits."""
        self.backends.open()
        self.revocations.load(announce=False)  # no socket is open yet: nothing to end
        self.reconciler.start()
        self.running = [gevent.spawn(loop) for loop in (self.reconciler.run, *self.loops)]
        self.backends.start()

    def close(self) -> None:
        """Stop the loops, then close what the backends hold open."""
        gevent.killall(self.running)
        self.running = []
        self.backends.close()
