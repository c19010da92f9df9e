"""`latest`: one row per key, its newest version."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.sql import SparkSession

from etl.tables.silver._columns import latest
from tests.unit.tables.frames import bronze, collect, ts

pytestmark = pytest.mark.spark


def test_newest_update_wins_then_latest_ingestion(spark: SparkSession) -> None:
    first = bronze(
        spark,
        "category",
        [
            (1, "Boks", ts(1), ts(1)),
            (1, "Books", ts(1), ts(2)),  # newer update
            (2, "Toy", ts(1), ts(3)),
        ],
        inserted=datetime(2024, 3, 10, tzinfo=UTC),
    )
    second = bronze(
        spark,
        "category",
        [(1, "Boks", ts(1), ts(1)), (2, "Toys", ts(1), ts(3))],  # same update, ingested later
        inserted=datetime(2024, 3, 11, tzinfo=UTC),
    )

    rows = collect(
        latest(first.unionByName(second), "category_id").select("category_id", "name"),
        "category_id",
    )

    assert rows == [{"category_id": 1, "name": "Books"}, {"category_id": 2, "name": "Toys"}]
