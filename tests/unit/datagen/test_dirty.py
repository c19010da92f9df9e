"""datagen.dirty: deterministic defects, each kind on rows of its own, clean data untouched."""

from __future__ import annotations

from datetime import date

import pytest

from datagen import DatagenError, generate, inject_defects

END = date(2025, 1, 31)


def test_defects_are_deterministic_and_reported() -> None:
    clean = generate(scale=0.05, seed=3, end_date=END)

    first, defects = inject_defects(clean, rate=0.05, seed=3)
    again, same = inject_defects(clean, rate=0.05, seed=3)

    assert defects.ids == same.ids
    assert all(first[name].equals(again[name]) for name in first)
    assert set(defects.counts()) == {
        "non_positive_price",
        "negative_quantity",
        "total_mismatch",
        "rating_above_5",
        "malformed_email",
        "unknown_event_type",
        "future_timestamp",
        "duplicate_event",
    }
    assert all(count >= 1 for count in defects.counts().values())
    assert clean["orders"].equals(generate(scale=0.05, seed=3, end_date=END)["orders"])


def test_kinds_touch_distinct_rows_and_copies_get_new_ids() -> None:
    tables, defects = inject_defects(generate(scale=0.05, seed=3, end_date=END), rate=0.05)

    items = set(defects.ids["non_positive_price"]) & set(defects.ids["negative_quantity"])
    events = [set(defects.ids[k]) for k in ("unknown_event_type", "future_timestamp")]
    assert not items and not events[0] & events[1]
    event_ids = tables["clickstream"].column("clickstream_id").to_pylist()
    assert len(event_ids) == len(set(event_ids))
    assert set(defects.ids["duplicate_event"]) <= set(event_ids)


def test_rate_is_checked() -> None:
    with pytest.raises(DatagenError, match="dirty rate"):
        inject_defects(generate(scale=0.05, seed=3, end_date=END), rate=0.5)
