"""fact_order_items: one row per item of a known order, with its revenue and order date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.fact_order_items import FactOrderItems
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_items_take_revenue_and_their_orders_latest_date(spark: SparkSession) -> None:
    orders = bronze(
        spark,
        "orders",
        [
            (1, 10, ts(1, 9), Decimal("70.02"), ts(1, 9), ts(1, 9)),
            (1, 10, ts(2, 9), Decimal("70.02"), ts(1, 9), ts(2, 10)),  # order_ts corrected
            (2, 11, ts(3, 23, 30), Decimal("3.24"), ts(3, 23, 30), ts(3, 23, 30)),
        ],
    )
    orderitem = bronze(
        spark,
        "orderitem",
        [
            (100, 1, 500, 7, 2, Decimal("19.99"), Decimal("3.20"), ts(1, 9), ts(1, 9)),
            (100, 1, 500, 7, 3, Decimal("19.99"), Decimal("4.80"), ts(1, 9), ts(2, 10)),
            (101, 1, 501, 8, 1, Decimal("5.25"), Decimal("0.00"), ts(1, 9), ts(1, 9)),
            (102, 2, 500, 7, 4, Decimal("0.75"), Decimal("0.24"), ts(3, 23, 30), ts(3, 23, 30)),
            (103, 99, 500, 7, 1, Decimal("1.00"), Decimal("0.10"), ts(4), ts(4)),  # no order 99
        ],
    )

    out = FactOrderItems(NO_CONTEXT).transform(orderitem=orderitem, orders=orders)

    assert types(out) == types(silver(spark, "fact_order_items", []))
    assert collect(out, "orderitem_id") == [
        {
            "orderitem_id": 100,
            "order_id": 1,
            "product_id": 500,
            "seller_id": 7,
            "quantity": 3,
            "base_price_usd": Decimal("19.99"),
            "tax_usd": Decimal("4.80"),
            "revenue_usd": Decimal("59.97"),
            "order_ts": ts(2, 9),
            "order_date": date(2024, 3, 2),
            "created_ts": ts(1, 9),
        },
        {
            "orderitem_id": 101,
            "order_id": 1,
            "product_id": 501,
            "seller_id": 8,
            "quantity": 1,
            "base_price_usd": Decimal("5.25"),
            "tax_usd": Decimal("0.00"),
            "revenue_usd": Decimal("5.25"),
            "order_ts": ts(2, 9),
            "order_date": date(2024, 3, 2),
            "created_ts": ts(1, 9),
        },
        {
            "orderitem_id": 102,
            "order_id": 2,
            "product_id": 500,
            "seller_id": 7,
            "quantity": 4,
            "base_price_usd": Decimal("0.75"),
            "tax_usd": Decimal("0.24"),
            "revenue_usd": Decimal("3.00"),
            "order_ts": ts(3, 23, 30),
            "order_date": date(2024, 3, 3),
            "created_ts": ts(3, 23, 30),
        },
    ]
