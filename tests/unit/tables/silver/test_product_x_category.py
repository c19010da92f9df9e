"""product_x_category: one row per product and category, from each link's latest version."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.product_x_category import ProductXCategory
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_pairs_once_from_latest_links(spark: SparkSession) -> None:
    productcategory = bronze(
        spark,
        "productcategory",
        [
            (1, 500, 1, ts(1), ts(1)),
            (2, 500, 2, ts(1), ts(1)),
            (3, 500, 1, ts(2), ts(2)),  # a second link for the same pair
            (4, 501, 1, ts(1), ts(1)),
            (4, 501, 2, ts(1), ts(3)),  # link moved to category 2
        ],
    )

    out = ProductXCategory(NO_CONTEXT).transform(productcategory=productcategory)

    assert types(out) == types(silver(spark, "product_x_category", []))
    assert collect(out, "product_id", "category_id") == [
        {"product_id": 500, "category_id": 1},
        {"product_id": 500, "category_id": 2},
        {"product_id": 501, "category_id": 2},
    ]
