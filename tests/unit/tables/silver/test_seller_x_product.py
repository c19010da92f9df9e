"""seller_x_product: one row per seller and product, from each listing's latest version."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.seller_x_product import SellerXProduct
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, ts

pytestmark = pytest.mark.spark


def test_pairs_once_from_latest_listings(spark: SparkSession) -> None:
    sellerproduct = bronze(
        spark,
        "sellerproduct",
        [
            (1, 7, 500, ts(1), ts(1)),
            (2, 7, 500, ts(2), ts(2)),  # a second listing of the same pair
            (3, 8, 500, ts(1), ts(1)),
            (3, 8, 501, ts(1), ts(4)),  # listing moved to product 501
        ],
    )

    out = SellerXProduct(NO_CONTEXT).transform(sellerproduct=sellerproduct)

    assert out.columns == ["seller_id", "product_id"]
    assert collect(out, "seller_id", "product_id") == [
        {"seller_id": 7, "product_id": 500},
        {"seller_id": 8, "product_id": 501},
    ]
