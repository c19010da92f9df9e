"""wide_order_items: each item with its product as it was then, seller and sorted category
names."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.tables.gold.wide_order_items import WideOrderItems
from tests.unit.tables.frames import NO_CONTEXT, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_items_with_product_seller_and_categories(spark: SparkSession) -> None:
    fact_order_items = silver(
        spark,
        "fact_order_items",
        [
            (100, 1, 500, 7, 3, Decimal("19.99"), Decimal("4.80"), Decimal("59.97"),
             ts(1, 9), date(2024, 3, 1), ts(1, 9)),  # product in two categories
            (101, 1, 501, 8, 1, Decimal("5.25"), Decimal("0.00"), Decimal("5.25"),
             ts(1, 9), date(2024, 3, 1), ts(1, 9)),  # product in no category
            (102, 2, 999, 99, 1, Decimal("1.00"), Decimal("0.10"), Decimal("1.00"),
             ts(2, 9), date(2024, 3, 2), ts(2, 9)),  # unknown product and seller
            (103, 3, 500, 7, 1, Decimal("24.99"), Decimal("0.00"), Decimal("24.99"),
             ts(1, 12), date(2024, 3, 1), ts(1, 12)),  # ordered as the product's price moved
            (104, 4, 501, 8, 1, Decimal("5.25"), Decimal("0.00"), Decimal("5.25"),
             ts(1, 3), date(2024, 3, 1), ts(1, 3)),  # before the product's first version
        ],
    )  # fmt: skip
    dim_product = silver(
        spark,
        "dim_product",
        [
            (500, "Kite", "Red kite", Decimal("19.99"), 1, "Acme", "US", 1, "Forge", "DE", 4.5, 2),
            (501, "Yoyo", None, Decimal("5.25"), 2, None, None, 1, "Forge", "DE", None, 0),
        ],
    )
    dim_seller = silver(
        spark,
        "dim_seller",
        [
            (7, 1001, "New Shop", "bob", "bob@example.com", "DE", ts(3), ts(2)),
            (8, 1002, "Cat's", "cat", "cat@example.com", "FR", ts(4), ts(2)),
        ],
    )
    dim_product_history = silver(
        spark,
        "dim_product_history",
        [
            (500, "Kite", "Red kite", Decimal("19.99"), 1, 1, 1, ts(1), ts(1, 12), False),
            (500, "Kite XL", "Red kite", Decimal("24.99"), 1, 1, 2, ts(1, 12), None, True),
            (501, "Yoyo", None, Decimal("5.25"), 2, 1, 1, ts(1, 6), None, True),
        ],
    )
    product_x_category = silver(spark, "product_x_category", [(500, 2), (500, 1)])
    dim_category = silver(spark, "dim_category", [(1, "Toys"), (2, "Books"), (3, "Garden")])

    out = WideOrderItems(NO_CONTEXT).transform(
        fact_order_items=fact_order_items,
        dim_product=dim_product,
        dim_product_history=dim_product_history,
        dim_seller=dim_seller,
        product_x_category=product_x_category,
        dim_category=dim_category,
    )

    assert types(out)["category_names"] == "array<string>"
    assert out.columns == [
        "orderitem_id",
        "order_id",
        "product_id",
        "seller_id",
        "quantity",
        "base_price_usd",
        "tax_usd",
        "revenue_usd",
        "order_ts",
        "order_date",
        "created_ts",
        "product_name",
        "brand_name",
        "manufacturer_name",
        "price_usd",
        "store_name",
        "category_names",
    ]
    picked = out.select(
        "orderitem_id",
        "product_name",
        "brand_name",
        "manufacturer_name",
        "price_usd",
        "store_name",
        "category_names",
    )
    assert collect(picked, "orderitem_id") == [
        {
            "orderitem_id": 100,
            "product_name": "Kite",
            "brand_name": "Acme",
            "manufacturer_name": "Forge",
            "price_usd": Decimal("19.99"),
            "store_name": "New Shop",
            "category_names": ["Books", "Toys"],
        },
        {
            "orderitem_id": 101,
            "product_name": "Yoyo",
            "brand_name": None,
            "manufacturer_name": "Forge",
            "price_usd": Decimal("5.25"),
            "store_name": "Cat's",
            "category_names": [],
        },
        {
            "orderitem_id": 102,
            "product_name": None,
            "brand_name": None,
            "manufacturer_name": None,
            "price_usd": None,
            "store_name": None,
            "category_names": [],
        },
        {
            "orderitem_id": 103,
            "product_name": "Kite XL",
            "brand_name": "Acme",
            "manufacturer_name": "Forge",
            "price_usd": Decimal("24.99"),
            "store_name": "New Shop",
            "category_names": ["Books", "Toys"],
        },
        {
            "orderitem_id": 104,
            "product_name": None,
            "brand_name": None,
            "manufacturer_name": "Forge",
            "price_usd": None,
            "store_name": "Cat's",
            "category_names": [],
        },
    ]
