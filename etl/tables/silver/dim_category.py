"""Categories: one row per product category."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import Table, TableSpec
from etl.tables.silver._columns import latest


class DimCategory(Table):
    """One row per product category."""

    spec = TableSpec(
        name="dim_category",
        grain="one row per category",
        primary_keys=("category_id",),
        upstream=("category",),
    )

    def transform(self, category: DataFrame) -> DataFrame:
        return latest(category, "category_id").select(
            "category_id", F.col("name").alias("category_name")
        )
