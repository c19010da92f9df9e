"""Source tables: a change log of one batch per run, read from the upstream the run was given."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pyspark.sql import SparkSession

from etl.core.changes import BATCH_ID, ChangeMark
from etl.core.errors import ConfigError
from etl.core.source_table import INGESTION_DATE, BatchPlan, SourceTable, source_spec
from etl.core.table import RunContext
from etl.core.upstream import Upstream


class Orders(SourceTable):
    spec = source_spec("orders", key="order_id")


def _context(**overrides: Any) -> RunContext:
    """A context whose services are placeholders: these tests touch none of them."""
    placeholder: Any = object()
    values: dict[str, Any] = {
        "spark": placeholder,
        "settings": placeholder,
        "lake": placeholder,
        "registry": placeholder,
        "run_id": "r",
        "run_ts": datetime(2025, 6, 30, 8, tzinfo=UTC),
    }
    return RunContext(**(values | overrides))


def test_source_spec_keeps_a_change_log_of_batches_by_ingestion_date() -> None:
    spec = source_spec("orders", key="order_id")

    assert spec.qualified_name == "bronze.orders"
    assert spec.primary_keys == ("order_id", BATCH_ID)
    assert spec.partition_by == (INGESTION_DATE,)
    assert spec.mode == "append"
    assert spec.changed_column == "last_updated_ts"
    assert spec.upstream == ()


def test_a_run_without_an_upstream_says_so_before_touching_spark() -> None:
    context = _context()

    with pytest.raises(ConfigError, match="without an upstream database"):
        Orders(context).extract()


def test_the_logical_date_is_the_ingestion_partition(spark: SparkSession) -> None:
    replay = _context(
        spark=spark,
        logical_date=date(2025, 6, 1),
        upstream=Upstream(dsn="postgresql://unused", schema="shop"),
    )
    source = spark.createDataFrame([(1,)], "order_id int")
    table = Orders(replay)
    table.batch = BatchPlan(
        mark=ChangeMark(
            batch_id=4, high_water_mark=datetime(2025, 6, 1, tzinfo=UTC), full_batch_id=4
        ),
    )

    row = table.transform(source).first()

    assert row is not None
    assert row[INGESTION_DATE] == date(2025, 6, 1)
    assert row[BATCH_ID] == 4
    assert row["etl_change"] == "upsert"
    assert row["etl_inserted"] == datetime(2025, 6, 30, 8), "lineage keeps when it ran"


def test_without_a_logical_date_a_run_processes_the_day_it_started() -> None:
    context = _context()

    assert context.run_date == date(2025, 6, 30)
    assert context.run_date_end == datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)
    replay = dataclasses.replace(context, logical_date=date(2025, 6, 1))
    assert replay.run_date_end == datetime(2025, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)
