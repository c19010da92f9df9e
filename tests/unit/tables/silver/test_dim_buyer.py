"""dim_buyer: one row per buyer, with its user's latest attributes."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.dim_buyer import DimBuyer
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_buyers_with_latest_user_and_missing_user_kept(spark: SparkSession) -> None:
    appuser = bronze(
        spark,
        "appuser",
        [
            (1000, "ann", "old@example.com", "Ann", "Lee", "US", ts(1), ts(1)),
            (1000, "ann", "ann@example.com", "Ann", "Lee", "US", ts(1), ts(5)),  # new email
            (1001, "bob", "bob@example.com", "Bob", "Ray", "DE", ts(2), ts(2)),
        ],
    )
    buyer = bronze(
        spark,
        "buyer",
        [
            (10, 1000, ts(3), ts(3)),
            (10, 1000, ts(3), ts(3)),
            (11, 1001, ts(4), ts(4)),
            (12, 1099, ts(4), ts(4)),
        ],
    )

    out = DimBuyer(NO_CONTEXT).transform(buyer=buyer, appuser=appuser)

    assert types(out) == types(silver(spark, "dim_buyer", []))
    assert collect(out, "buyer_id") == [
        {
            "buyer_id": 10,
            "user_id": 1000,
            "username": "ann",
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "country": "US",
            "created_ts": ts(3),
            "user_created_ts": ts(1),
        },
        {
            "buyer_id": 11,
            "user_id": 1001,
            "username": "bob",
            "email": "bob@example.com",
            "first_name": "Bob",
            "last_name": "Ray",
            "country": "DE",
            "created_ts": ts(4),
            "user_created_ts": ts(2),
        },
        {
            "buyer_id": 12,
            "user_id": 1099,
            "username": None,
            "email": None,
            "first_name": None,
            "last_name": None,
            "country": None,
            "created_ts": ts(4),
            "user_created_ts": None,
        },
    ]
