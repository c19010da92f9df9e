"""Orders: one row per order."""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import (
    Table,
    TableSpec,
    equals_within,
    merge,
    not_in_future,
    references,
    sum_of,
)
from etl.tables.silver._columns import latest


class FactOrders(Table):
    """One row per order, dated by `order_ts` in UTC (the session time zone).

    An order is kept when its total agrees to the cent with its items as recorded upstream
    (each `quantity * base_price + tax`), its buyer is known and it is not dated in the future.
    """

    spec = TableSpec(
        name="fact_orders",
        grain="one row per order",
        primary_keys=("order_id",),
        upstream=("orders", "orderitem", "dim_buyer"),
        partition_by=("order_date",),
        strategy=merge("order_id"),
        rules=(
            not_in_future("order_ts"),
            equals_within(
                "total_price_usd",
                sum_of(
                    "orderitem",
                    key="order_id",
                    amount=lambda item: item.quantity * item.base_price + item.tax,
                ),
                Decimal("0.01"),
                name="total_matches_items",
            ),
            references("buyer_id", "dim_buyer"),
        ),
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
