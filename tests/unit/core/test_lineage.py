"""Column lineage read off analyzed plans: toy transforms, each column's sources checked by
hand."""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from etl.core.dataset import TableSpec
from etl.core.lineage import (
    ColumnRef,
    ColumnSource,
    TableLineage,
    ancestry,
    table_graph,
    table_lineage,
)
from etl.core.registry import Registry
from etl.core.source_table import SourceTable, source_spec
from etl.core.table import Table

pytestmark = pytest.mark.spark

NO_CONTEXT: Any = None  # transforms read nothing from the run context


class Items(SourceTable):
    spec = source_spec("items", key="item_id")


class Shops(SourceTable):
    spec = source_spec("shops", key="shop_id")


class ShopRevenue(Table):
    spec = TableSpec(
        name="shop_revenue",
        layer="gold",
        grain="one row per shop",
        primary_keys=("shop",),
        upstream=("items", "shops"),
    )

    def transform(self, items: DataFrame, shops: DataFrame) -> DataFrame:
        return (
            items.where(F.col("status") == "paid")
            .join(shops, "shop_id")
            .groupBy(F.col("name").alias("shop"), "shop_id")
            .agg(
                F.sum(F.col("price") * F.col("quantity")).alias("revenue"),
                F.count("item_id").alias("items"),
            )
            .withColumn("label", F.upper("shop"))
        )


class LatestItems(Table):
    spec = TableSpec(
        name="latest_items",
        layer="silver",
        grain="one row per item",
        primary_keys=("item_id",),
        upstream=("items",),
    )

    def transform(self, items: DataFrame) -> DataFrame:
        newest = Window.partitionBy("item_id").orderBy(F.col("version").desc())
        ranked = items.withColumn("_rank", F.row_number().over(newest))
        previous = items.select("item_id", F.col("price").alias("old_price"))
        return (
            ranked.where(F.col("_rank") == 1)
            .join(previous, "item_id", "left")
            .select("item_id", F.col("price").alias("price_now"), "old_price")
            .unionByName(
                items.select("item_id", "price", F.lit(None).alias("old_price")).withColumnRenamed(
                    "price", "price_now"
                )
            )
        )


REGISTRY = Registry([Items, Shops, ShopRevenue, LatestItems])


def items(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [],
        "item_id long, shop_id long, price decimal(10,2), quantity int, status string, version int",
    )


def shops(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([], "shop_id long, name string")


def sources(lineage: TableLineage, column: str) -> set[tuple[str, str]]:
    return {(str(s.source), s.how) for s in lineage.columns[column]}


def test_each_column_names_its_sources_and_how(spark: SparkSession) -> None:
    lineage, output = table_lineage(
        ShopRevenue(NO_CONTEXT), {"items": items(spark), "shops": shops(spark)}, REGISTRY
    )

    assert (
        list(lineage.columns) == output.columns == ["shop", "shop_id", "revenue", "items", "label"]
    )
    assert sources(lineage, "shop") == {("bronze.shops.name", "renamed")}
    assert sources(lineage, "shop_id") == {
        ("bronze.items.shop_id", "copied"),
        ("bronze.shops.shop_id", "join key"),
    }
    assert sources(lineage, "revenue") == {
        ("bronze.items.price", "aggregated"),
        ("bronze.items.quantity", "aggregated"),
    }
    assert sources(lineage, "items") == {("bronze.items.item_id", "aggregated")}
    assert sources(lineage, "label") == {("bronze.shops.name", "computed")}
    assert lineage.joins == (
        (ColumnRef("bronze.items", "shop_id"), ColumnRef("bronze.shops", "shop_id")),
    )
    assert lineage.filters == (ColumnRef("bronze.items", "status"),)


def test_a_table_read_twice_and_a_union_trace_to_the_one_input(spark: SparkSession) -> None:
    lineage, _ = table_lineage(LatestItems(NO_CONTEXT), {"items": items(spark)}, REGISTRY)

    assert sources(lineage, "price_now") == {("bronze.items.price", "renamed")}
    assert sources(lineage, "old_price") == {("bronze.items.price", "renamed")}
    assert ("bronze.items.item_id", "copied") in sources(lineage, "item_id")
    assert ColumnRef("bronze.items", "version") in lineage.filters, "the rank chose the rows"


def test_the_table_graph_runs_from_the_database_through_every_layer() -> None:
    edges = table_graph(REGISTRY, "shop")

    assert ("postgres:shop.items", "bronze.items") in edges
    assert ("bronze.shops", "gold.shop_revenue") in edges
    around = table_graph(REGISTRY, "shop", around="latest_items")
    assert set(around) == {
        ("postgres:shop.items", "bronze.items"),
        ("bronze.items", "silver.latest_items"),
    }


def test_ancestry_keeps_only_the_columns_a_table_comes_from() -> None:
    made = TableLineage(
        table="silver.b",
        columns={
            "x": (ColumnSource(ColumnRef("bronze.a", "x"), "copied"),),
            "y": (ColumnSource(ColumnRef("bronze.a", "y"), "computed"),),
        },
    )
    top = TableLineage(
        table="gold.c", columns={"z": (ColumnSource(ColumnRef("silver.b", "y"), "aggregated"),)}
    )
    source = TableLineage(table="bronze.a", columns={"x": (), "y": (), "unused": ()})

    kept = ancestry([source, made, top], "gold.c")

    assert [(t.table, list(t.columns)) for t in kept] == [
        ("bronze.a", ["y"]),
        ("silver.b", ["y"]),
        ("gold.c", ["z"]),
    ]
