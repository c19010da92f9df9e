"""Order items: one row per order item."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between, merge, references
from etl.tables.silver._columns import latest


class FactOrderItems(Table):
    """One row per order item whose order is known, dated by its order.

    An item whose order is not in the same snapshot is left out (inner join), so every item
    has an order date and the items always add up to orders that `fact_orders` holds; it
    arrives with its order in a later run.
    """

    spec = TableSpec(
        name="fact_order_items",
        grain="one row per order item",
        primary_keys=("orderitem_id",),
        upstream=("orderitem", "orders", "fact_orders", "dim_product", "dim_seller"),
        partition_by=("order_date",),
        strategy=merge("orderitem_id", via={"orders": "order_id"}),
        rules=(
            between("quantity", 1, name="quantity_at_least_one"),
            between("base_price_usd", 0, strict_min=True, name="price_positive"),
            between("tax_usd", 0, name="tax_not_negative"),
            references("order_id", "fact_orders"),
            references("product_id", "dim_product"),
            references("seller_id", "dim_seller"),
        ),
    )

    def transform(self, orderitem: DataFrame, orders: DataFrame) -> DataFrame:
        order_dates = latest(orders, "order_id").select(
            "order_id", "order_ts", F.to_date("order_ts").alias("order_date")
        )
        return (
            latest(orderitem, "orderitem_id")
            .join(order_dates, "order_id")
            .select(
                "orderitem_id",
                "order_id",
                "product_id",
                "seller_id",
                "quantity",
                F.col("base_price").alias("base_price_usd"),
                F.col("tax").alias("tax_usd"),
                (F.col("quantity") * F.col("base_price"))
                .cast("decimal(12,2)")
                .alias("revenue_usd"),
                "order_ts",
                "order_date",
                "created_ts",
            )
        )
