"""daily_order_metrics: orders and their revenue per day, means rounded half up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.core.dataset import ETLDataSet
from etl.core.quality.engine import RulesBroken
from etl.tables.gold.daily_order_metrics import DailyOrderMetrics
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark


def order(order_id: int, day: int | None, total: str | None) -> tuple[object, ...]:
    at = None if day is None else ts(day, 12)
    return (
        order_id,
        10,
        at,
        None if day is None else date(2024, 3, day),
        None if total is None else Decimal(total),
        ts(1),
        ts(1),
    )


def test_count_total_and_mean_per_day(spark: SparkSession) -> None:
    fact_orders = silver(
        spark,
        "fact_orders",
        [
            order(1, 1, "12.50"),  # a day with one order
            order(2, 2, "10.02"),
            order(3, 2, "10.03"),  # mean 10.025: half up
            order(4, 3, "10.00"),
            order(5, 3, "10.00"),
            order(6, 3, "10.02"),  # mean 10.00666...
            order(7, 4, "1.00"),
            order(8, 4, None),  # counted, but no price to average
            order(9, 4, "2.00"),
            order(10, None, "99.99"),  # no order_ts, so no day
        ],
    )

    out = DailyOrderMetrics(NO_CONTEXT).transform(fact_orders=fact_orders)

    assert out.columns == ["order_date", "order_count", "total_revenue", "mean_revenue"]
    assert types(out)["mean_revenue"] == "decimal(12,2)"
    assert types(out)["total_revenue"].startswith("decimal(")
    assert collect(out, "order_date") == [
        {
            "order_date": date(2024, 3, 1),
            "order_count": 1,
            "total_revenue": Decimal("12.50"),
            "mean_revenue": Decimal("12.50"),
        },
        {
            "order_date": date(2024, 3, 2),
            "order_count": 2,
            "total_revenue": Decimal("20.05"),
            "mean_revenue": Decimal("10.03"),
        },
        {
            "order_date": date(2024, 3, 3),
            "order_count": 3,
            "total_revenue": Decimal("30.02"),
            "mean_revenue": Decimal("10.01"),
        },
        {
            "order_date": date(2024, 3, 4),
            "order_count": 3,
            "total_revenue": Decimal("3.00"),
            "mean_revenue": Decimal("1.50"),
        },
    ]


def test_one_implausible_day_fails_the_table(spark: SparkSession) -> None:
    """A day whose mean is 150,000 USD among ordinary days breaks the rule, although the mean
    of the daily means (16,675 USD) would not."""
    ordinary = [order(n, n, "10.00") for n in range(2, 10)]
    fact_orders = silver(spark, "fact_orders", [order(1, 1, "150000.00"), *ordinary])
    metrics = DailyOrderMetrics(NO_CONTEXT)
    out = metrics.transform(fact_orders=fact_orders)

    with pytest.raises(RulesBroken, match=r"1 rows break rule mean_revenue_plausible .*150000"):
        metrics.validate(ETLDataSet(spec=metrics.spec, curr_data=out, storage_path="unused"))
