"""The load group's arithmetic: p95 by nearest rank, so one slow call in 20 passes and two
fail (the mutants in test_mutants.py run the checks themselves)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roam.conformance.load import apparent_order, p95


def test_p95_of_20_calls_is_the_second_slowest() -> None:
    fast = [0.01 * i for i in range(1, 19)]
    assert p95([*fast, 0.2, 9.0]) == 0.2  # one slow call does not move p95
    assert p95([*fast, 5.0, 9.0]) == 5.0  # two do
    assert p95([0.5]) == 0.5


def test_the_order_a_list_shows_is_read_from_its_objects() -> None:
    t0 = datetime(2025, 3, 3, tzinfo=UTC)
    stamps = {"B": t0, "A": t0 + timedelta(hours=1), "C": t0 + timedelta(hours=2)}
    assert apparent_order(["B", "A", "C"], stamps) == "as sorted by last_updated, oldest first"
    assert apparent_order(["C", "A", "B"], stamps) == "as sorted by last_updated, newest first"
    assert apparent_order(["A", "B", "C"], stamps) == "as sorted by id"
    assert apparent_order(["B", "C", "A"], stamps).endswith("(creation order?)")
    assert apparent_order(["A"], stamps) == "too short to tell an order"
