"""Daily order metrics: one row per order date."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec, between, by_date
from etl.tables.gold._money import mean_usd


class DailyOrderMetrics(Table):
    """One row per order date: how many orders, and their revenue (`total_price_usd`).

    `total_revenue` is the exact sum; `mean_revenue` is `total_revenue / order_count` rounded
    half up to the cent (orders without a price are left out of the mean, as SQL's `avg`
    does). Orders without `order_ts` have no date and are left out.
    """

    spec = TableSpec(
        name="daily_order_metrics",
        grain="one row per order date",
        primary_keys=("order_date",),
        upstream=("fact_orders",),
        strategy=by_date("order_date"),
        column_descriptions={
            "order_date": "The UTC date orders were placed on; the table's partition.",
            "order_count": "Orders placed that day.",
            "total_revenue": "The exact sum of those orders' `total_price_usd`.",
            "mean_revenue": "`total_revenue / order_count`, rounded half up to the cent.",
        },
        rules=(
            between(
                "mean_revenue", max_value=100_000, severity="fail", name="mean_revenue_plausible"
            ),
        ),
    )

    def transform(self, fact_orders: DataFrame) -> DataFrame:
        return (
            fact_orders.filter(F.col("order_date").isNotNull())
            .groupBy("order_date")
            .agg(
                F.count("order_id").alias("order_count"),
                F.sum("total_price_usd").alias("total_revenue"),
                mean_usd("total_price_usd").alias("mean_revenue"),
            )
        )
