"""Orders with their buyer and item totals: one row per order."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, merge


class WideOrders(Table):
    """One row per order, with its buyer's attributes and its items' totals.

    An order without items has zero counts and zero revenue rather than nulls; an order
    whose buyer is missing keeps null buyer attributes.
    """

    spec = TableSpec(
        name="wide_orders",
        grain="one row per order",
        primary_keys=("order_id",),
        upstream=("fact_orders", "fact_order_items", "dim_buyer"),
        partition_by=("order_date",),
        strategy=merge("order_id", via={"fact_order_items": "order_id", "dim_buyer": "buyer_id"}),
        column_descriptions={
            "order_id": "The order's id upstream.",
            "buyer_id": "The buyer who placed the order.",
            "order_ts": "When the order was placed (UTC).",
            "order_date": "The UTC date of `order_ts`; the table's partition.",
            "total_price_usd": "The order's total as the shop recorded it, in USD.",
            "created_ts": "When the order row was created upstream.",
            "last_updated_ts": "When the order row last changed upstream.",
            "user_id": "The buyer's user account.",
            "username": "The buyer's user name.",
            "email": "The buyer's email address (personal data).",
            "first_name": "The buyer's first name (personal data).",
            "last_name": "The buyer's last name (personal data).",
            "country": "The buyer's country.",
            "item_count": "How many order items the order has (0 for none).",
            "item_quantity": "The units ordered over all its items (0 for none).",
            "items_revenue_usd": "The sum of its items' `quantity * base_price`, in USD.",
        },
    )

    def transform(
        self, fact_orders: DataFrame, fact_order_items: DataFrame, dim_buyer: DataFrame
    ) -> DataFrame:
        items = fact_order_items.groupBy("order_id").agg(
            F.count("orderitem_id").alias("item_count"),
            F.sum("quantity").alias("item_quantity"),
            F.sum("revenue_usd").alias("items_revenue_usd"),
        )
        buyers = dim_buyer.select(
            "buyer_id", "user_id", "username", "email", "first_name", "last_name", "country"
        )
        return (
            fact_orders.join(buyers, "buyer_id", "left")
            .join(items, "order_id", "left")
            .select(
                "order_id",
                "buyer_id",
                "order_ts",
                "order_date",
                "total_price_usd",
                "created_ts",
                "last_updated_ts",
                "user_id",
                "username",
                "email",
                "first_name",
                "last_name",
                "country",
                F.coalesce("item_count", F.lit(0).cast("long")).alias("item_count"),
                F.coalesce("item_quantity", F.lit(0).cast("long")).alias("item_quantity"),
                F.coalesce("items_revenue_usd", F.lit(0)).alias("items_revenue_usd"),
            )
        )
