"""datagen.day without a database: how much a day writes, and its own random sources."""

from __future__ import annotations

from dataclasses import astuple
from datetime import date

import pytest

from datagen.day import DayVolumes, day_seed


@pytest.mark.parametrize(
    ("scale", "volumes"),
    [
        # orders, browse_sessions, ratings, users, products, edits, late, removals
        (1, (111, 56, 17, 5, 2, 5, 3, 2)),
        (0.05, (6, 3, 1, 1, 1, 1, 1, 1)),
        (0.001, (1, 0, 1, 1, 1, 1, 1, 1)),
    ],
)
def test_a_day_is_a_ninetieth_of_the_orders_and_a_few_of_the_rest(
    scale: float, volumes: tuple[int, ...]
) -> None:
    assert astuple(DayVolumes.at(scale)) == volumes


def test_each_day_of_each_seed_has_a_seed_of_its_own() -> None:
    seeds = {day_seed(seed, date(2025, 2, day)) for seed in (1, 2) for day in (1, 2)}
    assert len(seeds) == 4
    assert day_seed(1, date(2025, 2, 1)) == day_seed(1, date(2025, 2, 1))
