"""product_performance: per product and category, sales, ratings and revenue rank."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from itertools import count

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.tables.gold.product_performance import ProductPerformance
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark

Row = tuple[object, ...]
IDS = count(1)
KITE, YOYO, ROCK, BALL, LOOSE, ODD = 500, 501, 502, 503, 504, 505
"""KITE is in Books and Toys, YOYO and ROCK in Books, BALL in Toys, LOOSE in no category and
ODD only in a category without a name."""
NAMES = {KITE: "Kite", YOYO: "Yoyo", ROCK: "Rock", BALL: "Ball", LOOSE: "Loose", ODD: "Odd"}


def item(order_id: int, product: int, quantity: int, price: str) -> Row:
    revenue = quantity * Decimal(price)
    return (
        next(IDS), order_id, product, 7, quantity, Decimal(price), Decimal("0.00"), revenue,
        ts(1, 12), date(2024, 3, 1), ts(1, 12),
    )  # fmt: skip


def rating(product: int, stars: int) -> Row:
    return (next(IDS), product, 1, stars, ts(1), ts(1))


def transform(
    spark: SparkSession, items: Sequence[Row] = (), ratings: Sequence[Row] = ()
) -> DataFrame:
    products = [
        (product, name, None, Decimal("1.00"), *[None] * 6, None, 0)
        for product, name in NAMES.items()
    ]
    return ProductPerformance(NO_CONTEXT).transform(
        dim_product=silver(spark, "dim_product", products),
        fact_order_items=silver(spark, "fact_order_items", items),
        fact_ratings=silver(spark, "fact_ratings", ratings),
        product_x_category=silver(
            spark,
            "product_x_category",
            [(KITE, 1), (KITE, 2), (YOYO, 1), (ROCK, 1), (BALL, 2), (ODD, 3)],
        ),
        dim_category=silver(spark, "dim_category", [(1, "Books"), (2, "Toys"), (3, None)]),
    )


def products(out: DataFrame, *columns: str) -> dict[tuple[object, object], tuple[object, ...]]:
    """Per category and product name, the columns asked for."""
    return {
        (row["category"], row["product_name"]): tuple(row[c] for c in columns)
        for row in collect(out, "category", "product_id")
    }


def test_a_product_never_rated_has_no_mean_rating_and_no_ratings(spark: SparkSession) -> None:
    out = transform(spark, ratings=[rating(YOYO, 4)])

    assert products(out, "mean_rating", "rating_count") == {
        ("Books", "Kite"): (None, 0),
        ("Books", "Rock"): (None, 0),
        ("Books", "Yoyo"): (Decimal("4.00"), 1),
        ("Toys", "Kite"): (None, 0),
        ("Toys", "Ball"): (None, 0),
    }


def test_a_product_never_sold_has_no_sales_and_ranks_last_at_the_best_ones_distance(
    spark: SparkSession,
) -> None:
    out = transform(spark, [item(1, KITE, 2, "10.00"), item(2, YOYO, 1, "4.00")])

    (rock,) = [row for row in collect(out, "category") if row["product_id"] == ROCK]
    assert rock == {
        "category": "Books",
        "product_id": ROCK,
        "product_name": "Rock",
        "revenue_usd": Decimal("0.00"),
        "quantity_sold": 0,
        "order_count": 0,
        "average_selling_price_usd": None,
        "mean_rating": None,
        "rating_count": 0,
        "revenue_rank": 3,
        "revenue_gap_to_best_usd": Decimal("20.00"),
    }


def test_a_product_in_two_categories_ranks_in_each(spark: SparkSession) -> None:
    out = transform(
        spark,
        [item(1, KITE, 2, "10.00"), item(2, YOYO, 3, "10.00"), item(3, BALL, 1, "5.00")],
    )

    assert products(out, "revenue_usd", "revenue_rank", "revenue_gap_to_best_usd") == {
        ("Books", "Kite"): (Decimal("20.00"), 2, Decimal("10.00")),
        ("Books", "Yoyo"): (Decimal("30.00"), 1, Decimal("0.00")),
        ("Books", "Rock"): (Decimal("0.00"), 3, Decimal("30.00")),
        ("Toys", "Kite"): (Decimal("20.00"), 1, Decimal("0.00")),
        ("Toys", "Ball"): (Decimal("5.00"), 2, Decimal("15.00")),
    }


def test_products_with_equal_revenue_share_a_rank(spark: SparkSession) -> None:
    out = transform(
        spark,
        [item(1, KITE, 3, "10.00"), item(2, YOYO, 1, "30.00"), item(3, ROCK, 1, "0.01")],
    )

    assert products(out, "revenue_rank") == {
        ("Books", "Kite"): (1,),
        ("Books", "Yoyo"): (1,),
        ("Books", "Rock"): (3,),
        ("Toys", "Kite"): (1,),
        ("Toys", "Ball"): (2,),
    }


def test_average_selling_price_is_revenue_per_unit_rounded_half_up(
    spark: SparkSession,
) -> None:
    out = transform(
        spark,
        [
            item(1, KITE, 1, "10.00"),
            item(2, KITE, 1, "0.05"),  # 10.05 / 2 = 5.025
            item(3, YOYO, 1, "3.34"),
            item(3, YOYO, 2, "3.33"),  # 10.00 / 3 = 3.333..., in one order
        ],
    )

    assert products(out, "quantity_sold", "order_count", "average_selling_price_usd") == {
        ("Books", "Kite"): (2, 2, Decimal("5.03")),
        ("Books", "Yoyo"): (3, 1, Decimal("3.33")),
        ("Books", "Rock"): (0, 0, None),
        ("Toys", "Kite"): (2, 2, Decimal("5.03")),
        ("Toys", "Ball"): (0, 0, None),
    }


def test_the_mean_rating_is_exact_and_rounded_half_up(spark: SparkSession) -> None:
    out = transform(
        spark,
        ratings=[
            *(rating(KITE, stars) for stars in (4, 4, 5)),  # 4.333...
            *(rating(YOYO, stars) for stars in (1, 2)),  # 1.5
            *(rating(ROCK, stars) for stars in (2, 3, 3, 3, 3, 3, 3, 3)),  # 2.875
            *(rating(BALL, stars) for stars in (1, 2, 3, 3, 3, 3, 3, 3)),  # 2.625, not to even
        ],
    )

    assert products(out, "mean_rating", "rating_count") == {
        ("Books", "Kite"): (Decimal("4.33"), 3),
        ("Books", "Yoyo"): (Decimal("1.50"), 2),
        ("Books", "Rock"): (Decimal("2.88"), 8),
        ("Toys", "Kite"): (Decimal("4.33"), 3),
        ("Toys", "Ball"): (Decimal("2.63"), 8),
    }


def test_products_without_a_named_category_are_left_out(spark: SparkSession) -> None:
    out = transform(spark, [item(1, LOOSE, 1, "9.00"), item(2, ODD, 1, "9.00")])

    assert set(products(out)) == {
        ("Books", "Kite"),
        ("Books", "Yoyo"),
        ("Books", "Rock"),
        ("Toys", "Kite"),
        ("Toys", "Ball"),
    }


def test_types(spark: SparkSession) -> None:
    out = transform(spark, [item(1, KITE, 1, "1.00")], [rating(KITE, 5)])

    assert types(out) == {
        "category": "string",
        "product_id": "bigint",
        "product_name": "string",
        "revenue_usd": "decimal(22,2)",
        "quantity_sold": "bigint",
        "order_count": "bigint",
        "average_selling_price_usd": "decimal(12,2)",
        "mean_rating": "decimal(3,2)",
        "rating_count": "bigint",
        "revenue_rank": "int",
        "revenue_gap_to_best_usd": "decimal(22,2)",
    }
