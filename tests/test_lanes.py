"""The push lanes' limits, in-process: a host's own, and the ceiling over all hosts (many hanging hosts, each within
its own limit, must not hold every socket of the process)."""

from __future__ import annotations

import gevent
import pytest
from gevent.event import Event

from optimistic_messaging.notify.lanes import Lanes

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store


def hanging(started: list[str], name: str, release: Event):
    def job() -> None:
        started.append(name)
        release.wait()

    return job


def test_past_the_ceiling_a_host_with_room_of_its_own_waits_its_turn_and_gets_the_first_freed():
    lanes, started = Lanes(in_flight=2, waiting=10, total=3), []
    first, rest = Event(), Event()
    assert lanes.run("https://a.example/1", hanging(started, "a1", first))
    assert lanes.run("https://b.example:444/1", hanging(started, "b1", rest))
    assert lanes.run("https://b.example:445/1", hanging(started, "c1", rest))  # another port: another lane
    assert lanes.run("https://d.example/1", hanging(started, "d1", rest))  # its host has room; the ceiling has none
    gevent.sleep(0)
    assert sorted(started) == ["a1", "b1", "c1"] and lanes.running == 3
    first.set()  # a1 ends: its room under the ceiling goes to d, not to a line of a's
    for _ in range(100):
        if "d1" in started:
            break
        gevent.sleep(0)
    assert "d1" in started and lanes.running == 3
    rest.set()
    lanes.greenlets.join(timeout=5)
    assert lanes.running == 0 and not lanes.lanes


def test_a_hosts_full_line_drops_what_comes_next():
    lanes, started, release = Lanes(in_flight=1, waiting=1, total=8), [], Event()
    assert lanes.run("https://a.example/1", hanging(started, "a1", release))
    assert lanes.run("https://a.example/2", hanging(started, "a2", release))
    assert not lanes.run("https://a.example/3", hanging(started, "a3", release))
    release.set()
    lanes.greenlets.join(timeout=5)
    assert started == ["a1", "a2"]
