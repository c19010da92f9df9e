"""Tiny input frames with the real column types, and collected rows that compare by value."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

NO_CONTEXT: Any = None  # transform reads nothing from the run context

AUDIT = "created_ts TIMESTAMP, last_updated_ts TIMESTAMP"

# The upstream columns of each bronze table, typed as Spark reads them over JDBC.
BRONZE = {
    "appuser": "user_id BIGINT, username STRING, email STRING, first_name STRING, "
    f"last_name STRING, country STRING, {AUDIT}",
    "category": f"category_id BIGINT, name STRING, {AUDIT}",
    "brand": f"brand_id BIGINT, name STRING, country STRING, {AUDIT}",
    "manufacturer": f"manufacturer_id BIGINT, name STRING, country STRING, {AUDIT}",
    "product": "product_id BIGINT, name STRING, description STRING, price DECIMAL(10,2), "
    f"brand_id BIGINT, manufacturer_id BIGINT, {AUDIT}",
    "productcategory": f"productcategory_id BIGINT, product_id BIGINT, category_id BIGINT, {AUDIT}",
    "seller": f"seller_id BIGINT, user_id BIGINT, store_name STRING, {AUDIT}",
    "buyer": f"buyer_id BIGINT, user_id BIGINT, {AUDIT}",
    "sellerproduct": f"sellerproduct_id BIGINT, seller_id BIGINT, product_id BIGINT, {AUDIT}",
    "ratings": f"rating_id BIGINT, product_id BIGINT, user_id BIGINT, rating SMALLINT, {AUDIT}",
    "orders": f"order_id BIGINT, buyer_id BIGINT, order_ts TIMESTAMP, total_price DECIMAL(12,2), "
    f"{AUDIT}",
    "orderitem": "orderitem_id BIGINT, order_id BIGINT, product_id BIGINT, seller_id BIGINT, "
    f"quantity INT, base_price DECIMAL(10,2), tax DECIMAL(10,2), {AUDIT}",
    "clickstream": "clickstream_id BIGINT, session_id BIGINT, user_id BIGINT, event_type STRING, "
    f"product_id BIGINT, order_id BIGINT, event_ts TIMESTAMP, {AUDIT}",
}

# The silver tables the gold tests start from, as the silver transforms type them.
SILVER = {
    "fact_orders": "order_id BIGINT, buyer_id BIGINT, order_ts TIMESTAMP, order_date DATE, "
    f"total_price_usd DECIMAL(12,2), {AUDIT}",
    "fact_order_items": "orderitem_id BIGINT, order_id BIGINT, product_id BIGINT, "
    "seller_id BIGINT, quantity INT, base_price_usd DECIMAL(10,2), tax_usd DECIMAL(10,2), "
    "revenue_usd DECIMAL(12,2), order_ts TIMESTAMP, order_date DATE, created_ts TIMESTAMP",
    "dim_buyer": "buyer_id BIGINT, user_id BIGINT, username STRING, email STRING, "
    "first_name STRING, last_name STRING, country STRING, created_ts TIMESTAMP, "
    "user_created_ts TIMESTAMP",
    "dim_seller": "seller_id BIGINT, user_id BIGINT, store_name STRING, username STRING, "
    "email STRING, country STRING, created_ts TIMESTAMP, user_created_ts TIMESTAMP",
    "dim_category": "category_id BIGINT, category_name STRING",
    "dim_product": "product_id BIGINT, product_name STRING, description STRING, "
    "price_usd DECIMAL(10,2), brand_id BIGINT, brand_name STRING, brand_country STRING, "
    "manufacturer_id BIGINT, manufacturer_name STRING, manufacturer_country STRING, "
    "mean_rating DOUBLE, rating_count BIGINT",
    "product_x_category": "product_id BIGINT, category_id BIGINT",
    "dim_product_history": "product_id BIGINT, product_name STRING, description STRING, "
    "price_usd DECIMAL(10,2), brand_id BIGINT, manufacturer_id BIGINT, version INT, "
    "valid_from TIMESTAMP, valid_to TIMESTAMP, is_current BOOLEAN",
    "fact_ratings": "rating_id BIGINT, product_id BIGINT, user_id BIGINT, rating SMALLINT, "
    f"{AUDIT}",
    "fact_clickstream": "clickstream_id BIGINT, session_id BIGINT, user_id BIGINT, "
    "event_type STRING, product_id BIGINT, order_id BIGINT, event_ts TIMESTAMP, event_date DATE",
}

INGESTED = datetime(2024, 3, 10, 6, 0, tzinfo=UTC)


def ts(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An instant in March 2024, UTC: tz-aware, so Spark never reads it in the local zone."""
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


def bronze(
    spark: SparkSession,
    table: str,
    rows: Sequence[tuple[object, ...]],
    *,
    inserted: datetime = INGESTED,
) -> DataFrame:
    """A bronze table as the lake holds it: the upstream columns plus the lineage columns."""
    return spark.createDataFrame(list(rows), BRONZE[table]).select(
        "*",
        F.lit(inserted).cast("timestamp").alias("etl_inserted"),
        F.lit("test-run").alias("etl_run_id"),
        F.lit(f"rainforest.{table}").alias("etl_source"),
        F.lit(inserted.date()).alias("etl_ingestion_date"),
    )


def silver(spark: SparkSession, table: str, rows: Sequence[tuple[object, ...]]) -> DataFrame:
    """A silver table with the columns and types its transform produces."""
    return spark.createDataFrame(list(rows), SILVER[table])


def collect(data: DataFrame, *order_by: str) -> list[dict[str, object]]:
    """The rows as dicts in a fixed order, timestamps back as UTC instants.

    Spark returns timestamps as naive datetimes in the machine's zone; making them aware
    lets tests write their expectations in UTC wherever they run.
    """
    return [
        {k: _utc(v) for k, v in row.asDict(recursive=True).items()}
        for row in data.orderBy(*order_by).collect()
    ]


def _utc(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def types(data: DataFrame) -> dict[str, str]:
    return {field.name: field.dataType.simpleString() for field in data.schema.fields}
