"""fact_clickstream: one row per event, dated in UTC."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver.fact_clickstream import FactClickstream
from tests.unit.tables.frames import NO_CONTEXT, bronze, collect, ts

pytestmark = pytest.mark.spark


def test_latest_version_per_event_dated_in_utc(spark: SparkSession) -> None:
    late = ts(1, 23, 59, 59)
    clickstream = bronze(
        spark,
        "clickstream",
        [
            (1, 50, 1000, "view", 499, None, late, late, late),
            (1, 50, 1000, "view", 500, None, late, late, ts(2, 1)),  # product corrected
            (2, 50, 1000, "purchase", None, 1, ts(2, 0, 0, 1), ts(2, 0, 0, 1), ts(2, 0, 0, 1)),
        ],
    )

    out = FactClickstream(NO_CONTEXT).transform(clickstream=clickstream)

    assert collect(out, "clickstream_id") == [
        {
            "clickstream_id": 1,
            "session_id": 50,
            "user_id": 1000,
            "event_type": "view",
            "product_id": 500,
            "order_id": None,
            "event_ts": late,
            "event_date": date(2024, 3, 1),
        },
        {
            "clickstream_id": 2,
            "session_id": 50,
            "user_id": 1000,
            "event_type": "purchase",
            "product_id": None,
            "order_id": 1,
            "event_ts": ts(2, 0, 0, 1),
            "event_date": date(2024, 3, 2),
        },
    ]
