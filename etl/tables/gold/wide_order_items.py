"""Order items with their product, seller and categories: one row per order item."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, merge


class WideOrderItems(Table):
    """One row per order item, with product, seller and category attributes.

    The product's name and list price are those of its version valid when the order was
    placed (a point-in-time join on `dim_product_history`: `valid_from <= order_ts <
    valid_to`), so a repricing later does not rewrite past orders; brand, manufacturer,
    seller and categories are today's. Dimensions are left-joined, so an item whose product
    or seller is missing, or whose order has no time, stays with null attributes;
    `category_names` is sorted and empty for a product in no category.
    """

    spec = TableSpec(
        name="wide_order_items",
        grain="one row per order item",
        primary_keys=("orderitem_id",),
        upstream=(
            "fact_order_items",
            "dim_product",
            "dim_product_history",
            "dim_seller",
            "product_x_category",
            "dim_category",
        ),
        partition_by=("order_date",),
        strategy=merge(
            "orderitem_id",
            via={
                "dim_product": "product_id",
                "dim_product_history": "product_id",
                "dim_seller": "seller_id",
                "product_x_category": "product_id",
            },
        ),
        column_descriptions={
            "orderitem_id": "The order item's id upstream.",
            "order_id": "The order it belongs to.",
            "product_id": "The product ordered.",
            "seller_id": "The seller who sold it.",
            "quantity": "Units ordered.",
            "base_price_usd": "The unit price before tax, in USD.",
            "tax_usd": "The tax on the item, in USD.",
            "revenue_usd": "`quantity * base_price_usd`, in USD.",
            "order_ts": "When its order was placed (UTC).",
            "order_date": "The UTC date of `order_ts`; the table's partition.",
            "created_ts": "When the item row was created upstream.",
            "product_name": "The product's name when the order was placed.",
            "brand_name": "The product's brand.",
            "manufacturer_name": "The product's manufacturer.",
            "price_usd": "The product's list price when the order was placed, in USD.",
            "store_name": "The seller's store; null when the seller is missing.",
            "category_names": "The product's categories, sorted; empty for none.",
        },
    )

    def transform(
        self,
        fact_order_items: DataFrame,
        dim_product: DataFrame,
        dim_product_history: DataFrame,
        dim_seller: DataFrame,
        product_x_category: DataFrame,
        dim_category: DataFrame,
    ) -> DataFrame:
        makers = dim_product.select("product_id", "brand_name", "manufacturer_name")
        then = dim_product_history.select(
            F.col("product_id").alias("_product_id"),
            "valid_from",
            "valid_to",
            "product_name",
            "price_usd",
        )
        valid_then = (
            (F.col("_product_id") == F.col("product_id"))
            & (F.col("valid_from") <= F.col("order_ts"))
            & (F.col("valid_to").isNull() | (F.col("order_ts") < F.col("valid_to")))
        )
        sellers = dim_seller.select("seller_id", "store_name")
        categories = (
            product_x_category.join(dim_category, "category_id")
            .groupBy("product_id")
            .agg(F.array_sort(F.collect_list("category_name")).alias("category_names"))
        )
        return (
            fact_order_items.join(then, valid_then, "left")
            .join(makers, "product_id", "left")
            .join(sellers, "seller_id", "left")
            .join(categories, "product_id", "left")
            .select(
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
                F.coalesce("category_names", F.array().cast("array<string>")).alias(
                    "category_names"
                ),
            )
        )
