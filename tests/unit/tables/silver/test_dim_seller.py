"""dim_seller: one row per seller, with its latest store name and its user."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.dim_seller import DimSeller
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_sellers_with_latest_store_name_and_user(spark: SparkSession) -> None:
    appuser = bronze(
        spark,
        "appuser",
        [
            (1001, "bob", "bob@example.com", "Bob", "Ray", "DE", ts(2), ts(2)),
            (1002, "cat", "cat@example.com", "Cat", "Ng", "FR", ts(2), ts(2)),
        ],
    )
    seller = bronze(
        spark,
        "seller",
        [
            (7, 1001, "Old Shop", ts(3), ts(3)),
            (7, 1001, "New Shop", ts(3), ts(6)),  # renamed
            (8, 1002, "Cat's", ts(4), ts(4)),
        ],
    )

    out = DimSeller(NO_CONTEXT).transform(seller=seller, appuser=appuser)

    assert types(out) == types(silver(spark, "dim_seller", []))
    assert collect(out, "seller_id") == [
        {
            "seller_id": 7,
            "user_id": 1001,
            "store_name": "New Shop",
            "username": "bob",
            "email": "bob@example.com",
            "country": "DE",
            "created_ts": ts(3),
            "user_created_ts": ts(2),
        },
        {
            "seller_id": 8,
            "user_id": 1002,
            "store_name": "Cat's",
            "username": "cat",
            "email": "cat@example.com",
            "country": "FR",
            "created_ts": ts(4),
            "user_created_ts": ts(2),
        },
    ]
