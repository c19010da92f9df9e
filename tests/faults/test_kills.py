"""SIGKILL of a run's driver and everything it started, at eight moments spread over full and
incremental runs: after each kill every Delta table opens at a committed version, and the next
run takes over the killed run's lock, completes, and its reports equal SQL on Postgres."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from pyspark.sql import SparkSession

from etl.core.pipeline import TookOverWarehouse
from etl.core.runlog import read_run_log
from tests.faults.support import (
    TABLES,
    Event,
    Shop,
    assert_every_table_opens,
    assert_reports_equal_postgres,
    build,
    finished_tables,
    kill,
    run_until,
    started,
)

pytestmark = [pytest.mark.faults, pytest.mark.spark, pytest.mark.postgres]


@dataclass(frozen=True)
class KillPoint:
    what: str
    when: Callable[[list[Event]], bool]
    after_s: float = 0.0


IN_A_FULL_RUN = (
    KillPoint("while bronze extracts", started("bronze.orderitem"), after_s=0.5),
    KillPoint("after the first silver table", finished_tables(1, "silver.")),
    KillPoint("while a gold table is written", started("gold.wide_order_items"), after_s=1.0),
    KillPoint("with three tables to go", finished_tables(TABLES - 3)),
)
IN_AN_INCREMENTAL_RUN = (
    KillPoint("after the first bronze batch", finished_tables(1, "bronze.")),
    KillPoint("while silver merges the changes", started("silver.fact_orders"), after_s=0.3),
    KillPoint("halfway", finished_tables(TABLES // 2)),
    KillPoint("while a daily metric replaces its days", started("gold.daily_category_metrics")),
)


def killed_then_completed(
    spark: SparkSession, shop: Shop, point: KillPoint, day: date, *args: str
) -> None:
    killed = run_until(
        shop, "--date", day.isoformat(), *args, when=point.when, then=kill, after_s=point.after_s
    )
    assert killed.returncode == -9, f"{point.what}: the run ended first\n{killed.explain()}"
    assert_every_table_opens(shop.settings())
    logged = read_run_log(shop.settings())
    assert killed.finished("ok") <= {row.table for row in logged if row.status == "ok"}, (
        f"{point.what}: the run log keeps what the killed run finished"
    )

    after = build(spark, shop, day)

    assert any(isinstance(e, TookOverWarehouse) for e in after), "the killed run's lock"
    assert_every_table_opens(shop.settings())
    assert_reports_equal_postgres(spark, shop, day)


def test_kills_during_full_runs_lose_and_corrupt_nothing(spark: SparkSession, shop: Shop) -> None:
    day = shop.simulated_through()
    for point in IN_A_FULL_RUN:
        killed_then_completed(spark, shop, point, day, "--full-refresh")


def test_kills_during_incremental_runs_lose_and_corrupt_nothing(
    spark: SparkSession, shop: Shop
) -> None:
    build(spark, shop, shop.simulated_through())
    for point in IN_AN_INCREMENTAL_RUN:
        killed_then_completed(spark, shop, point, shop.advance())
