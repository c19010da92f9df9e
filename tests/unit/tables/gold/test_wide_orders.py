"""wide_orders: each order with its buyer and its items' totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.tables.gold.wide_orders import WideOrders
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_orders_with_buyer_and_item_totals(spark: SparkSession) -> None:
    fact_orders = silver(
        spark,
        "fact_orders",
        [
            (1, 10, ts(1, 9), date(2024, 3, 1), Decimal("70.02"), ts(1, 9), ts(1, 9)),
            (2, 10, ts(1, 10), date(2024, 3, 1), Decimal("0.00"), ts(1, 10), ts(1, 10)),  # no items
            (3, 12, ts(2, 9), date(2024, 3, 2), Decimal("3.24"), ts(2, 9), ts(2, 9)),  # no buyer
        ],
    )
    fact_order_items = silver(
        spark,
        "fact_order_items",
        [
            (100, 1, 500, 7, 3, Decimal("19.99"), Decimal("4.80"), Decimal("59.97"),
             ts(1, 9), date(2024, 3, 1), ts(1, 9)),
            (101, 1, 501, 8, 1, Decimal("5.25"), Decimal("0.00"), Decimal("5.25"),
             ts(1, 9), date(2024, 3, 1), ts(1, 9)),
            (102, 3, 500, 7, 4, Decimal("0.75"), Decimal("0.24"), Decimal("3.00"),
             ts(2, 9), date(2024, 3, 2), ts(2, 9)),
        ],
    )  # fmt: skip
    dim_buyer = silver(
        spark,
        "dim_buyer",
        [(10, 1000, "ann", "ann@example.com", "Ann", "Lee", "US", ts(1), ts(1))],
    )

    out = WideOrders(NO_CONTEXT).transform(
        fact_orders=fact_orders, fact_order_items=fact_order_items, dim_buyer=dim_buyer
    )

    assert types(out) == {
        "order_id": "bigint",
        "buyer_id": "bigint",
        "order_ts": "timestamp",
        "order_date": "date",
        "total_price_usd": "decimal(12,2)",
        "created_ts": "timestamp",
        "last_updated_ts": "timestamp",
        "user_id": "bigint",
        "username": "string",
        "email": "string",
        "first_name": "string",
        "last_name": "string",
        "country": "string",
        "item_count": "bigint",
        "item_quantity": "bigint",
        "items_revenue_usd": "decimal(22,2)",
    }
    ann = {
        "user_id": 1000,
        "username": "ann",
        "email": "ann@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "country": "US",
    }
    nobody = dict.fromkeys(ann)
    assert collect(out, "order_id") == [
        {
            "order_id": 1,
            "buyer_id": 10,
            "order_ts": ts(1, 9),
            "order_date": date(2024, 3, 1),
            "total_price_usd": Decimal("70.02"),
            "created_ts": ts(1, 9),
            "last_updated_ts": ts(1, 9),
            **ann,
            "item_count": 2,
            "item_quantity": 4,
            "items_revenue_usd": Decimal("65.22"),
        },
        {
            "order_id": 2,
            "buyer_id": 10,
            "order_ts": ts(1, 10),
            "order_date": date(2024, 3, 1),
            "total_price_usd": Decimal("0.00"),
            "created_ts": ts(1, 10),
            "last_updated_ts": ts(1, 10),
            **ann,
            "item_count": 0,
            "item_quantity": 0,
            "items_revenue_usd": Decimal("0.00"),
        },
        {
            "order_id": 3,
            "buyer_id": 12,
            "order_ts": ts(2, 9),
            "order_date": date(2024, 3, 2),
            "total_price_usd": Decimal("3.24"),
            "created_ts": ts(2, 9),
            "last_updated_ts": ts(2, 9),
            **nobody,
            "item_count": 1,
            "item_quantity": 4,
            "items_revenue_usd": Decimal("3.00"),
        },
    ]
