"""Toy tables end to end: Table + Registry + run_pipeline on the real Lake in a fresh warehouse."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import ClassVar

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from etl.core import not_in_future
from etl.core.dataset import ETLDataSet, TableSpec
from etl.core.errors import LakeWriteError, ServiceUnavailableError
from etl.core.lake import Lake, WriteResult, Written
from etl.core.pipeline import new_context, run_pipeline
from etl.core.quality.results import RUN_ID, quarantine_uri
from etl.core.registry import Registry
from etl.core.settings import Settings
from etl.core.table import RunContext, Table

pytestmark = pytest.mark.spark

CUSTOMERS = [(1, "ada", "BR"), (2, "bo", "BR"), (3, "cy", "PE")]
CUSTOMER_SCHEMA = "customer_id int, name string, country string"


class ToyCustomers(Table):
    """One row per customer; a source table, so it reads from outside the lake."""

    spec = TableSpec(
        name="toy_customers",
        layer="bronze",
        grain="one row per customer",
        primary_keys=("customer_id",),
    )

    def extract(self) -> dict[str, DataFrame]:
        return {"raw": self.context.spark.createDataFrame(CUSTOMERS, CUSTOMER_SCHEMA)}

    def transform(self, **sources: DataFrame) -> DataFrame:
        return sources["raw"].withColumn("name", F.initcap("name"))


class ToyCustomersWithDuplicates(ToyCustomers):
    """The same table, but its source now repeats customer 1."""

    def extract(self) -> dict[str, DataFrame]:
        rows = [*CUSTOMERS, CUSTOMERS[0]]
        return {"raw": self.context.spark.createDataFrame(rows, CUSTOMER_SCHEMA)}


class ToyCustomersByCountry(Table):
    """One row per country."""

    spec = TableSpec(
        name="toy_customers_by_country",
        layer="gold",
        grain="one row per country",
        primary_keys=("country",),
        upstream=("toy_customers",),
    )

    def transform(self, toy_customers: DataFrame) -> DataFrame:
        return toy_customers.groupBy("country").agg(F.count(F.lit(1)).alias("customers"))


class ToyPriceSnapshots(Table):
    """One row per sku per snapshot date; each run adds the snapshot of its run date."""

    spec = TableSpec(
        name="toy_price_snapshots",
        layer="bronze",
        grain="one row per sku per snapshot date",
        primary_keys=("snapshot_date", "sku"),
        partition_by=("snapshot_date",),
        mode="overwrite_partitions",
    )

    def extract(self) -> dict[str, DataFrame]:
        day = self.context.run_date
        rows = [(day, sku, float(day.day)) for sku in ("a", "b")]
        schema = "snapshot_date date, sku string, price_usd double"
        return {"prices": self.context.spark.createDataFrame(rows, schema)}

    def transform(self, **sources: DataFrame) -> DataFrame:
        return sources["prices"]


class ToyTagged(Table):
    """One row per tag and number; partitioned by free text."""

    spec = TableSpec(
        name="toy_tagged",
        layer="silver",
        grain="one row per tag and number",
        primary_keys=("tag", "n"),
        partition_by=("tag",),
    )


def rows(dataset: ETLDataSet, *columns: str) -> list[tuple[object, ...]]:
    return sorted(tuple(row[c] for c in columns) for row in dataset.curr_data.collect())


def on_day(context: RunContext, day: int) -> RunContext:
    return dataclasses.replace(context, run_ts=datetime(2024, 1, day, 6, tzinfo=UTC))


def test_pipeline_builds_source_then_downstream(
    spark: SparkSession, local_settings: Settings
) -> None:
    context = new_context(spark, local_settings, Registry([ToyCustomersByCountry, ToyCustomers]))

    summary = run_pipeline(context)

    assert [(o.name, o.status, o.rows, o.version) for o in summary.outcomes] == [
        ("toy_customers", "ok", 3, 0),
        ("toy_customers_by_country", "ok", 2, 0),
    ], summary.failures()
    customers = ToyCustomers(context)
    assert customers.storage_path == f"{local_settings.warehouse_uri}/bronze/toy_customers"
    assert context.lake.exists(customers.storage_path)
    assert rows(customers.read(), "customer_id", "name") == [(1, "Ada"), (2, "Bo"), (3, "Cy")]
    by_country = ToyCustomersByCountry(context).read()
    assert rows(by_country, "country", "customers") == [("BR", 2), ("PE", 1)]


def test_downstream_reads_upstream_from_the_lake(
    spark: SparkSession, local_settings: Settings
) -> None:
    context = new_context(spark, local_settings, Registry([ToyCustomers, ToyCustomersByCountry]))
    in_lake = spark.createDataFrame([(7, "Zed", "CL")], CUSTOMER_SCHEMA)
    context.lake.write(
        in_lake,
        ToyCustomers(context).storage_path,
        mode="overwrite",
        partition_by=(),
        table_format="delta",
    )

    result = ToyCustomersByCountry(context).run()  # not toy_customers' transform: its stored data

    assert result.rows == 1
    assert rows(ToyCustomersByCountry(context).read(), "country", "customers") == [("CL", 1)]


def test_rerun_overwrites(spark: SparkSession, local_settings: Settings) -> None:
    context = new_context(spark, local_settings, Registry([ToyCustomers, ToyCustomersByCountry]))

    run_pipeline(context)
    summary = run_pipeline(context)

    assert [(o.status, o.version) for o in summary.outcomes] == [("ok", 1), ("ok", 1)]
    assert ToyCustomers(context).read().curr_data.count() == 3
    by_country = ToyCustomersByCountry(context).read()
    assert rows(by_country, "country", "customers") == [("BR", 2), ("PE", 1)]


def test_partitioned_snapshots(spark: SparkSession, local_settings: Settings) -> None:
    context = new_context(spark, local_settings, Registry([ToyPriceSnapshots]))
    first, second = date(2024, 1, 9), date(2024, 1, 10)

    assert run_pipeline(on_day(context, 9)).ok
    assert run_pipeline(on_day(context, 10)).ok

    table = ToyPriceSnapshots(context)
    columns = ("snapshot_date", "sku", "price_usd")
    day_one = [(first, "a", 9.0), (first, "b", 9.0)]
    day_two = [(second, "a", 10.0), (second, "b", 10.0)]
    assert rows(table.read(), *columns) == day_one + day_two, "the whole table"
    assert rows(table.read(partition_values={"snapshot_date": first}), *columns) == day_one
    assert rows(table.read(version=0), *columns) == day_one
    assert rows(table.read(version=1), *columns) == day_one + day_two
    assert rows(table.read(columns=["sku"]), "sku") == [("a",), ("a",), ("b",), ("b",)]


def test_rerunning_a_snapshot_replaces_only_its_partition(
    spark: SparkSession, local_settings: Settings
) -> None:
    context = new_context(spark, local_settings, Registry([ToyPriceSnapshots]))

    for day in (9, 10, 10):
        assert run_pipeline(on_day(context, day)).ok

    everything = ToyPriceSnapshots(context).read(version=2)
    assert (
        rows(everything, "snapshot_date") == [(date(2024, 1, 9),)] * 2 + [(date(2024, 1, 10),)] * 2
    )


TRICKY_VALUES = ["x' OR '1'='1", 'say "hi"', "a/b=c%20d", "1=1; DROP TABLE t --", "plain"]


def test_partition_values_are_bound_not_pasted(
    spark: SparkSession, local_settings: Settings
) -> None:
    context = new_context(spark, local_settings, Registry([ToyTagged]))
    table = ToyTagged(context)
    data = spark.createDataFrame(
        [(tag, n) for n, tag in enumerate(TRICKY_VALUES)], "tag string, n int"
    )
    context.lake.write(
        data, table.storage_path, mode="overwrite", partition_by=("tag",), table_format="delta"
    )

    for n, tag in enumerate(TRICKY_VALUES):
        assert rows(table.read(partition_values={"tag": tag}), "tag", "n") == [(tag, n)]
    assert table.read(partition_values={"tag": "x"}).curr_data.count() == 0

    # Replacing those partitions must retire their old files, not keep them beside the new.
    replacement = spark.createDataFrame([(t, -1) for t in TRICKY_VALUES], "tag string, n int")
    context.lake.write(
        replacement, table.storage_path, mode="overwrite_partitions", partition_by=("tag",)
    )
    for tag in TRICKY_VALUES:
        assert rows(table.read(partition_values={"tag": tag}), "tag", "n") == [(tag, -1)]


def test_failed_validation_keeps_the_previous_version(
    spark: SparkSession, local_settings: Settings
) -> None:
    good = new_context(spark, local_settings, Registry([ToyCustomers]))
    assert run_pipeline(good).ok

    summary = run_pipeline(
        new_context(spark, local_settings, Registry([ToyCustomersWithDuplicates]))
    )

    [failure] = summary.failures()
    assert failure.name == "toy_customers"
    assert "bronze.toy_customers" in failure.message
    assert "customer_id=1 (2x)" in failure.message
    table = ToyCustomers(good)
    assert rows(table.read(), "customer_id") == [(1,), (2,), (3,)]
    assert len(list(good.lake.history(table.storage_path))) == 1


def test_new_context_uses_the_real_lake(spark: SparkSession, local_settings: Settings) -> None:
    first = new_context(spark, local_settings, Registry())
    second = new_context(spark, local_settings, Registry())

    assert isinstance(first.lake, Lake)
    assert first.run_id != second.run_id
    assert first.run_ts.tzinfo is not None


class ToyVisits(Table):
    """One row per visit; a visit after the day being processed is quarantined."""

    spec = TableSpec(
        name="toy_visits",
        layer="bronze",
        grain="one row per visit",
        primary_keys=("visit_id",),
        rules=(not_in_future("visited_at"),),
    )

    def extract(self) -> dict[str, DataFrame]:
        visits = [
            (1, datetime(2024, 3, 1, 23, 59, 59)),
            (2, datetime(2024, 3, 2, 0, 0, 1)),
        ]
        schema = "visit_id int, visited_at timestamp"
        return {"raw": self.context.spark.createDataFrame(visits, schema)}

    def transform(self, **sources: DataFrame) -> DataFrame:
        return sources["raw"]


def test_time_rules_judge_against_the_end_of_the_logical_date(
    spark: SparkSession, local_settings: Settings
) -> None:
    context = new_context(
        spark, local_settings, Registry([ToyVisits]), logical_date=date(2024, 3, 1)
    )

    summary = run_pipeline(context)

    assert summary.ok, summary.failures()
    assert [(o.rows, o.rows_quarantined) for o in summary.outcomes] == [(1, 1)]
    assert rows(ToyVisits(context).read(), "visit_id") == [(1,)]


class FlakyVisits(ToyVisits):
    """Its writes fail, after its quarantined rows were appended: for a while (`away`, the
    object store not answering), or for good (`broken`)."""

    away: ClassVar[int] = 0
    broken: ClassVar[bool] = False

    def write(
        self, dataset: ETLDataSet, *, verify: Callable[[Written], None] | None = None
    ) -> WriteResult:
        def verify_then_fail(written: Written) -> None:
            assert verify is not None
            verify(written)
            if FlakyVisits.broken:
                raise LakeWriteError("the disk is full")
            if FlakyVisits.away:
                FlakyVisits.away -= 1
                raise ServiceUnavailableError("S3 at 127.0.0.1:8333 does not answer")

        return super().write(dataset, verify=verify_then_fail)


class UncheckedVisits(ToyVisits):
    """Overrides `write` and forgets to hand `verify` on."""

    def write(
        self, dataset: ETLDataSet, *, verify: Callable[[Written], None] | None = None
    ) -> WriteResult:
        return super().write(dataset)


def test_a_write_that_skips_the_rules_fails_its_table_saying_so(
    spark: SparkSession, local_settings: Settings
) -> None:
    context = new_context(
        spark, local_settings, Registry([UncheckedVisits]), logical_date=date(2024, 3, 1)
    )

    [outcome] = run_pipeline(context).outcomes

    assert outcome.status == "failed"
    assert "UncheckedVisits.write wrote bronze.toy_visits without handing `verify`" in (
        outcome.message
    )


def quarantined_visits(context: RunContext) -> list[tuple[object, ...]]:
    stored = context.lake.read(quarantine_uri(context.settings, "toy_visits"))
    return sorted(tuple(row) for row in stored.select("visit_id").collect())


def test_a_retried_build_quarantines_each_row_once(
    spark: SparkSession, local_settings: Settings
) -> None:
    FlakyVisits.away, FlakyVisits.broken = 1, False
    settings = local_settings.model_copy(update={"retry_wait_s": 0})
    context = new_context(spark, settings, Registry([FlakyVisits]), logical_date=date(2024, 3, 1))

    (outcome,) = run_pipeline(context).outcomes

    assert (outcome.status, outcome.retries) == ("ok", 1)
    assert (outcome.rows, outcome.rows_quarantined) == (1, 1)
    assert quarantined_visits(context) == [(2,)]
    assert any("deleted 1 quarantined rows of earlier attempts" in w for w in outcome.warnings)


def test_rows_set_aside_by_a_run_that_never_wrote_the_table_are_not_kept(
    spark: SparkSession, local_settings: Settings
) -> None:
    registry = Registry([FlakyVisits])
    FlakyVisits.away, FlakyVisits.broken = 0, True
    failed = new_context(spark, local_settings, registry, logical_date=date(2024, 3, 1))
    assert run_pipeline(failed).outcomes[0].status == "failed"
    assert quarantined_visits(failed) == [(2,)], "set aside before the write failed"

    FlakyVisits.broken = False
    again = new_context(spark, local_settings, registry, logical_date=date(2024, 3, 1))
    assert run_pipeline(again).ok

    stored = again.lake.read(quarantine_uri(local_settings, "toy_visits"))
    assert [tuple(row) for row in stored.select("visit_id", RUN_ID).collect()] == [
        (2, again.run_id)
    ]
