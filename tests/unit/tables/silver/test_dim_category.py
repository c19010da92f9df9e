"""dim_category: one row per category, its latest name."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.dim_category import DimCategory
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_latest_name_per_category(spark: SparkSession) -> None:
    category = bronze(
        spark,
        "category",
        [(1, "Boks", ts(1), ts(1)), (1, "Books", ts(1), ts(2)), (2, "Toys", ts(1), ts(1))],
    )

    out = DimCategory(NO_CONTEXT).transform(category=category)

    assert types(out) == types(silver(spark, "dim_category", []))
    assert collect(out, "category_id") == [
        {"category_id": 1, "category_name": "Books"},
        {"category_id": 2, "category_name": "Toys"},
    ]
