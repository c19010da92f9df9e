"""Product-category links: one row per product and category."""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.core import Table, TableSpec, merge
from etl.tables.silver._columns import latest


class ProductXCategory(Table):
    """One row per product and category it belongs to.

    Each link row is first taken at its newest version, so a link moved to another
    category counts only there; two link rows for the same pair make one row.
    """

    spec = TableSpec(
        name="product_x_category",
        grain="one row per product and category",
        primary_keys=("product_id", "category_id"),
        upstream=("productcategory",),
        strategy=merge("product_id"),
    )

    def transform(self, productcategory: DataFrame) -> DataFrame:
        return (
            latest(productcategory, "productcategory_id")
            .select("product_id", "category_id")
            .distinct()
        )
