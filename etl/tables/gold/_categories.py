"""Products' categories by name, as every per-category mart counts them."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def named_categories(product_x_category: DataFrame, dim_category: DataFrame) -> DataFrame:
    """One row per product and the name of each of its categories (`product_id`,
    `category`); categories without a name are left out.

    Marked for broadcast: a row per product and category is small beside the events joined to
    it, but after the distinct Spark cannot tell and would broadcast the events instead."""
    return F.broadcast(
        product_x_category.join(dim_category, "category_id")
        .select("product_id", F.col("category_name").alias("category"))
        .where(F.col("category").isNotNull())
        .distinct()
    )
