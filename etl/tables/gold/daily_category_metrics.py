"""Daily category metrics: one row per order date and category."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between, by_date
from etl.tables.gold._money import mean_usd, median_usd


class DailyCategoryMetrics(Table):
    """One row per order date and category name: mean and exact median item revenue.

    An item (revenue `quantity * base_price`) counts once in every category of its product;
    items of a product in no category appear nowhere, and items without an order date or
    whose category has no name are left out. Both metrics are rounded half up to the cent.
    """

    spec = TableSpec(
        name="daily_category_metrics",
        grain="one row per order date and category",
        primary_keys=("order_date", "category"),
        upstream=("fact_order_items", "product_x_category", "dim_category"),
        strategy=by_date("order_date", via={"product_x_category": "product_id"}),
        column_descriptions={
            "order_date": "The UTC date the items' orders were placed on; the partition.",
            "category": "The category's name; an item counts in each category of its product.",
            "mean_revenue": "The mean item revenue (`quantity * base_price`), to the cent.",
            "median_revenue": "The exact median item revenue, to the cent.",
        },
        rules=(
            between(
                "mean_revenue", max_value=100_000, severity="fail", name="mean_revenue_plausible"
            ),
        ),
    )

    def transform(
        self,
        fact_order_items: DataFrame,
        product_x_category: DataFrame,
        dim_category: DataFrame,
    ) -> DataFrame:
        return (
            fact_order_items.join(product_x_category, "product_id")
            .join(dim_category, "category_id")
            .select("order_date", F.col("category_name").alias("category"), "revenue_usd")
            .dropna(subset=["order_date", "category"])
            .groupBy("order_date", "category")
            .agg(
                mean_usd("revenue_usd").alias("mean_revenue"),
                median_usd("revenue_usd").alias("median_revenue"),
            )
        )
