"""Ratings: one row per rating a user gave a product."""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.core import Table, TableSpec, between, merge
from etl.tables.silver._columns import latest


class FactRatings(Table):
    """One row per rating, as it is now (an edited rating has its latest value).

    A rating outside 1-5 is quarantined with the rule it broke, so it counts in no product's
    `mean_rating`; a rating without a value stays, and is counted by nobody's mean either.
    """

    spec = TableSpec(
        name="fact_ratings",
        grain="one row per rating",
        primary_keys=("rating_id",),
        upstream=("ratings",),
        strategy=merge("rating_id"),
        rules=(between("rating", 1, 5, name="rating_in_range"),),
    )

    def transform(self, ratings: DataFrame) -> DataFrame:
        return latest(ratings, "rating_id").select(
            "rating_id", "product_id", "user_id", "rating", "created_ts", "last_updated_ts"
        )
