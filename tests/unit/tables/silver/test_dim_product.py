"""dim_product: one row per product, with brand, manufacturer and rating summary."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.dim_product import DimProduct
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, silver, ts, types

pytestmark = pytest.mark.spark


def test_products_with_brand_manufacturer_and_ratings(spark: SparkSession) -> None:
    brand = bronze(spark, "brand", [(1, "Acme", "US", ts(1), ts(1))])
    manufacturer = bronze(
        spark,
        "manufacturer",
        [(1, "Forge", "CN", ts(1), ts(1)), (1, "Forge", "DE", ts(1), ts(2))],  # moved
    )
    product = bronze(
        spark,
        "product",
        [
            (500, "Kite", "Red kite", Decimal("18.00"), 1, 1, ts(1), ts(1)),
            (500, "Kite", "Red kite", Decimal("19.99"), 1, 1, ts(1), ts(3)),  # repriced
            (501, "Yoyo", None, Decimal("5.25"), 2, 1, ts(1), ts(1)),  # brand 2 is missing
        ],
    )
    fact_ratings = silver(
        spark,
        "fact_ratings",
        [
            (1, 500, 1000, 4, ts(5), ts(5)),
            (2, 500, 1001, 5, ts(5), ts(6)),
            (3, 500, 1002, None, ts(5), ts(5)),  # no value: neither counted nor averaged
        ],
    )

    out = DimProduct(NO_CONTEXT).transform(
        product=product, brand=brand, manufacturer=manufacturer, fact_ratings=fact_ratings
    )

    assert types(out) == types(silver(spark, "dim_product", []))
    assert collect(out, "product_id") == [
        {
            "product_id": 500,
            "product_name": "Kite",
            "description": "Red kite",
            "price_usd": Decimal("19.99"),
            "brand_id": 1,
            "brand_name": "Acme",
            "brand_country": "US",
            "manufacturer_id": 1,
            "manufacturer_name": "Forge",
            "manufacturer_country": "DE",
            "mean_rating": 4.5,
            "rating_count": 2,
        },
        {
            "product_id": 501,
            "product_name": "Yoyo",
            "description": None,
            "price_usd": Decimal("5.25"),
            "brand_id": 2,
            "brand_name": None,
            "brand_country": None,
            "manufacturer_id": 1,
            "manufacturer_name": "Forge",
            "manufacturer_country": "DE",
            "mean_rating": None,
            "rating_count": 0,
        },
    ]
