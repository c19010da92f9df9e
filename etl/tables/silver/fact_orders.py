"""Orders: one row per order."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.dataset import TableSpec
from etl.core.table import Table
from etl.tables.silver._columns import latest


class FactOrders(Table):
    """One row per order, dated by `order_ts` in UTC (the session time zone)."""

    spec = TableSpec(
        name="fact_orders",
        layer="silver",
        grain="one row per order",
        primary_keys=("order_id",),
        upstream=("orders",),
    )

    def transform(self, orders: DataFrame) -> DataFrame:
        return latest(orders, "order_id").select(
            "order_id",
            "buyer_id",
            "order_ts",
            F.to_date("order_ts").alias("order_date"),
            F.col("total_price").alias("total_price_usd"),
            "created_ts",
            "last_updated_ts",
        )
