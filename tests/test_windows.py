"""The coalescing windows and budgets (coalesce/): the same contract in this process and in Redis (shared by nodes)."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gevent
import pytest

from optimistic_messaging.coalesce import LocalWindows, Windows
from optimistic_messaging.coalesce.redis import RedisWindows
from optimistic_messaging.redisconn import Redis

from cluster import REDIS_URL
from support import FakeClock

pytestmark = pytest.mark.store_free  # run once: nothing here depends on the store

WINDOW_S = 0.3


@dataclass
class Kind:
    windows: Windows
    wait: Callable[[float], None]  # lets this much time pass, on the windows' clock


@pytest.fixture(params=["local", "redis"])
def kind(request) -> Iterator[Kind]:
    if request.param == "local":
        clock = FakeClock()
        yield Kind(LocalWindows(clock), lambda s: clock.advance(int(s * 1000) + 1))
        return
    r = Redis(REDIS_URL, f"om:test-{uuid.uuid4().hex[:8]}:", "node", FakeClock())
    yield Kind(RedisWindows(r), lambda s: time.sleep(s + 0.01))
    for key in r.client.scan_iter(match=r.prefix + "*"):
        r.client.delete(key)
    r.client.close()


def test_the_first_item_goes_at_once_the_rest_wait_for_the_windows_end_and_are_taken_once(kind):
    w, key = kind.windows, uuid.uuid4().hex
    assert w.add(key, "a", WINDOW_S) is True
    assert (w.add(key, "b", WINDOW_S), w.add(key, "c", WINDOW_S)) == (False, False)
    early = w.take(key, WINDOW_S)
    assert early.items == () and 0 < early.left_s <= WINDOW_S
    kind.wait(early.left_s)
    assert w.take(key, WINDOW_S).items == ("b", "c")
    again = w.take(key, WINDOW_S)  # the next window opened when they were taken
    assert again.items == () and again.left_s > 0
    assert w.add(key, "d", WINDOW_S) is False
    kind.wait(again.left_s)
    assert w.take(key, WINDOW_S).items == ("d",)
    kind.wait(WINDOW_S)
    assert w.take(key, WINDOW_S) == w.take(key, WINDOW_S) and w.take(key, WINDOW_S).items == ()  # closed, empty
    assert w.add(key, "e", WINDOW_S) is True


def test_kept_items_come_first_at_the_windows_end(kind):
    w, key = kind.windows, uuid.uuid4().hex
    w.keep(key, ["retried"], WINDOW_S)  # no window was open: one opens, nothing goes at once
    assert w.add(key, "newer", WINDOW_S) is False
    kind.wait(WINDOW_S)
    assert w.take(key, WINDOW_S).items == ("retried", "newer")


def test_close_ends_an_empty_window_but_not_one_that_kept_something(kind):
    w, key, kept = kind.windows, uuid.uuid4().hex, uuid.uuid4().hex
    for k in (key, kept):
        w.add(k, "a", WINDOW_S)
    w.add(kept, "b", WINDOW_S)
    w.close(key)
    w.close(kept)
    assert w.add(key, "c", WINDOW_S) is True  # closed: the next goes at once
    assert w.add(kept, "c", WINDOW_S) is False
    kind.wait(WINDOW_S)
    assert w.take(kept, WINDOW_S).items == ("b", "c")


def test_a_budget_is_spent_per_key_up_to_its_limit_then_renewed_after_its_period(kind):
    w, key = kind.windows, uuid.uuid4().hex
    assert [w.spend(key, 2, WINDOW_S) for _ in range(3)] == [True, True, False]
    assert w.spend(key + "other", 2, WINDOW_S) is True
    kind.wait(WINDOW_S)
    assert w.spend(key, 2, WINDOW_S) is True


def test_of_takes_at_once_one_gets_the_items(kind):
    w, key = kind.windows, uuid.uuid4().hex
    w.add(key, "a", WINDOW_S)
    w.add(key, "b", WINDOW_S)
    kind.wait(WINDOW_S)
    takes = [gevent.spawn(w.take, key, WINDOW_S) for _ in range(5)]
    gevent.joinall(takes)
    assert sorted(t.value.items for t in takes) == [(), (), (), (), ("b",)]
