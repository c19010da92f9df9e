"""Clickstream: one row per event."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core import (
    Table,
    TableSpec,
    first_of,
    in_set,
    merge,
    not_in_future,
    references,
    unique,
)
from etl.tables.silver._columns import latest

EVENT_TYPES = ("view", "add_to_cart", "checkout", "purchase")
EVENT = ("user_id", "event_type", "product_id", "event_ts")
"""What makes an event: the same columns under a second id are the same event recorded twice."""


class FactClickstream(Table):
    """One row per clickstream event, dated by `event_ts` in UTC (the session time zone)."""

    spec = TableSpec(
        name="fact_clickstream",
        grain="one row per clickstream event",
        primary_keys=("clickstream_id",),
        upstream=("clickstream", "dim_product"),
        partition_by=("event_date",),
        strategy=merge("clickstream_id"),
        rules=(
            in_set("event_type", EVENT_TYPES, name="event_type_known"),
            not_in_future("event_ts"),
            first_of(*EVENT, order_by="clickstream_id", name="event_not_repeated"),
            unique(*EVENT, name="no_duplicate_events"),
            references("product_id", "dim_product"),
        ),
    )

    def transform(self, clickstream: DataFrame) -> DataFrame:
        return latest(clickstream, "clickstream_id").select(
            "clickstream_id",
            "session_id",
            "user_id",
            "event_type",
            "product_id",
            "order_id",
            "event_ts",
            F.to_date("event_ts").alias("event_date"),
        )
