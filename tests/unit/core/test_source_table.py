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
from etl.core.upstream import ChangeProbe, Upstream


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


LAST_BATCH = ChangeMark(
    batch_id=3,
    high_water_mark=datetime(2025, 6, 29, 23, tzinfo=UTC),
    full_batch_id=1,
    live_keys=10,
    lookback_window=77,
)
QUIET = ChangeProbe(
    has_column=True,
    high_water_mark=LAST_BATCH.high_water_mark,
    lookback_window=77,
    rows=10,
    keys_after=(),
)


def test_a_source_with_nothing_new_since_the_last_batch_is_up_to_date() -> None:
    plan, batch = Orders.decide(LAST_BATCH, QUIET)

    assert (plan.mode, plan.reason) == (
        "up_to_date",
        "no upstream row changed since its last batch",
    )
    assert batch is None


@pytest.mark.parametrize(
    ("probe", "reason"),
    [
        (
            dataclasses.replace(QUIET, changed_since_mark=1),
            "1 row changed upstream since its high-water mark 2025-06-29 23:00:00",
        ),
        (
            dataclasses.replace(QUIET, lookback_window=78),
            "rows stamped within the lookback (1:00:00) before its high-water mark changed",
        ),
        (dataclasses.replace(QUIET, rows=9), "upstream holds 9 rows and the log 10 live keys"),
        (
            dataclasses.replace(QUIET, changed_after=2, rows=12, keys_after=(11, 12)),
            "2 rows changed upstream after the logical date",
        ),
        (None, "it has no change timestamp"),
    ],
)
def test_a_source_builds_a_batch_when_upstream_may_hold_what_the_log_lacks(
    probe: ChangeProbe | None, reason: str
) -> None:
    plan, batch = Orders.decide(LAST_BATCH, probe)

    assert plan.mode == "full" and plan.label == "changes"
    assert plan.reason.startswith(reason)
    assert batch is not None and batch.previous == LAST_BATCH
    assert batch.mark.batch_id == 4 and batch.mark.full_batch_id == 1


def test_a_log_from_before_the_lookback_mark_is_not_judged_up_to_date() -> None:
    plan, _ = Orders.decide(dataclasses.replace(LAST_BATCH, lookback_window=None), QUIET)

    assert plan.mode == "full"


def test_force_and_full_refresh_build_an_up_to_date_source() -> None:
    forced, batch = Orders.decide(LAST_BATCH, QUIET, force=True)
    refreshed, snapshot = Orders.decide(LAST_BATCH, QUIET, full_refresh=True)

    assert (forced.label, forced.reason) == ("changes", "forced by --force")
    assert batch is not None and batch.mark.lookback_window == 77
    assert (refreshed.label, refreshed.reason) == ("snapshot", "full refresh asked for")
    assert snapshot is not None and snapshot.full and snapshot.mark.batch_id == 4
    never, first = Orders.decide(None, QUIET)
    assert (never.label, never.reason) == ("snapshot", "never built")
    assert first is not None and first.mark.batch_id == 1
