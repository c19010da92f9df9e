"""Incremental runs over simulated days equal a full refresh, table by table, row by row.

One upstream database is loaded, then moved forward a day at a time with `datagen.advance`
(new rows, updates, late rows, deletes; one day with defects). After each day the pipeline
runs incrementally for that date into warehouse `incremental`, and from scratch
(`full_refresh`) into warehouse `full`; every silver and gold table must hold the same rows in
both, and both reports must equal SQL over the clean upstream rows. After the ten days, the
dimension histories hold exactly the versions the upstream states of each day make. One day
has no upstream change at all, and one incremental run is killed with SIGKILL midway and run
again. Then
`rainforest backfill` over three more days must equal a full refresh, and running its last
day again must change no table (no new version) and log no bronze row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from datagen import advance
from datagen.load import Generation
from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.runlog import read_run_log
from etl.core.source_table import SourceTable
from etl.core.table import RunContext
from etl.core.upstream import connect
from tests.e2e.reports import (
    CLEAN_CATEGORY_REPORT_SQL,
    CLEAN_ORDER_REPORT_SQL,
    category_report,
    clean_report_params,
    order_report,
    pipeline_settings,
    postgres_report,
    upstream_at,
)
from tests.fixtures.postgres import generated_shop

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.postgres]

DAYS = 10
QUIET_DAY = 4
"""Run the next date before the upstream has simulated it: nothing changed."""
DIRTY_DAY = 6
KILLED_DAY = 8
REGISTRY = Registry.discover()
MODELLED = [t.spec.name for t in REGISTRY.build_order() if t.spec.placed_layer != "bronze"]
RAINFOREST = Path(sys.executable).parent / "rainforest"
HISTORIES = {
    "dim_product_history": (
        "SELECT product_id, name, description, price, brand_id, manufacturer_id, created_ts, "
        "last_updated_ts FROM rainforest.product",
        ("product_id", "product_name", "description", "price_usd", "brand_id", "manufacturer_id"),
    ),
    "dim_buyer_history": (
        "SELECT b.buyer_id, u.username, u.email, u.first_name, u.last_name, u.country, "
        "u.created_ts, u.last_updated_ts "
        "FROM rainforest.buyer b JOIN rainforest.appuser u USING (user_id)",
        ("buyer_id", "username", "email", "first_name", "last_name", "country"),
    ),
}
"""Per history table: the upstream rows it follows (key, tracked columns, created and updated
stamps), and its own key and tracked columns."""
Snapshot = tuple[date, list[tuple[object, ...]]]


@dataclass(frozen=True)
class Shop:
    dsn: str
    folder: Path

    def simulated_through(self) -> date:
        with connect(self.dsn) as conn, conn.cursor() as cursor:
            return Generation.read(cursor).simulated_through

    def rows(self, query: str) -> list[tuple[object, ...]]:
        with connect(self.dsn) as conn, conn.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchall()

    def advance(self, *, dirty: float | None = None) -> date:
        with connect(self.dsn) as conn:
            (day,) = advance(conn, days=1, dirty=dirty)
        return day.day


@pytest.fixture(scope="module")
def shop(postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    with generated_shop(postgres_dsn) as dsn:
        yield Shop(dsn, tmp_path_factory.mktemp("incremental"))


def _run(
    spark: SparkSession, shop: Shop, warehouse: str, day: date, *, full_refresh: bool = False
) -> RunContext:
    settings = pipeline_settings(shop.folder / warehouse)
    context = new_context(
        spark,
        settings,
        REGISTRY,
        upstream=upstream_at(shop.dsn),
        logical_date=day,
        full_refresh=full_refresh,
    )
    summary = run_pipeline(context)
    assert summary.ok, [(o.name, o.message) for o in summary.failures()]
    return context


def _killed_midway(shop: Shop, day: date) -> None:
    """`rainforest run --date day` killed with SIGKILL once the first silver table is written."""
    run = subprocess.Popen(
        [str(RAINFOREST), "run", "--date", day.isoformat()],
        env=_cli_env(shop, "incremental"),
        cwd=shop.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    assert run.stdout is not None
    for line in run.stdout:
        seen.append(line)
        if "silver." in line and "ok" in line:
            os.killpg(run.pid, signal.SIGKILL)
            break
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL, "".join(seen)
    finished = {line.split()[1] for line in seen if line.startswith("✓ ")}
    logged = read_run_log(pipeline_settings(shop.folder / "incremental"))
    killed = logged[-1].run_id
    in_log = {row.table for row in logged if row.run_id == killed and row.status == "ok"}
    assert finished and finished <= in_log, "the run log keeps what a killed run finished"


def _cli_env(shop: Shop, warehouse: str) -> dict[str, str]:
    """The environment a `rainforest` command needs to build `warehouse` from the shop."""
    return {
        **os.environ,
        "RAINFOREST_PG_DSN": shop.dsn,
        "RAINFOREST_WAREHOUSE": str(shop.folder / warehouse / "lakehouse"),
        "RAINFOREST_SPARK_MASTER": "local[2]",
        "RAINFOREST_SPARK_SHUFFLE_PARTITIONS": "2",
    }


def _differences(left: DataFrame, right: DataFrame) -> list[object]:
    """Rows in one and not the other (as many times as they differ), at most ten."""
    both = left.exceptAll(right).union(right.exceptAll(left))
    return list(both.limit(10).collect())


def _bronze_rows(context: RunContext) -> int:
    return sum(
        table(context).read_changes().curr_data.count()
        for table in REGISTRY
        if issubclass(table, SourceTable)
    )


def test_ten_days_of_incremental_runs_equal_full_refreshes(spark: SparkSession, shop: Shop) -> None:
    day = shop.simulated_through()
    _run(spark, shop, "incremental", day)
    # A history holds the versions its runs saw: both warehouses see every day's state.
    _run(spark, shop, "full", day, full_refresh=True)
    upstream = {name: [(day, shop.rows(query))] for name, (query, _) in HISTORIES.items()}
    for number in range(1, DAYS + 1):
        if number == QUIET_DAY:
            day = day.fromordinal(day.toordinal() + 1)
        else:
            day = shop.advance(dirty=0.03 if number == DIRTY_DAY else None)
        if number == KILLED_DAY:
            _killed_midway(shop, day)
        before = _bronze_rows(_run_context(spark, shop, day)) if number == QUIET_DAY else None
        incremental = _run(spark, shop, "incremental", day)
        if before is not None:
            assert _bronze_rows(incremental) == before, "a day without changes logs nothing"
        full = _run(spark, shop, "full", day, full_refresh=True)

        _assert_same_tables(incremental, full, day)
        params = clean_report_params(incremental.run_date_end)
        orders = postgres_report(shop.dsn, CLEAN_ORDER_REPORT_SQL, 1, params)
        categories = postgres_report(shop.dsn, CLEAN_CATEGORY_REPORT_SQL, 2, params)
        assert order_report(incremental) == orders, day
        assert category_report(incremental) == categories, day
        for name, (query, _) in HISTORIES.items():
            upstream[name].append((day, shop.rows(query)))

    for name, (_, columns) in HISTORIES.items():
        expected = _versions(upstream[name])
        assert any(row[-4] > 1 for row in expected), f"{name}: some rows changed upstream"
        assert _history(incremental, name, columns) == expected, name


def test_a_backfill_equals_a_full_refresh_and_a_rerun_changes_nothing(
    spark: SparkSession, shop: Shop
) -> None:
    _run(spark, shop, "backfill", shop.simulated_through())
    # Histories hold the versions their runs saw: both warehouses saw the day before.
    _run(spark, shop, "backfill_full", shop.simulated_through(), full_refresh=True)
    days = [shop.advance() for _ in range(3)]

    backfill = subprocess.run(
        [str(RAINFOREST), "backfill", "--from", days[0].isoformat(), "--to", days[-1].isoformat()],
        env=_cli_env(shop, "backfill"),
        cwd=shop.folder,
        capture_output=True,
        text=True,
        timeout=1200,
    )

    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    done = _run_context(spark, shop, days[-1], warehouse="backfill")
    _assert_same_tables(done, _run(spark, shop, "backfill_full", days[-1], full_refresh=True), None)
    versions = {t.spec.name: done.lake.version(t(done).storage_path) for t in REGISTRY}
    bronze_rows = _bronze_rows(done)

    again = _run(spark, shop, "backfill", days[-1])

    assert _bronze_rows(again) == bronze_rows
    assert {t.spec.name: again.lake.version(t(again).storage_path) for t in REGISTRY} == versions


def _versions(snapshots: list[Snapshot]) -> list[tuple[object, ...]]:
    """The SCD2 rows that the upstream states seen by each day's run make: per key, a version
    per change of its tracked values, from the change's stamp (the first from the row's
    creation) to the next; a key gone from a day's state ends when that day does."""
    versions: dict[object, list[list[object]]] = {}
    for day, rows in snapshots:
        seen = set()
        for key, *values, created, updated in rows:
            seen.add(key)
            held = versions.setdefault(key, [])
            if not held:
                held.append([tuple(values), min(created, updated), None])
            elif held[-1][0] != tuple(values):
                held[-1][2] = updated
                held.append([tuple(values), updated, None])
        gone = datetime.combine(day + timedelta(days=1), time.min)
        for key, held in versions.items():
            if key not in seen and held[-1][2] is None:
                held[-1][2] = gone
    return sorted(
        (key, *values, number, _stamp(start), _stamp(end), end is None)
        for key, held in versions.items()
        for number, (values, start, end) in enumerate(held, start=1)
    )


def _history(context: RunContext, name: str, columns: tuple[str, ...]) -> list[tuple[object, ...]]:
    """A history table's rows as `_versions` gives them, stamps as UTC text."""
    data = context.lake.read(REGISTRY.get(name)(context).storage_path)
    stamps = [
        F.date_format(column, "yyyy-MM-dd HH:mm:ss.SSSSSS").alias(column)
        for column in ("valid_from", "valid_to")
    ]
    return sorted(
        tuple(row) for row in data.select(*columns, "version", *stamps, "is_current").collect()
    )


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _assert_same_tables(mine: RunContext, theirs: RunContext, day: date | None) -> None:
    for name in MODELLED:
        left = mine.lake.read(REGISTRY.get(name)(mine).storage_path)
        right = theirs.lake.read(REGISTRY.get(name)(theirs).storage_path)
        assert left.columns == right.columns, (day, name)
        assert _differences(left, right) == [], (day, name)


def _run_context(
    spark: SparkSession, shop: Shop, day: date, *, warehouse: str = "incremental"
) -> RunContext:
    settings = pipeline_settings(shop.folder / warehouse)
    return new_context(spark, settings, REGISTRY, upstream=upstream_at(shop.dsn), logical_date=day)
