"""StreamPosition on its own: how far a stream has gone out with nothing missing, revs past a gap held till it closes."""

from __future__ import annotations

from optimistic_messaging.positions import StreamPosition


def test_nothing_goes_out_while_the_position_is_not_known():
    position: StreamPosition[str] = StreamPosition()
    position.hold(0, "r0")
    assert not position.known and position.advance() == [] and position.gap
    position.reach(0)
    assert position.advance() == [] and not position.gap, "rev 0 is already where it stands: dropped"


def test_revs_go_out_in_order_once_the_gap_below_them_closes():
    position: StreamPosition[str] = StreamPosition(rev=3)
    position.hold(6, "r6")
    position.hold(5, "r5")
    assert position.advance() == [] and position.gap and position.rev == 3
    position.hold(4, "r4")
    assert position.advance() == ["r4", "r5", "r6"] and not position.gap and position.rev == 6


def test_a_rev_already_past_is_never_held_or_given_twice():
    position: StreamPosition[str] = StreamPosition(rev=3)
    position.hold(3, "again")
    position.hold(2, "older")
    assert position.advance() == [] and not position.gap


def test_a_fill_from_elsewhere_moves_the_position_and_drops_what_it_covered():
    position: StreamPosition[str] = StreamPosition(rev=1)
    position.hold(3, "r3")
    position.hold(5, "r5")
    position.reach(4)  # revs 2..4 were read from the store
    assert position.advance() == ["r5"] and position.rev == 5 and not position.gap
    position.reach(2)
    assert position.rev == 5, "a position never goes back"


def test_a_run_of_revs_goes_out_as_one_item_and_what_follows_it_waits_for_all_of_it():
    position: StreamPosition[str] = StreamPosition(rev=3)
    position.hold(9, "r9")
    position.hold(4, "confirmed 4..8", last=8)
    assert position.advance() == ["confirmed 4..8", "r9"] and position.rev == 9 and not position.gap
    position.hold(12, "r12")
    position.hold(10, "confirmed 10..11", last=11)
    assert position.advance() == ["confirmed 10..11", "r12"] and position.rev == 12


def test_the_next_rev_with_nothing_held_is_taken_at_once_and_anything_else_is_left_to_hold():
    position: StreamPosition[str] = StreamPosition()
    assert not position.take(0), "nothing goes out while the position is not known"
    position.reach(3)
    assert position.take(4) and position.rev == 4
    assert not position.take(4) and not position.take(6) and position.rev == 4, "a rev past or beyond the next waits"
    position.hold(6, "r6")
    assert not position.take(5), "with a rev held, the next one goes through hold and advance (r6 after it)"
    position.hold(5, "r5")
    assert position.advance() == ["r5", "r6"] and position.rev == 6
