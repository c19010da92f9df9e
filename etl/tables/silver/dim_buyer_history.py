"""Buyer history: every version of each buyer's user details."""

from __future__ import annotations

from pyspark.sql import DataFrame

from etl.core import HistoryTable, history_spec


class DimBuyerHistory(HistoryTable):
    """One row per version of each buyer's user (SCD type 2): username, email, name and
    country as they were, from when to when.

    A buyer is an upstream user who buys; the details are the user's, so a version starts
    when the user row changed upstream, also before the user became a buyer. Buyers are
    those upstream lists now.
    """

    spec = history_spec(
        "dim_buyer_history",
        of="appuser",
        key="user_id",
        tracked=("username", "email", "first_name", "last_name", "country"),
        grain="one row per version of each buyer's user",
        primary_keys=("buyer_id", "valid_from"),
        also_reads=("buyer",),
        column_descriptions={
            "buyer_id": "The buyer's id upstream.",
            "user_id": "The buyer's user.",
            "username": "The username during the version.",
            "email": "The email address during the version.",
            "first_name": "The first name during the version.",
            "last_name": "The last name during the version.",
            "country": "The country during the version.",
        },
    )

    def shape(self, versions: DataFrame, **others: DataFrame) -> DataFrame:
        buyers = others["buyer"].select("buyer_id", "user_id")
        return buyers.join(versions, "user_id").select("buyer_id", *versions.columns)
