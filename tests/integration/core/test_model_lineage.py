"""Column lineage of the rainforest model, against expectations written by hand from its
table files, and `rainforest lineage` in each of its formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from datagen import SCHEMA
from etl.core.lineage import ColumnRef, TableLineage, model_lineage
from etl.core.pipeline import new_context, run_pipeline
from etl.core.registry import Registry
from etl.core.source_table import SourceTable
from tests.e2e.reports import pipeline_settings, upstream_at
from tests.fixtures.postgres import generated_shop

pytestmark = [pytest.mark.spark, pytest.mark.postgres]

REGISTRY = Registry.discover()
RAINFOREST = Path(sys.executable).parent / "rainforest"


@pytest.fixture(scope="module")
def bronze_built(
    postgres_dsn: str, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, dict[str, TableLineage]]]:
    """A warehouse whose source tables are built (lineage reads their schemas), and the
    model's lineage."""
    folder = tmp_path_factory.mktemp("lineage")
    settings = pipeline_settings(folder)
    with generated_shop(postgres_dsn) as dsn:
        context = new_context(spark, settings, REGISTRY, upstream=upstream_at(dsn))
        sources = [t.spec.name for t in REGISTRY if issubclass(t, SourceTable)]
        assert run_pipeline(context, sources).ok
    found = model_lineage(new_context(spark, settings, REGISTRY), REGISTRY, SCHEMA)
    yield folder, {lineage.table: lineage for lineage in found}


def how(found: dict[str, TableLineage], column: str) -> dict[str, str]:
    """The sources of `layer.table.column`, as {source: how}."""
    table, _, name = column.rpartition(".")
    return {str(source.source): source.how for source in found[table].columns[name]}


def test_revenue_traces_back_to_the_order_items_quantity_and_price(
    bronze_built: tuple[Path, dict[str, TableLineage]],
) -> None:
    _, found = bronze_built

    assert how(found, "gold.daily_category_metrics.mean_revenue") == {
        "silver.fact_order_items.revenue_usd": "aggregated"
    }
    assert how(found, "silver.fact_order_items.revenue_usd") == {
        "bronze.orderitem.quantity": "computed",
        "bronze.orderitem.base_price": "computed",
    }
    assert how(found, "bronze.orderitem.quantity") == {
        f"postgres:{SCHEMA}.orderitem.quantity": "copied"
    }
    assert how(found, "gold.daily_category_metrics.category") == {
        "silver.dim_category.category_name": "renamed"
    }


def test_a_buyers_email_on_wide_orders_comes_from_appuser(
    bronze_built: tuple[Path, dict[str, TableLineage]],
) -> None:
    _, found = bronze_built

    assert how(found, "gold.wide_orders.email") == {"silver.dim_buyer.email": "copied"}
    assert how(found, "silver.dim_buyer.email") == {"bronze.appuser.email": "copied"}
    assert how(found, "bronze.appuser.email") == {f"postgres:{SCHEMA}.appuser.email": "copied"}


def test_join_keys_and_aggregates_of_wide_orders(
    bronze_built: tuple[Path, dict[str, TableLineage]],
) -> None:
    _, found = bronze_built

    assert how(found, "gold.wide_orders.buyer_id") == {
        "silver.fact_orders.buyer_id": "copied",
        "silver.dim_buyer.buyer_id": "join key",
    }
    assert (
        ColumnRef("silver.dim_buyer", "buyer_id"),
        ColumnRef("silver.fact_orders", "buyer_id"),
    ) in found["gold.wide_orders"].joins
    assert how(found, "gold.wide_orders.item_count") == {
        "silver.fact_order_items.orderitem_id": "aggregated"
    }
    assert (
        ColumnRef("silver.fact_orders", "order_date") in found["gold.daily_order_metrics"].filters
    )


def test_the_command_prints_every_format(
    bronze_built: tuple[Path, dict[str, TableLineage]],
) -> None:
    folder, _ = bronze_built

    graph = json.loads(_lineage(folder, "--format", "json"))
    columns = json.loads(_lineage(folder, "daily_order_metrics", "--columns", "--format", "json"))

    upstream = {entry["table"]: entry["upstream"] for entry in graph}
    assert upstream["gold.daily_order_metrics"] == ["silver.fact_orders"]
    assert upstream["bronze.orders"] == [f"postgres:{SCHEMA}.orders"]
    assert [entry["table"] for entry in columns][-2:] == [
        "silver.fact_orders",
        "gold.daily_order_metrics",
    ]
    assert _lineage(folder, "--format", "mermaid").startswith("flowchart LR")
    dot = _lineage(folder, "orders", "--format", "dot")
    assert dot.startswith("digraph lineage {") and '"bronze.orders" -> "silver.fact_orders";' in dot


def _lineage(folder: Path, *arguments: str) -> str:
    env = {**os.environ, "RAINFOREST_WAREHOUSE": str(folder / "lakehouse")}
    done = subprocess.run(
        [str(RAINFOREST), "lineage", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout
