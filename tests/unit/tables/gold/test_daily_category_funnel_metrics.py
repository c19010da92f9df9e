"""daily_category_funnel_metrics: sessions per day and category through the funnel."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import count

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.tables.gold.daily_category_funnel_metrics import DailyCategoryFunnelMetrics
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark

IDS = count(1)
KITE, YOYO, GNOME, LOOSE, ODD = 500, 501, 502, 503, 504
"""KITE is in Books and Toys, YOYO in Books, GNOME in Garden, LOOSE in no category and ODD
only in a category without a name."""


def event(session: int, kind: str, product: int | None, at: datetime) -> tuple[object, ...]:
    return (next(IDS), session, 10 + session, kind, product, None, at, at.date())


def transform(spark: SparkSession, *events: tuple[object, ...]) -> DataFrame:
    return DailyCategoryFunnelMetrics(NO_CONTEXT).transform(
        fact_clickstream=silver(spark, "fact_clickstream", list(events)),
        product_x_category=silver(
            spark,
            "product_x_category",
            [(KITE, 1), (KITE, 2), (YOYO, 1), (GNOME, 3), (ODD, 4)],
        ),
        dim_category=silver(
            spark, "dim_category", [(1, "Books"), (2, "Toys"), (3, "Garden"), (4, None)]
        ),
    )


def funnel(spark: SparkSession, *events: tuple[object, ...]) -> dict[str, tuple[int, ...]]:
    """Per category, its sessions, then those that viewed, carted, checked out, purchased."""
    steps = ("sessions", "viewed_sessions", "cart_sessions")
    steps += ("checkout_sessions", "purchase_sessions")
    rows = collect(transform(spark, *events), "session_date", "category")
    return {row["category"]: tuple(row[step] for step in steps) for row in rows}


def test_a_session_counts_in_every_category_of_a_product_it_viewed(spark: SparkSession) -> None:
    assert funnel(spark, event(1, "view", KITE, ts(1, 9))) == {
        "Books": (1, 1, 0, 0, 0),
        "Toys": (1, 1, 0, 0, 0),
    }


def test_the_cart_of_a_category_needs_a_view_and_a_cart_of_its_products(
    spark: SparkSession,
) -> None:
    rows = funnel(
        spark,
        event(1, "view", YOYO, ts(1, 9)),
        event(1, "add_to_cart", KITE, ts(1, 9, 1)),  # viewed in Books only: no cart in Toys
        event(2, "add_to_cart", GNOME, ts(1, 10)),  # its view was quarantined upstream
    )

    assert rows == {
        "Books": (1, 1, 1, 0, 0),
        "Garden": (1, 0, 0, 0, 0),
        "Toys": (1, 0, 0, 0, 0),
    }


def test_checkout_and_purchase_count_in_the_categories_the_session_carted(
    spark: SparkSession,
) -> None:
    rows = funnel(
        spark,
        event(1, "view", KITE, ts(1, 9)),
        event(1, "view", GNOME, ts(1, 9, 1)),
        event(1, "add_to_cart", KITE, ts(1, 9, 2)),
        event(1, "checkout", None, ts(1, 9, 3)),
        event(1, "purchase", None, ts(1, 9, 4)),
        event(2, "view", YOYO, ts(1, 10)),
        event(2, "add_to_cart", YOYO, ts(1, 10, 1)),
        event(2, "checkout", None, ts(1, 10, 2)),
        event(3, "view", YOYO, ts(1, 11)),
    )

    assert rows == {
        "Books": (3, 3, 2, 2, 1),
        "Garden": (1, 1, 0, 0, 0),  # viewed, not carted: its checkout was for the others
        "Toys": (1, 1, 1, 1, 1),
    }


def test_rates_are_those_of_the_category_rounded_half_up(spark: SparkSession) -> None:
    out = transform(
        spark,
        *(event(1, kind, YOYO, ts(1, 9)) for kind in ("view", "add_to_cart")),
        *(event(1, kind, None, ts(1, 9)) for kind in ("checkout", "purchase")),
        *(event(2, kind, YOYO, ts(1, 10)) for kind in ("view", "add_to_cart")),
        event(2, "checkout", None, ts(1, 10)),
        *(event(3, kind, YOYO, ts(1, 11)) for kind in ("view", "add_to_cart")),
    )

    (books,) = collect(out, "category")
    assert books["abandoned_carts"] == 2
    assert books["view_to_cart_rate"] == Decimal("1.0000")
    assert books["cart_to_checkout_rate"] == Decimal("0.6667"), "2/3"
    assert books["checkout_to_purchase_rate"] == Decimal("0.5000")
    assert books["conversion_rate"] == Decimal("0.3333"), "1/3"
    assert books["cart_abandonment_rate"] == Decimal("0.6667")


def test_a_session_past_midnight_counts_on_its_first_day_in_a_category_touched_later(
    spark: SparkSession,
) -> None:
    out = transform(
        spark,
        event(1, "view", YOYO, ts(1, 23, 50)),
        event(1, "view", GNOME, ts(2, 0, 10)),  # Garden first touched on the 2nd
        event(2, "view", GNOME, ts(2, 8)),
    )

    assert [
        (r["session_date"], r["category"], r["sessions"])
        for r in collect(out, "session_date", "category")
    ] == [
        (date(2024, 3, 1), "Books", 1),
        (date(2024, 3, 1), "Garden", 1),
        (date(2024, 3, 2), "Garden", 1),
    ]


def test_products_without_a_named_category_count_nowhere(spark: SparkSession) -> None:
    rows = funnel(
        spark,
        event(1, "view", ODD, ts(1, 9)),
        event(1, "add_to_cart", ODD, ts(1, 9, 1)),
        event(2, "view", LOOSE, ts(1, 10)),
        event(3, "view", YOYO, ts(1, 11)),
    )

    assert rows == {"Books": (1, 1, 0, 0, 0)}


def test_a_category_only_viewed_converts_none_and_leaves_rates_without_carts_null(
    spark: SparkSession,
) -> None:
    out = transform(spark, event(1, "view", GNOME, ts(3, 9)), event(2, "view", GNOME, ts(3, 9)))

    assert collect(out, "category") == [
        {
            "session_date": date(2024, 3, 3),
            "category": "Garden",
            "sessions": 2,
            "viewed_sessions": 2,
            "cart_sessions": 0,
            "checkout_sessions": 0,
            "purchase_sessions": 0,
            "abandoned_carts": 0,
            "view_to_cart_rate": Decimal("0.0000"),
            "cart_to_checkout_rate": None,
            "checkout_to_purchase_rate": None,
            "conversion_rate": Decimal("0.0000"),
            "cart_abandonment_rate": None,
        }
    ]


def test_types(spark: SparkSession) -> None:
    out = transform(spark, event(1, "view", YOYO, ts(1)))

    assert types(out) == {
        "session_date": "date",
        "category": "string",
        "sessions": "bigint",
        "viewed_sessions": "bigint",
        "cart_sessions": "bigint",
        "checkout_sessions": "bigint",
        "purchase_sessions": "bigint",
        "abandoned_carts": "bigint",
        "view_to_cart_rate": "decimal(5,4)",
        "cart_to_checkout_rate": "decimal(5,4)",
        "checkout_to_purchase_rate": "decimal(5,4)",
        "conversion_rate": "decimal(5,4)",
        "cart_abandonment_rate": "decimal(5,4)",
    }
