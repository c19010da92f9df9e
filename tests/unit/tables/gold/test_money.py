"""Mean and median of money: exact in decimal, rounded half up once, to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.tables.gold._money import mean_usd, median_usd
from tests.unit.tables.frames import collect, types

pytestmark = pytest.mark.spark


def test_mean_and_median_ignore_nulls_and_round_half_up(spark: SparkSession) -> None:
    amounts = spark.createDataFrame(
        [
            ("even", Decimal("9.00")),
            ("even", Decimal("1.00")),
            ("even", Decimal("2.05")),
            ("even", Decimal("2.00")),
            ("even", None),
            ("odd", Decimal("4.00")),
            ("odd", Decimal("1.00")),
            ("odd", Decimal("1.01")),
            # Their median, 66777.895, is 66777.89 when rounded from Spark's double median.
            ("double", Decimal("66754.73")),
            ("double", Decimal("66801.06")),
            ("none", None),
        ],
        "name STRING, amount DECIMAL(12,2)",
    )

    out = amounts.groupBy("name").agg(
        mean_usd("amount").alias("mean"), median_usd("amount").alias("median")
    )

    assert types(out) == {"name": "string", "mean": "decimal(12,2)", "median": "decimal(12,2)"}
    assert collect(out, "name") == [
        {"name": "double", "mean": Decimal("66777.90"), "median": Decimal("66777.90")},
        {"name": "even", "mean": Decimal("3.51"), "median": Decimal("2.03")},
        {"name": "none", "mean": None, "median": None},
        {"name": "odd", "mean": Decimal("2.00"), "median": Decimal("1.01")},
    ]
