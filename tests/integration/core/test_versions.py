"""A table's versions with real Spark builds and Delta commits: history; restore, after which
the table holds the earlier rows and marks and the tables downstream rebuild whole; and
maintenance, which never deletes the files of a version a table downstream still compares
with."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.core.dataset import TableSpec
from etl.core.errors import ConfigError, LogDamagedError
from etl.core.incremental import MARK_CONSUMED
from etl.core.lake.storage import local_path
from etl.core.pipeline import RunSummary, new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.rollback import restore_table, table_versions
from etl.core.settings import Settings
from etl.core.table import Table
from etl.core.upkeep import maintain_tables

pytestmark = pytest.mark.spark


class Items(Table):
    """One row per item; the test sets the rows each run reads."""

    rows: ClassVar[list[tuple[int, int]]] = []
    spec = TableSpec(
        name="rb_items",
        layer="silver",
        grain="one row per item",
        primary_keys=("item_id",),
        zorder_by=("quantity",),
    )

    def extract(self) -> dict[str, DataFrame]:
        return {"raw": self.context.spark.createDataFrame(Items.rows, "item_id int, quantity int")}

    def transform(self, **sources: DataFrame) -> DataFrame:
        return sources["raw"]


class Totals(Table):
    """One row: the sum of the quantities."""

    spec = TableSpec(
        name="rb_totals",
        layer="gold",
        grain="one row",
        primary_keys=("quantity",),
        upstream=("rb_items",),
    )

    def transform(self, rb_items: DataFrame) -> DataFrame:
        return rb_items.selectExpr("sum(quantity) AS quantity")


REGISTRY = Registry([Items, Totals])


def run(
    spark: SparkSession, settings: Settings, rows: list[tuple[int, int]], *targets: str
) -> RunSummary:
    Items.rows = rows
    summary = run_pipeline(new_context(spark, settings, REGISTRY), targets)
    assert summary.ok, summary.failures()
    return summary


def rows(spark: SparkSession, settings: Settings, table: type[Table]) -> list[tuple]:
    context = new_context(spark, settings, REGISTRY)
    return sorted(tuple(r) for r in table(context).read().curr_data.collect())


def test_a_restored_table_has_the_earlier_rows_and_its_downstream_rebuilds(
    spark: SparkSession, local_settings: Settings
) -> None:
    first = run(spark, local_settings, [(1, 2), (2, 3)])
    run(spark, local_settings, [(1, 2), (2, 3), (3, 1000)])  # a bad load

    done = restore_table(local_settings, REGISTRY, "silver.rb_items", version=0)

    assert (done.restored.restored, done.restored.version) == (0, 2)
    assert done.downstream == ("gold.rb_totals",)
    assert rows(spark, local_settings, Items) == [(1, 2), (2, 3)]
    context = new_context(spark, local_settings, REGISTRY)
    plan = Totals(context).plan()
    assert plan.mode == "full"
    assert plan.reason == "silver.rb_items was restored to an earlier version"
    versions = table_versions(local_settings, REGISTRY, "rb_items", last=5)
    assert [(v.version, v.operation) for v in versions] == [
        (2, "RESTORE"),
        (1, "overwrite"),
        (0, "overwrite"),
    ]
    assert versions[2].run_id == first.run_id
    assert [v.rows for v in versions] == [2, 3, 2]


def test_a_restored_table_reads_again_what_its_version_had_read(
    spark: SparkSession, local_settings: Settings
) -> None:
    run(spark, local_settings, [(1, 2)])
    run(spark, local_settings, [(1, 2), (2, 5)])

    restore_table(local_settings, REGISTRY, "rb_totals", version=0)

    context = new_context(spark, local_settings, REGISTRY)
    consumed = MARK_CONSUMED.format("silver.rb_items")
    assert context.lake.marks(Totals(context).storage_path, [consumed]) == {consumed: 0}
    assert rows(spark, local_settings, Totals) == [(2,)]
    plan = Totals(context).plan()
    assert plan.mode == "full" and "silver.rb_items is at version" in plan.reason, "it catches up"


def test_a_version_whose_files_were_vacuumed_is_refused(
    spark: SparkSession, local_settings: Settings
) -> None:
    run(spark, local_settings, [(1, 2)])
    run(spark, local_settings, [(1, 3)])
    folder = Path(local_path(local_settings.table_uri("silver", "rb_items")))
    for data_file in folder.glob("*.parquet"):
        data_file.unlink()

    with pytest.raises(ConfigError, match="vacuumed"):
        restore_table(local_settings, REGISTRY, "rb_items", version=0)


def test_maintenance_compacts_and_vacuums_but_keeps_what_downstream_reads(
    spark: SparkSession, local_settings: Settings
) -> None:
    run(spark, local_settings, [(1, 2), (2, 3)])
    for quantity in (4, 5, 6):
        run(spark, local_settings, [(n, quantity) for n in range(1, 50)], "rb_items")

    (done,) = maintain_tables(
        local_settings, REGISTRY, ["rb_items"], retention=timedelta(0), force=True
    )

    assert done.maintained is not None
    assert done.maintained.files_vacuumed > 0, "the files of versions 1 and 2 are gone"
    assert done.maintained.after.live_files == 1
    assert rows(spark, local_settings, Items) == [(n, 6) for n in range(1, 50)]
    context = new_context(spark, local_settings, REGISTRY)
    read_by_totals = context.lake.read(Items(context).storage_path, version=0)
    assert sorted(tuple(r) for r in read_by_totals.collect()) == [(1, 2), (2, 3)]


def test_a_retention_under_a_day_needs_force(spark: SparkSession, local_settings: Settings) -> None:
    run(spark, local_settings, [(1, 2)])

    with pytest.raises(ConfigError, match="--force"):
        list(maintain_tables(local_settings, REGISTRY, retention=timedelta(hours=1)))


def cut_short(settings: Settings, version: int) -> Path:
    """The table's log entry for `version`, cut in the middle as a failing disk would."""
    folder = Path(local_path(settings.table_uri("silver", "rb_items")))
    entry = folder / "_delta_log" / f"{version:020d}.json"
    text = entry.read_bytes()
    entry.write_bytes(text[: len(text) // 2])
    return folder


def test_a_damaged_log_entry_fails_its_table_and_says_how_to_restore(
    spark: SparkSession, local_settings: Settings
) -> None:
    run(spark, local_settings, [(1, 2), (2, 3)])
    run(spark, local_settings, [(1, 2), (2, 3), (3, 4)])
    folder = cut_short(local_settings, 1)

    summary = run_pipeline(new_context(spark, local_settings, REGISTRY))

    items, totals = summary.outcomes
    assert (items.status, items.error_class) == ("failed", "LogDamagedError")
    assert "The Delta log of silver.rb_items" in items.message
    assert "version 1 cannot be read" in items.message
    assert "`rainforest restore silver.rb_items --version 0`" in items.message
    assert totals.status == "skipped"
    with pytest.raises(LogDamagedError):
        table_versions(local_settings, REGISTRY, "rb_items", last=5)

    done = restore_table(local_settings, REGISTRY, "silver.rb_items", version=0)

    assert (done.restored.restored, done.restored.version) == (0, 1)
    assert (folder / "_damaged_log" / f"{1:020d}.json").is_file(), "kept for a person to see"
    assert rows(spark, local_settings, Items) == [(1, 2), (2, 3)]
    after = run(spark, local_settings, [(1, 2), (2, 3), (3, 4)])
    assert [o.status for o in after.outcomes] == ["ok", "ok"]
    assert rows(spark, local_settings, Totals) == [(9,)]


def test_a_restore_past_the_damage_is_refused(
    spark: SparkSession, local_settings: Settings
) -> None:
    run(spark, local_settings, [(1, 2)])
    run(spark, local_settings, [(1, 3)])
    run(spark, local_settings, [(1, 4)])
    cut_short(local_settings, 2)

    with pytest.raises(ConfigError, match="Version 2 is not before the damage"):
        restore_table(local_settings, REGISTRY, "rb_items", version=2)
    done = restore_table(local_settings, REGISTRY, "rb_items", version=0)
    assert (done.restored.restored, done.restored.version) == (0, 2)
    assert rows(spark, local_settings, Items) == [(1, 2)]
