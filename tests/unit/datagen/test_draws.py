"""datagen.draws: the pieces `generate` and `advance` share, on small arrays."""

from __future__ import annotations

import numpy as np

from datagen.draws import TAX_RATES_BPS, merge_sessions, tax_cents, tax_rate_bps


def test_the_tax_rate_is_recovered_from_a_taxed_line() -> None:
    rng = np.random.default_rng(1)
    quantity = rng.integers(1, 11, 10_000)
    base_cents = rng.integers(99, 500_000, 10_000)
    rate = rng.choice(TAX_RATES_BPS, 10_000)
    tax = tax_cents(quantity, base_cents, rate)

    recovered = tax_rate_bps(quantity, base_cents, tax)

    assert (tax_cents(quantity, base_cents, recovered) == tax).all()
    assert (recovered == rate).mean() > 0.999


def test_tax_is_rounded_half_up_to_the_cent() -> None:
    assert tax_cents(np.array([1, 1]), np.array([10, 30]), np.array([500, 500])).tolist() == [1, 2]


def events(sessions: list[int], ts: list[int], arrived: list[int]) -> dict[str, np.ndarray]:
    size = len(sessions)
    return {
        "session": np.array(sessions),
        "position": np.zeros(size, dtype=np.int64),
        "type": np.zeros(size, dtype=np.int64),
        "user": np.zeros(size, dtype=np.int64),
        "product": np.zeros(size, dtype=np.int64),
        "order": np.full(size, -1),
        "ts": np.array(ts),
        "arrived": np.array(arrived),
    }


def test_merged_sessions_follow_arrival_and_are_numbered_by_their_first_event() -> None:
    on_time = events([0, 1], ts=[20, 10], arrived=[20, 10])
    late = events([0], ts=[1], arrived=[30])

    merged = merge_sessions([on_time, late])

    assert merged["ts"].tolist() == [10, 20, 1]
    assert merged["session"].tolist() == [0, 1, 2]
