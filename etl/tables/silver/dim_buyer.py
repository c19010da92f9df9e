"""Buyers: one row per buyer, with the user account behind it."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import EMAIL, Table, TableSpec, matches, merge
from etl.tables.silver._columns import latest


class DimBuyer(Table):
    """One row per buyer; a buyer whose user is missing keeps null user attributes."""

    spec = TableSpec(
        name="dim_buyer",
        grain="one row per buyer",
        primary_keys=("buyer_id",),
        upstream=("buyer", "appuser"),
        strategy=merge("buyer_id", via={"appuser": "user_id"}),
        rules=(matches("email", EMAIL, name="email_well_formed"),),
    )

    def transform(self, buyer: DataFrame, appuser: DataFrame) -> DataFrame:
        users = latest(appuser, "user_id").select(
            "user_id",
            "username",
            "email",
            "first_name",
            "last_name",
            "country",
            F.col("created_ts").alias("user_created_ts"),
        )
        return (
            latest(buyer, "buyer_id")
            .join(users, "user_id", "left")
            .select(
                "buyer_id",
                "user_id",
                "username",
                "email",
                "first_name",
                "last_name",
                "country",
                "created_ts",
                "user_created_ts",
            )
        )
