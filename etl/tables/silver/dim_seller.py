"""Sellers: one row per seller, with the user account behind it."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import EMAIL, Table, TableSpec, matches, merge
from etl.tables.silver._columns import latest


class DimSeller(Table):
    """One row per seller; a seller whose user is missing keeps null user attributes."""

    spec = TableSpec(
        name="dim_seller",
        grain="one row per seller",
        primary_keys=("seller_id",),
        upstream=("seller", "appuser"),
        strategy=merge("seller_id", via={"appuser": "user_id"}),
        rules=(matches("email", EMAIL, name="email_well_formed"),),
    )

    def transform(self, seller: DataFrame, appuser: DataFrame) -> DataFrame:
        users = latest(appuser, "user_id").select(
            "user_id", "username", "email", "country", F.col("created_ts").alias("user_created_ts")
        )
        return (
            latest(seller, "seller_id")
            .join(users, "user_id", "left")
            .select(
                "seller_id",
                "user_id",
                "store_name",
                "username",
                "email",
                "country",
                "created_ts",
                "user_created_ts",
            )
        )
