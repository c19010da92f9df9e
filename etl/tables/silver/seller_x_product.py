"""Seller-product listings: one row per seller and product."""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.core import Table, TableSpec, merge
from etl.tables.silver._columns import latest


class SellerXProduct(Table):
    """One row per seller and product it offers.

    Each listing row is first taken at its newest version, so a listing moved to another
    product counts only there; two listing rows for the same pair make one row.
    """

    spec = TableSpec(
        name="seller_x_product",
        grain="one row per seller and product",
        primary_keys=("seller_id", "product_id"),
        upstream=("sellerproduct",),
        strategy=merge("seller_id"),
    )

    def transform(self, sellerproduct: DataFrame) -> DataFrame:
        return (
            latest(sellerproduct, "sellerproduct_id").select("seller_id", "product_id").distinct()
        )
