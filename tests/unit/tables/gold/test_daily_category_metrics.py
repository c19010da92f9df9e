"""daily_category_metrics: mean and exact median item revenue per day and category."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.tables.gold.daily_category_metrics import DailyCategoryMetrics
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark

KITE, YOYO, GNOME, LOOSE = 500, 501, 503, 502  # LOOSE is in no category


def item(
    item_id: int, day: int, product_id: int, quantity: int, base_price: str, revenue: str
) -> tuple[object, ...]:
    return (
        item_id, 1, product_id, 7, quantity, Decimal(base_price), Decimal("0.00"),
        Decimal(revenue), ts(day, 12), date(2024, 3, day), ts(day, 12),
    )  # fmt: skip


def test_mean_and_median_per_day_and_category(spark: SparkSession) -> None:
    fact_order_items = silver(
        spark,
        "fact_order_items",
        [
            item(1, 1, KITE, 1, "2.00", "2.00"),  # Books and Toys
            item(2, 1, YOYO, 2, "0.50", "1.00"),
            item(3, 1, YOYO, 1, "2.05", "2.05"),
            item(4, 1, YOYO, 3, "3.00", "9.00"),
            item(5, 1, LOOSE, 1, "100.00", "100.00"),  # appears nowhere
            item(6, 1, GNOME, 1, "66754.73", "66754.73"),
            item(7, 1, GNOME, 1, "66801.06", "66801.06"),
            item(8, 2, KITE, 1, "1.00", "1.00"),
            item(9, 2, YOYO, 1, "4.00", "4.00"),
            item(10, 2, YOYO, 1, "1.01", "1.01"),
            item(11, 3, KITE, 1, "0.02", "0.02"),
            item(12, 3, KITE, 1, "0.03", "0.03"),
        ],
    )
    product_x_category = silver(
        spark, "product_x_category", [(KITE, 1), (KITE, 2), (YOYO, 1), (GNOME, 3)]
    )
    dim_category = silver(spark, "dim_category", [(1, "Books"), (2, "Toys"), (3, "Garden")])

    out = DailyCategoryMetrics(NO_CONTEXT).transform(
        fact_order_items=fact_order_items,
        product_x_category=product_x_category,
        dim_category=dim_category,
    )

    assert types(out) == {
        "order_date": "date",
        "category": "string",
        "mean_revenue": "decimal(12,2)",
        "median_revenue": "decimal(12,2)",
    }

    def row(day: int, category: str, mean: str, median: str) -> dict[str, object]:
        return {
            "order_date": date(2024, 3, day),
            "category": category,
            "mean_revenue": Decimal(mean),
            "median_revenue": Decimal(median),
        }

    assert collect(out, "order_date", "category") == [
        row(1, "Books", "3.51", "2.03"),  # 1.00 2.00 2.05 9.00: mean 3.5125, median 2.025
        row(1, "Garden", "66777.90", "66777.90"),  # 66777.895 both
        row(1, "Toys", "2.00", "2.00"),  # a single item
        row(2, "Books", "2.00", "1.01"),  # 1.00 1.01 4.00: mean 2.00333
        row(2, "Toys", "1.00", "1.00"),
        row(3, "Books", "0.03", "0.03"),  # 0.02 0.03: 0.025 both
        row(3, "Toys", "0.03", "0.03"),
    ]
