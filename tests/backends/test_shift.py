"""Context shift: finding the block a new prompt drops, and moving the cache past it."""

from __future__ import annotations

from os1.backends.shift import MIN_KEPT, find_drop


def test_a_block_dropped_after_the_shared_prefix_is_found() -> None:
    system, dropped, kept = list(range(50)), list(range(1000, 1200)), list(range(2000, 2300))
    cached = system + dropped + kept + [7, 7, 7]
    assert find_drop(cached, system + kept + [9, 9]) == (50, 200, 300)


def test_no_shift_without_a_long_enough_kept_block_in_the_same_order() -> None:
    system, a, b = list(range(50)), list(range(1000, 1100)), list(range(2000, 2100))
    assert find_drop(system + a + b, system + b + a) == (50, 100, 100)  # b kept, a is new
    short = list(range(3000, 3000 + MIN_KEPT - 1))
    assert find_drop(system + a + short, system + short + [1, 2]) is None
    assert find_drop(system + a, system + list(range(5000, 5100))) is None  # nothing shared
    assert find_drop(system + a, system + a + b) is None  # an extension: plain prefix reuse
