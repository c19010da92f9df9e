"""fact_orders: one row per order, dated in UTC."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.fact_orders import FactOrders
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_latest_version_per_order_dated_in_utc(spark: SparkSession) -> None:
    orders = bronze(
        spark,
        "orders",
        [
            (1, 10, ts(1, 12), Decimal("10.00"), ts(1, 12), ts(1, 12)),
            (1, 10, ts(1, 12), Decimal("12.50"), ts(1, 12), ts(2, 8)),  # corrected later
            (2, 11, ts(1, 23, 59, 59), Decimal("5.00"), ts(1, 23, 59, 59), ts(1, 23, 59, 59)),
            (3, 11, ts(2), Decimal("7.25"), ts(2), ts(2)),
            (3, 11, ts(2), Decimal("7.25"), ts(2), ts(2)),  # copied twice
        ],
    )

    out = FactOrders(NO_CONTEXT).transform(orders=orders)

    assert types(out) == types(silver(spark, "fact_orders", []))
    assert collect(out, "order_id") == [
        {
            "order_id": 1,
            "buyer_id": 10,
            "order_ts": ts(1, 12),
            "order_date": date(2024, 3, 1),
            "total_price_usd": Decimal("12.50"),
            "created_ts": ts(1, 12),
            "last_updated_ts": ts(2, 8),
        },
        {
            "order_id": 2,
            "buyer_id": 11,
            "order_ts": ts(1, 23, 59, 59),
            "order_date": date(2024, 3, 1),
            "total_price_usd": Decimal("5.00"),
            "created_ts": ts(1, 23, 59, 59),
            "last_updated_ts": ts(1, 23, 59, 59),
        },
        {
            "order_id": 3,
            "buyer_id": 11,
            "order_ts": ts(2),
            "order_date": date(2024, 3, 2),
            "total_price_usd": Decimal("7.25"),
            "created_ts": ts(2),
            "last_updated_ts": ts(2),
        },
    ]
