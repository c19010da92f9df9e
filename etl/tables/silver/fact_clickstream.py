"""Clickstream: one row per event."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl.core.dataset import TableSpec
from etl.core.table import Table
from etl.tables.silver._columns import latest


class FactClickstream(Table):
    """One row per clickstream event, dated by `event_ts` in UTC (the session time zone)."""

    spec = TableSpec(
        name="fact_clickstream",
        layer="silver",
        grain="one row per clickstream event",
        primary_keys=("clickstream_id",),
        upstream=("clickstream",),
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
