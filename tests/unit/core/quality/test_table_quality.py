"""Rules through the table framework: a fail rule stops the table and its downstream, leaving
earlier versions readable; drop rules quarantine; every outcome reaches ops/dq_results."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from etl.core import between
from etl.core.dataset import TableSpec
from etl.core.pipeline import RunSummary, new_context, run_pipeline
from etl.core.quality.results import data_docs_folder, quarantine_uri, results_uri
from etl.core.registry import Registry
from etl.core.settings import Settings
from etl.core.table import RunContext, Table

pytestmark = pytest.mark.spark

SCHEMA = "item_id int, quantity int"


class ToyItems(Table):
    """One row per item; its rows are set by the test."""

    rows: ClassVar[list[tuple[int, int]]] = []
    spec = TableSpec(
        name="toy_items",
        layer="silver",
        grain="one row per item",
        primary_keys=("item_id",),
        rules=(
            between("quantity", 1, name="quantity_at_least_one"),
            between("quantity", max_value=100, severity="fail", name="quantity_plausible"),
        ),
    )

    def extract(self) -> dict[str, DataFrame]:
        return {"raw": self.context.spark.createDataFrame(ToyItems.rows, SCHEMA)}

    def transform(self, **sources: DataFrame) -> DataFrame:
        return sources["raw"]


class ToyTotals(Table):
    """One row."""

    spec = TableSpec(
        name="toy_totals",
        layer="gold",
        grain="one row",
        primary_keys=("items",),
        upstream=("toy_items",),
    )

    def transform(self, toy_items: DataFrame) -> DataFrame:
        return toy_items.selectExpr("count(*) AS items")


def run(spark: SparkSession, settings: Settings, rows: list[tuple[int, int]]) -> RunSummary:
    ToyItems.rows = rows
    context = new_context(spark, settings, Registry([ToyItems, ToyTotals]))
    return run_pipeline(context)


def read(spark: SparkSession, settings: Settings, layer: str, name: str) -> list[dict]:
    context = new_context(spark, settings, Registry([ToyItems, ToyTotals]))
    return [r.asDict() for r in context.lake.read(settings.table_uri(layer, name)).collect()]


def test_drop_quarantines_and_counts_rows(spark: SparkSession, local_settings: Settings) -> None:
    summary = run(spark, local_settings, [(1, 2), (2, 0), (3, 5)])

    assert summary.ok, summary.failures()
    items = summary.outcomes[0]
    assert (items.rows_in, items.rows, items.rows_quarantined) == (3, 2, 1)
    assert sorted(r["item_id"] for r in read(spark, local_settings, "silver", "toy_items")) == [
        1,
        3,
    ]
    quarantined = DeltaTable(quarantine_uri(local_settings, "toy_items")).to_pyarrow_table()
    assert quarantined.column("item_id").to_pylist() == [2]
    assert quarantined.column("failed_rules").to_pylist() == [["quantity_at_least_one"]]
    assert quarantined.column("dq_run_id").to_pylist() == [summary.run_id]
    results = DeltaTable(results_uri(local_settings)).to_pyarrow_table().to_pylist()
    assert {(r["table"], r["rule"], r["success"]) for r in results} >= {
        ("silver.toy_items", "quantity_at_least_one", False),
        ("silver.toy_items", "quantity_plausible", True),
        ("silver.toy_items", "primary_key_unique", True),
    }
    assert summary.data_docs == data_docs_folder(local_settings) / "index.html"
    assert summary.data_docs.is_file()


def test_fail_stops_the_table_and_its_downstream_and_keeps_earlier_versions(
    spark: SparkSession, local_settings: Settings
) -> None:
    assert run(spark, local_settings, [(1, 2), (2, 3)]).ok

    summary = run(spark, local_settings, [(1, 2), (2, 500), (3, 7000)])

    items, totals = summary.outcomes
    assert items.status == "failed"
    assert "silver.toy_items" in items.message and "quantity_plausible" in items.message
    assert "quantity=500" in items.message
    assert totals.status == "skipped"
    assert read(spark, local_settings, "silver", "toy_items") == [
        {"item_id": 1, "quantity": 2},
        {"item_id": 2, "quantity": 3},
    ]
    assert read(spark, local_settings, "gold", "toy_totals") == [{"items": 2}]
    failures = [
        r
        for r in DeltaTable(results_uri(local_settings)).to_pyarrow_table().to_pylist()
        if r["run_id"] == summary.run_id and not r["success"]
    ]
    assert [(r["rule"], r["unexpected_count"]) for r in failures] == [("quantity_plausible", 2)]


def test_checks_can_be_switched_off_for_benchmarks(
    spark: SparkSession, local_settings: Settings
) -> None:
    ToyItems.rows = [(1, 0), (1, 7000)]
    context: RunContext = dataclasses.replace(
        new_context(spark, local_settings, Registry([ToyItems])), check_quality=False
    )

    summary = run_pipeline(context)

    assert summary.ok and summary.data_docs is None
    assert summary.outcomes[0].rows == 2
