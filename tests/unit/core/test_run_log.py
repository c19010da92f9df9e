"""The run log (`ops/runs`) and quality results are written table by table as a run goes, with
real Spark builds and real Delta commits in a temporary warehouse."""

from __future__ import annotations

from typing import ClassVar

import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from etl.core import between
from etl.core.dataset import TableSpec
from etl.core.pipeline import RunEvent, RunSummary, TableFinished, new_context, run_pipeline
from etl.core.quality.results import results_uri
from etl.core.registry import Registry
from etl.core.runlog import LoggedTable, read_run_log
from etl.core.settings import Settings
from etl.core.table import Table

pytestmark = pytest.mark.spark


class Items(Table):
    """One row per item; the test sets its rows, or makes its transform fail like a bug."""

    rows: ClassVar[list[tuple[int, int]]] = []
    bug: ClassVar[bool] = False
    spec = TableSpec(
        name="log_items",
        layer="silver",
        grain="one row per item",
        primary_keys=("item_id",),
        rules=(between("quantity", max_value=100, severity="fail", name="quantity_plausible"),),
    )

    def extract(self) -> dict[str, DataFrame]:
        return {"raw": self.context.spark.createDataFrame(Items.rows, "item_id int, quantity int")}

    def transform(self, **sources: DataFrame) -> DataFrame:
        if Items.bug:
            raise KeyError("quantity")
        return sources["raw"]


class Totals(Table):
    """One row."""

    spec = TableSpec(
        name="log_totals",
        layer="gold",
        grain="one row",
        primary_keys=("items",),
        upstream=("log_items",),
    )

    def transform(self, log_items: DataFrame) -> DataFrame:
        return log_items.selectExpr("count(*) AS items")


@pytest.fixture(autouse=True)
def _well_behaved_items() -> None:
    Items.rows, Items.bug = [(1, 2), (2, 3)], False


def run(spark: SparkSession, settings: Settings) -> RunSummary:
    return run_pipeline(new_context(spark, settings, Registry([Items, Totals])))


def logged(settings: Settings, run_id: str) -> dict[str, LoggedTable]:
    return {row.table: row for row in read_run_log(settings) if row.run_id == run_id}


def test_each_table_is_in_the_log_with_its_results_as_soon_as_it_finishes(
    spark: SparkSession, local_settings: Settings
) -> None:
    seen_when_items_finished: list[set[str]] = []

    def on_event(event: RunEvent) -> None:
        if isinstance(event, TableFinished) and event.outcome.name == "log_items":
            in_log = {row.table for row in read_run_log(local_settings)}
            results = DeltaTable(results_uri(local_settings)).to_pyarrow_table()
            checked = set(results.column("table").to_pylist())
            seen_when_items_finished.append(in_log | {f"results of {t}" for t in checked})

    context = new_context(spark, local_settings, Registry([Items, Totals]))
    summary = run_pipeline(context, on_event=on_event)

    assert summary.ok, summary.failures()
    assert seen_when_items_finished == [{"silver.log_items", "results of silver.log_items"}]
    rows = logged(local_settings, summary.run_id)
    items, totals = rows["silver.log_items"], rows["gold.log_totals"]
    assert (items.status, items.rows_written, items.strategy) == ("ok", 2, "full")
    assert items.versions_read == {}, "it reads from outside the lake"
    assert items.version_written == 0
    assert totals.versions_read == {"silver.log_items": 0}
    assert (totals.rows_written, totals.version_written) == (1, 0)
    for row in (items, totals):
        assert row.started_at is not None and row.finished_at is not None
        assert row.started_at <= row.finished_at
        assert row.error_class is None and row.error_message is None
        assert row.logical_date == context.run_date


def test_a_failed_table_and_the_tables_it_skips_are_logged_with_why(
    spark: SparkSession, local_settings: Settings
) -> None:
    Items.rows = [(1, 2), (2, 500)]

    summary = run(spark, local_settings)

    rows = logged(local_settings, summary.run_id)
    failed, skipped = rows["silver.log_items"], rows["gold.log_totals"]
    assert (failed.status, failed.error_class) == ("failed", "RulesBroken")
    assert failed.error_message is not None and "quantity_plausible" in failed.error_message
    assert failed.rows_written is None and failed.version_written is None
    assert skipped.status == "skipped"
    assert skipped.note == "upstream log_items did not build"


def test_a_bug_is_logged_before_it_stops_the_run(
    spark: SparkSession, local_settings: Settings
) -> None:
    Items.bug = True

    with pytest.raises(KeyError):
        run(spark, local_settings)

    (row,) = read_run_log(local_settings)
    assert (row.table, row.status, row.error_class) == ("silver.log_items", "failed", "KeyError")


def test_runs_are_told_apart_and_kept(spark: SparkSession, local_settings: Settings) -> None:
    first = run(spark, local_settings)
    second = run(spark, local_settings)

    runs = [row.run_id for row in read_run_log(local_settings)]
    assert runs == [first.run_id] * 2 + [second.run_id] * 2
    totals = logged(local_settings, second.run_id)["gold.log_totals"]
    assert totals.versions_read == {"silver.log_items": 1}
    assert totals.status == "ok"
